package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/registry"
	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
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

// target is where the flags say the mesh is: --addr, else etcd from
// --etcd or the data directory of a running `pdfqa up`.
func (m *meshFlags) target() string {
	if m.addr != "" {
		return m.addr
	}
	return "etcd://" + mesh.FindEtcd(m.etcd, m.data)
}

// sdk is the one client the commands use: the Go SDK over the mesh the
// flags name.
func (m *meshFlags) sdk(ctx context.Context) (*pdfqa.Client, error) {
	return dial(ctx, m.target(), m.apiKey())
}

// dial connects the Go SDK to target ("etcd://HOST:PORT" or a service
// address), presenting key ("": none), with the mesh table's deadlines for
// calls from the command line.
func dial(ctx context.Context, target, key string) (*pdfqa.Client, error) {
	reg := mesh.Registry()
	opts := []pdfqa.Option{pdfqa.WithRegistry(reg), pdfqa.WithAPIKey(key)}
	for _, s := range reg {
		d := s.CLIDownstream()
		opts = append(opts, pdfqa.WithTimeouts(s.Name, registry.Timeouts{Unary: d.UnaryTimeout, Stream: d.StreamTimeout}))
	}
	c, err := pdfqa.Dial(ctx, target, opts...)
	if errors.Is(err, pdfqa.ErrUnavailable) {
		return nil, fmt.Errorf("no mesh running at %s (start one with `pdfqa up`, or pass --etcd/--addr): %w", target, err)
	}
	return c, err
}
