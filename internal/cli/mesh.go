package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	gatewayv1 "github.com/pdfqa/pdfqa/gen/pdfqa/gateway/v1"
	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/services/gateway"
	"github.com/pdfqa/pdfqa/services/trainer"
)

func init() {
	flagCommand("up", "run the whole mesh in one process (embedded etcd, five services, REST on :8080)", upCommand)
	register("serve", "run one service against an external etcd: pdfqa serve <service> --etcd ADDR", runServe)
	flagCommand("status", "list every registered service instance and its health", statusCommand)
}

// upFlags are the settings of `pdfqa up`.
type upFlags struct {
	c                  config.Common
	httpAddr, etcdAddr string
	insecure, tls      bool
	restTLS            string
}

func (f *upFlags) bind(fs *flag.FlagSet, r *config.Reader) {
	f.c.BindFrom(fs, r)
	r.StringFlag(fs, &f.httpAddr, config.Setting{Section: "up", Env: "PDFQA_HTTP", Flag: "http", Doc: "REST gateway listen address"}, "127.0.0.1:8080")
	fs.StringVar(&f.etcdAddr, "etcd-listen", "127.0.0.1:0", "embedded etcd client address (port 0 picks a free one)")
	fs.BoolVar(&f.insecure, "insecure-no-auth", false, "no API keys, no tenants: anyone reaching a port reads and deletes everything (local development only)")
	fs.BoolVar(&f.tls, "tls", false, "mutual TLS between the services and to etcd, with certificates made into <data>/tls on first start (automatic with --tls-dir)")
	r.StringFlag(fs, &f.restTLS, restTLSSetting("up"), "1")
	r.BindFlag(fs, trainer.LeaseSetting)
}

// restTLSSetting turns HTTPS on the REST gateway on or off (section is the
// command's).
func restTLSSetting(section string) config.Setting {
	return config.Setting{Section: section, Env: "PDFQA_REST_TLS", Flag: "rest-tls",
		Doc: "`0|1`: 1 serves REST over HTTPS with the gateway's certificate when the mesh runs TLS (--tls, --tls-dir or PDFQA_TLS_DIR; a plain HTTP request on the port is answered 400), 0 over plain HTTP (e.g. behind a TLS-terminating proxy); no effect without TLS"}
}

// parseRESTTLS reads --rest-tls.
func parseRESTTLS(v string) (bool, error) {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return false, usageErr("--rest-tls / PDFQA_REST_TLS: %q is not 1 or 0", v)
	}
	return on, nil
}

// serveFlags are the settings of `pdfqa serve`.
type serveFlags struct {
	c                           config.Common
	addr, metricsAddr, httpAddr string
	restTLS                     string
	ttl                         int64
	insecure                    bool
}

func (f *serveFlags) bind(fs *flag.FlagSet, r *config.Reader) {
	f.c.BindFrom(fs, r)
	set := func(env, flag, doc string) config.Setting {
		return config.Setting{Section: "serve", Env: env, Flag: flag, Doc: doc}
	}
	r.StringFlag(fs, &f.addr, set("PDFQA_ADDR", "addr", "gRPC listen address"), "127.0.0.1:0")
	r.StringFlag(fs, &f.metricsAddr, set("PDFQA_METRICS", "metrics", "/metrics listen address"), "127.0.0.1:0")
	r.StringFlag(fs, &f.httpAddr, set("PDFQA_HTTP", "http", "gateway only: REST listen address (unset: no REST)"), "")
	r.StringFlag(fs, &f.restTLS, restTLSSetting("serve"), "1")
	fs.Int64Var(&f.ttl, "lease-ttl", 10, "etcd registration lease in seconds")
	fs.BoolVar(&f.insecure, "insecure-no-auth", false, "no API keys, no tenants (local development only); otherwise "+mesh.ServiceTokenEnv+" must be set, the same on every service")
	r.BindFlag(fs, trainer.LeaseSetting)
}

func upCommand(fs *flag.FlagSet) body {
	var f upFlags
	env := config.Environment()
	f.bind(fs, env)
	return func(ctx context.Context, c *call) error {
		restTLS, err := parseRESTTLS(f.restTLS)
		if err != nil {
			return err
		}
		return mesh.Up(ctx, mesh.UpOptions{
			Env:  env,
			Data: f.c.Data, Store: f.c.Store, Cache: f.c.Cache, HTTPAddr: f.httpAddr, EtcdAddr: f.etcdAddr, LogLevel: f.c.LogLevel, Insecure: f.insecure,
			TLS: f.tls, TLSDir: f.c.TLSDir, RESTTLS: restTLS,
			Ready: func(m *mesh.Mesh) {
				fmt.Fprintf(c.stdout, "pdfqa mesh up: REST %s (OpenAPI at /openapi.json), etcd %s, data %s\n",
					m.Gateway().RESTURL(), m.Etcd.Endpoint(), f.c.Data)
				switch {
				case m.AdminKeyCreated:
					fmt.Fprintf(c.stdout, "admin API key (shown once; kept in %s, which pdfqa commands read):\n  %s\n",
						filepath.Join(f.c.Data, mesh.AdminKeyFile), m.AdminKey)
				case m.AdminKey != "":
					fmt.Fprintf(c.stdout, "admin API key in %s\n", filepath.Join(f.c.Data, mesh.AdminKeyFile))
				}
				for _, i := range m.Instances {
					fmt.Fprintf(c.stdout, "  %-10s grpc %s  metrics http://%s/metrics\n", i.Name, i.Server.Addr(), i.Server.MetricsAddr())
				}
			},
		})
	}
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return usageErr("name a service: one of %v", mesh.Names())
	}
	name := args[0]
	fs := newFlags("serve "+name, stderr)
	var f serveFlags
	env := config.Environment()
	f.bind(fs, env)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c := f.c
	restTLS, err := parseRESTTLS(f.restTLS)
	if err != nil {
		return err
	}
	cli, err := mesh.EtcdClient(c.EtcdEndpoints(), c.TLSDir, name)
	if err != nil {
		return err
	}
	defer cli.Close()
	inst, err := mesh.Start(ctx, name, mesh.RunOptions{TLSDir: c.TLSDir, RESTTLS: restTLS, Env: env,
		Addr: f.addr, MetricsAddr: f.metricsAddr, HTTPAddr: f.httpAddr, Etcd: cli,
		Data: c.Data, Store: c.Store, Cache: c.Cache, LogLevel: c.LogLevel, LeaseTTL: f.ttl,
		Security: mesh.Security{Insecure: f.insecure, ServiceToken: os.Getenv(mesh.ServiceTokenEnv), Limits: mesh.ReadLimits(config.Environment())},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s serving grpc %s metrics %s\n", name, inst.Server.Addr(), inst.Server.MetricsAddr())
	if u := inst.RESTURL(); u != "" {
		fmt.Fprintf(stdout, "%s serving REST %s\n", name, u)
	}
	return inst.Wait()
}

func statusCommand(fs *flag.FlagSet) body {
	var m meshFlags
	fs.StringVar(&m.etcd, "etcd", config.Env("PDFQA_ETCD", ""), "etcd endpoints (default: the running 'pdfqa up' in --data)")
	fs.StringVar(&m.data, "data", config.DefaultData(), "data directory of a running 'pdfqa up'")
	fs.StringVar(&m.tlsDir, "tls-dir", config.Env("PDFQA_TLS_DIR", ""), "certificates of a mesh that runs mutual TLS; status presents its 'client' identity to etcd and to each instance (env PDFQA_TLS_DIR; default: --data's tls/ folder when 'pdfqa up --tls' made one)")
	return func(ctx context.Context, c *call) error {
		id, err := m.identity()
		if err != nil {
			return err
		}
		ep := mesh.FindEtcd(m.etcd, m.data)
		ecfg := clientv3.Config{Endpoints: splitList(ep), DialTimeout: 3 * time.Second}
		if id != nil {
			ecfg.TLS = id.EtcdConfig()
		}
		cli, err := clientv3.New(ecfg)
		if err != nil {
			return err
		}
		defer cli.Close()
		// The probes' connections: mutual TLS with the identity, each instance
		// checked to be certified as the service it registered as.
		f, err := client.NewFactory(nil, nil)
		if err != nil {
			return err
		}
		defer f.Close()
		if id != nil {
			f.TLS(id)
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		svc := gateway.New(cli, f, nil, mesh.Registry())
		defer svc.Close()
		st, err := svc.GetStatus(ctx, &gatewayv1.GetStatusRequest{})
		if err != nil {
			return fmt.Errorf("etcd %s: %w", ep, err)
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SERVICE\tADDRESS\tHEALTH\tLATENCY")
		for _, in := range st.Instances {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.1fms\n", in.Service, in.Address, health(in.Status), in.LatencyMs)
		}
		tw.Flush()
		if len(st.MissingServices) > 0 {
			return fmt.Errorf("no serving instance of: %v", st.MissingServices)
		}
		return nil
	}
}

func health(s gatewayv1.ServingStatus) string {
	switch s {
	case gatewayv1.ServingStatus_SERVING_STATUS_SERVING:
		return "SERVING"
	case gatewayv1.ServingStatus_SERVING_STATUS_NOT_SERVING:
		return "NOT_SERVING"
	default:
		return "UNREACHABLE"
	}
}
