package cli

import (
	"flag"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/config"
)

// meshFlags are the flags every client command uses to find the mesh.
type meshFlags struct {
	etcd, data, addr string
}

func (m *meshFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&m.etcd, "etcd", config.Env("PDFQA_ETCD", ""), "etcd endpoints (default: the running `pdfqa up` in --data)")
	fs.StringVar(&m.data, "data", config.DefaultData(), "data directory of a running `pdfqa up`")
	fs.StringVar(&m.addr, "addr", config.Env("PDFQA_ADDR", ""), "dial this service address directly instead of resolving through etcd")
}

// meshClient is a connection factory to a running mesh.
type meshClient struct {
	etcd *clientv3.Client
	f    *client.Factory
	addr string
}

// connect finds the mesh (etcd from flags or the data dir, or a direct address).
func (m *meshFlags) connect() (*meshClient, error) {
	if m.addr != "" {
		f, err := client.NewFactory(nil, nil)
		if err != nil {
			return nil, err
		}
		return &meshClient{f: f, addr: m.addr}, nil
	}
	ep := mesh.FindEtcd(m.etcd, m.data)
	cli, err := clientv3.New(clientv3.Config{Endpoints: splitList(ep), DialTimeout: 3 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w (is `pdfqa up` running?)", ep, err)
	}
	f, err := client.NewFactory(cli, nil)
	if err != nil {
		cli.Close()
		return nil, err
	}
	return &meshClient{etcd: cli, f: f}, nil
}

// conn returns the connection to a service.
func (c *meshClient) conn(service, grpcService string) (*grpc.ClientConn, error) {
	return c.f.Conn(client.Downstream{Service: service, GRPCService: grpcService, Address: c.addr})
}

func (c *meshClient) Close() {
	_ = c.f.Close()
	if c.etcd != nil {
		_ = c.etcd.Close()
	}
}
