package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/auth"
	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/config"
)

// meshFlags are the flags every client command uses to find the mesh.
type meshFlags struct {
	etcd, data, addr, key string
}

func (m *meshFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&m.etcd, "etcd", config.Env("PDFQA_ETCD", ""), "etcd endpoints (default: the running 'pdfqa up' in --data)")
	fs.StringVar(&m.data, "data", config.DefaultData(), "data directory of a running 'pdfqa up'")
	fs.StringVar(&m.addr, "addr", config.Env("PDFQA_ADDR", ""), "dial this service address directly instead of resolving through etcd")
	fs.StringVar(&m.key, "key", config.Env("PDFQA_API_KEY", ""), "API key (env PDFQA_API_KEY; default: the admin key 'pdfqa up' keeps in --data)")
}

// apiKey is the key the commands present: --key, else the data directory's.
func (m *meshFlags) apiKey() string {
	if m.key != "" {
		return m.key
	}
	return mesh.ReadKeyFile(m.data)
}

// meshClient is the one way CLI commands reach services: a connection
// factory (breakers, deadlines, retries) resolving through etcd, or dialing
// one address directly.
type meshClient struct {
	etcd    *clientv3.Client
	ownEtcd bool
	f       *client.Factory
	addr    string
}

// connect finds the mesh: a direct address, or etcd from the flags or the
// data directory of a running `pdfqa up`, checked to answer.
func (m *meshFlags) connect() (*meshClient, error) {
	if m.addr != "" {
		return newMeshClient(nil, m.addr, m.apiKey())
	}
	ep := mesh.FindEtcd(m.etcd, m.data)
	cli, err := clientv3.New(clientv3.Config{Endpoints: splitList(ep), DialTimeout: 3 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("no mesh reachable at etcd %s (start one with `pdfqa up`, or pass --etcd/--addr): %w", ep, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_, err = cli.Status(ctx, splitList(ep)[0])
	cancel()
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("no mesh running: etcd %s does not answer (start one with `pdfqa up`, or pass --etcd/--addr): %w", ep, err)
	}
	mc, err := newMeshClient(cli, "", m.apiKey())
	if err != nil {
		cli.Close()
		return nil, err
	}
	mc.ownEtcd = true
	return mc, nil
}

// newMeshClient wraps an etcd client (e.g. an in-process mesh's) or an
// address; its calls present key ("": none).
func newMeshClient(cli *clientv3.Client, addr, key string) (*meshClient, error) {
	f, err := client.NewFactory(cli, nil)
	if err != nil {
		return nil, err
	}
	if key != "" {
		f.Use(auth.KeyClient(key))
	}
	return &meshClient{etcd: cli, f: f, addr: addr}, nil
}

// conn returns the connection to the service that serves desc, with the
// registry's deadlines for calls from the command line.
func (c *meshClient) conn(desc *grpc.ServiceDesc) (*grpc.ClientConn, error) {
	return c.connAt(desc, "")
}

// connAt is conn dialing addr ("": --addr when one was given, else etcd).
func (c *meshClient) connAt(desc *grpc.ServiceDesc, addr string) (*grpc.ClientConn, error) {
	s, err := mesh.Registry().Of(desc)
	if err != nil {
		return nil, err
	}
	d := s.CLIDownstream()
	if d.Address = addr; d.Address == "" {
		d.Address = c.addr
	}
	return c.f.Conn(d)
}

// retrieval is the retrieval client.
func (c *meshClient) retrieval() (retrievalv1.RetrievalServiceClient, error) {
	conn, err := c.conn(&retrievalv1.RetrievalService_ServiceDesc)
	if err != nil {
		return nil, err
	}
	return retrievalv1.NewRetrievalServiceClient(conn), nil
}

// agents is the agents client.
func (c *meshClient) agents() (agentsv1.AgentsServiceClient, error) {
	conn, err := c.conn(&agentsv1.AgentsService_ServiceDesc)
	if err != nil {
		return nil, err
	}
	return agentsv1.NewAgentsServiceClient(conn), nil
}

func (c *meshClient) Close() {
	_ = c.f.Close()
	if c.ownEtcd {
		_ = c.etcd.Close()
	}
}
