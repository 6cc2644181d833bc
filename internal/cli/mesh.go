package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	gatewayv1 "github.com/pdfqa/pdfqa/gen/pdfqa/gateway/v1"
	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/services/gateway"
)

func init() {
	register("up", "run the whole mesh in one process (embedded etcd, five services, REST on :8080)", runUp)
	register("serve", "run one service against an external etcd: pdfqa serve <service> --etcd ADDR", runServe)
	register("status", "list every registered service instance and its health", runStatus)
}

func runUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("up", stderr)
	var c config.Common
	c.Bind(fs)
	httpAddr := fs.String("http", config.Env("PDFQA_HTTP", "127.0.0.1:8080"), "REST gateway listen address (env PDFQA_HTTP)")
	etcdAddr := fs.String("etcd-listen", "127.0.0.1:0", "embedded etcd client address (port 0 picks a free one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return mesh.Up(ctx, mesh.UpOptions{
		Data: c.Data, Cache: c.Cache, HTTPAddr: *httpAddr, EtcdAddr: *etcdAddr, LogLevel: c.LogLevel,
		Ready: func(m *mesh.Mesh) {
			fmt.Fprintf(stdout, "pdfqa mesh up: REST http://%s (OpenAPI at /openapi.json), etcd %s, data %s\n",
				m.Gateway().HTTPAddr, m.Etcd.Endpoint(), c.Data)
			for _, i := range m.Instances {
				fmt.Fprintf(stdout, "  %-10s grpc %s  metrics http://%s/metrics\n", i.Name, i.Server.Addr(), i.Server.MetricsAddr())
			}
		},
	})
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return usageErr("name a service: one of %v", mesh.Names())
	}
	name := args[0]
	fs := newFlags("serve "+name, stderr)
	var c config.Common
	c.Bind(fs)
	addr := fs.String("addr", config.Env("PDFQA_ADDR", "127.0.0.1:0"), "gRPC listen address (env PDFQA_ADDR)")
	metricsAddr := fs.String("metrics", config.Env("PDFQA_METRICS", "127.0.0.1:0"), "/metrics listen address (env PDFQA_METRICS)")
	httpAddr := fs.String("http", config.Env("PDFQA_HTTP", ""), "gateway only: REST listen address")
	ttl := fs.Int64("lease-ttl", 10, "etcd registration lease in seconds")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.EtcdEndpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer cli.Close()
	inst, err := mesh.Start(ctx, name, mesh.RunOptions{
		Addr: *addr, MetricsAddr: *metricsAddr, HTTPAddr: *httpAddr, Etcd: cli,
		Data: c.Data, Cache: c.Cache, LogLevel: c.LogLevel, LeaseTTL: *ttl,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s serving grpc %s metrics %s\n", name, inst.Server.Addr(), inst.Server.MetricsAddr())
	return inst.Wait()
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", stderr)
	etcd := fs.String("etcd", config.Env("PDFQA_ETCD", ""), "etcd endpoints (default: the running 'pdfqa up' in --data)")
	data := fs.String("data", config.DefaultData(), "data directory of a running 'pdfqa up'")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ep := mesh.FindEtcd(*etcd, *data)
	cli, err := clientv3.New(clientv3.Config{Endpoints: splitList(ep), DialTimeout: 3 * time.Second})
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	svc := gateway.New(cli, nil, nil, mesh.Registry())
	defer svc.Close()
	st, err := svc.GetStatus(ctx, &gatewayv1.GetStatusRequest{})
	if err != nil {
		return fmt.Errorf("etcd %s: %w", ep, err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
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
