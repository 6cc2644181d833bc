package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/auth"
)

func init() {
	register("keys", "manage API keys: keys create --tenant T --role reader|writer|admin, keys list, keys revoke ID", runKeys)
}

// keyStore opens the mesh's key store (its etcd: an operator's command).
func keyStore(m *meshFlags) (auth.Store, func(), error) {
	ep := mesh.FindEtcd(m.etcd, m.data)
	cli, err := clientv3.New(clientv3.Config{Endpoints: splitList(ep), DialTimeout: 3 * time.Second})
	if err != nil {
		return nil, nil, fmt.Errorf("no mesh reachable at etcd %s: %w", ep, err)
	}
	return auth.Etcd{Client: cli}, func() { _ = cli.Close() }, nil
}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("keys create|list|revoke")
	}
	sub, args := args[0], args[1:]
	fs := newFlags("keys "+sub, stderr)
	var m meshFlags
	m.bind(fs)
	tenant := fs.String("tenant", auth.DefaultTenant, "tenant the key belongs to")
	role := fs.String("role", "reader", "reader, writer or admin")
	name := fs.String("name", "", "a note naming the key's holder")
	expires := fs.Duration("expires", 0, "the key expires after this long (0: never)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch sub {
	case "create":
		r, err := auth.ParseRole(*role)
		if err != nil {
			return usageErr("%v", err)
		}
		secret, k, err := auth.NewKey(*tenant, r, *name, *expires, time.Now())
		if err != nil {
			return usageErr("%v", err)
		}
		st, done, err := keyStore(&m)
		if err != nil {
			return err
		}
		defer done()
		if err := st.Put(ctx, k); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "key %s for tenant %s, role %s%s; it is shown once, only its hash is stored:\n",
			k.ID, k.Tenant, k.Role, expiry(k))
		fmt.Fprintln(stdout, secret)
		return nil
	case "list":
		st, done, err := keyStore(&m)
		if err != nil {
			return err
		}
		defer done()
		ks, err := st.List(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTENANT\tROLE\tSTATE\tCREATED\tEXPIRES\tNAME")
		for _, k := range ks {
			exp := "never"
			if !k.Expires.IsZero() {
				exp = k.Expires.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Tenant, k.Role, k.State(now), k.Created.Format(time.RFC3339), exp, k.Name)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return usageErr("keys revoke ID")
		}
		st, done, err := keyStore(&m)
		if err != nil {
			return err
		}
		defer done()
		k, err := auth.Revoke(ctx, st, fs.Arg(0), time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked key %s (tenant %s, role %s); services refuse it within seconds\n", k.ID, k.Tenant, k.Role)
		return nil
	}
	return usageErr("keys create|list|revoke, not %q", sub)
}

func expiry(k auth.Key) string {
	if k.Expires.IsZero() {
		return ", never expires"
	}
	return ", expires " + k.Expires.Format(time.RFC3339)
}
