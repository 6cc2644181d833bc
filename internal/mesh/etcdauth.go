package mesh

import (
	"context"
	"fmt"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pdfqa/pdfqa/platform/discovery"
	"github.com/pdfqa/pdfqa/services/inference"
)

// etcdGrant is one key range an etcd role may write.
type etcdGrant struct{ role, prefix string }

// etcdWrites are the key prefixes each service identity may write in the
// embedded etcd with TLS: its own registrations, and for inference the
// adapter set. Every identity reads every key; the client identity (the
// commands, `pdfqa up` itself) is etcd's root and writes the API keys.
func etcdWrites() []etcdGrant {
	var out []etcdGrant
	for _, n := range Registry().Names() {
		out = append(out, etcdGrant{n, discovery.Prefix + n + "/"})
	}
	return append(out, etcdGrant{"inference", inference.DefaultAdapterPrefix})
}

// ensureEtcdAuth turns on etcd's auth in the embedded TLS etcd, each
// client certificate's CN its user: a user and a role per service, read
// on everything and write on etcdWrites only; the client identity holds
// the root role. It is idempotent (each start adds what the registry
// gained) and runs as the client identity, which may manage users before
// auth is on and is root after.
func ensureEtcdAuth(endpoint, tlsDir string) error {
	cli, err := EtcdClient([]string{endpoint}, tlsDir, ClientIdentity)
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	roles, err := cli.RoleList(ctx)
	if err != nil {
		return fmt.Errorf("etcd auth: %w", err)
	}
	users, err := cli.UserList(ctx)
	if err != nil {
		return fmt.Errorf("etcd auth: %w", err)
	}
	addUser := func(name, role string) error {
		if !slices.Contains(users.Users, name) {
			if _, err := cli.UserAddWithOptions(ctx, name, "", &clientv3.UserAddOptions{NoPassword: true}); err != nil {
				return err
			}
		}
		_, err := cli.UserGrantRole(ctx, name, role)
		return err
	}
	for _, n := range Registry().Names() {
		if !slices.Contains(roles.Roles, n) {
			if _, err := cli.RoleAdd(ctx, n); err != nil {
				return fmt.Errorf("etcd auth: role %s: %w", n, err)
			}
		}
		// Read on every key: "\x00" to "\x00" is the whole key space.
		if _, err := cli.RoleGrantPermission(ctx, n, "\x00", "\x00", clientv3.PermissionType(clientv3.PermRead)); err != nil {
			return fmt.Errorf("etcd auth: role %s: %w", n, err)
		}
		if err := addUser(n, n); err != nil {
			return fmt.Errorf("etcd auth: user %s: %w", n, err)
		}
	}
	for _, g := range etcdWrites() {
		if _, err := cli.RoleGrantPermission(ctx, g.role, g.prefix, clientv3.GetPrefixRangeEnd(g.prefix), clientv3.PermissionType(clientv3.PermReadWrite)); err != nil {
			return fmt.Errorf("etcd auth: role %s on %s: %w", g.role, g.prefix, err)
		}
	}
	// etcd enables auth only with a root user; nobody holds a certificate
	// naming it, so the client identity is root too.
	for _, u := range []string{"root", ClientIdentity} {
		if err := addUser(u, "root"); err != nil {
			return fmt.Errorf("etcd auth: user %s: %w", u, err)
		}
	}
	st, err := cli.AuthStatus(ctx)
	if err != nil {
		return fmt.Errorf("etcd auth: %w", err)
	}
	if !st.Enabled {
		if _, err := cli.AuthEnable(ctx); err != nil {
			return fmt.Errorf("etcd auth: enable: %w", err)
		}
	}
	return nil
}
