package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/registry"
	"github.com/pdfqa/pdfqa/platform/tlsconf"
	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
)

// meshFlags are the flags every client command uses to find the mesh.
type meshFlags struct {
	etcd, data, addr, key, tlsDir string
}

func (m *meshFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&m.etcd, "etcd", config.Env("PDFQA_ETCD", ""), "etcd endpoints (default: the running 'pdfqa up' in --data)")
	fs.StringVar(&m.data, "data", config.DefaultData(), "data directory of a running 'pdfqa up'")
	fs.StringVar(&m.addr, "addr", config.Env("PDFQA_ADDR", ""), "dial this service address directly instead of resolving through etcd")
	fs.StringVar(&m.key, "key", config.Env("PDFQA_API_KEY", ""), "API key (env PDFQA_API_KEY; default: the admin key 'pdfqa up' keeps in --data)")
	fs.StringVar(&m.tlsDir, "tls-dir", config.Env("PDFQA_TLS_DIR", ""), "certificates of a mesh that runs mutual TLS; the command presents its 'client' identity (env PDFQA_TLS_DIR; default: --data's tls/ folder when 'pdfqa up --tls' made one)")
}

// identity is the certificate the commands present to a mesh that runs
// mutual TLS: the "client" one of --tls-dir, else of the data directory's
// tls/ folder when `pdfqa up --tls` made it; nil for a plaintext mesh.
func (m *meshFlags) identity() (*tlsconf.Identity, error) {
	dir := m.tlsDir
	if dir == "" {
		if d := filepath.Join(m.data, mesh.TLSDirName); m.data != "" && tlsconf.Exists(d) {
			dir = d
		}
	}
	if dir == "" {
		return nil, nil
	}
	id, err := tlsconf.Load(dir, mesh.ClientIdentity, nil)
	if err != nil {
		return nil, fmt.Errorf("TLS identity %q in %s: %w", mesh.ClientIdentity, dir, err)
	}
	return id, nil
}

// apiKey is the key the commands present: --key, else the data directory's.
func (m *meshFlags) apiKey() string {
	if m.key != "" || m.data == "" {
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
	return m.dialTo(ctx, m.target())
}

// dialTo is sdk with target instead of the flags' own, presenting the
// flags' key and TLS identity.
func (m *meshFlags) dialTo(ctx context.Context, target string) (*pdfqa.Client, error) {
	id, err := m.identity()
	if err != nil {
		return nil, err
	}
	var opts []pdfqa.Option
	if id != nil {
		opts = append(opts, pdfqa.WithIdentity(id))
	}
	return dial(ctx, target, m.apiKey(), opts...)
}

// dial connects the Go SDK to target ("etcd://HOST:PORT" or a service
// address), presenting key ("": none), with the mesh table's deadlines for
// calls from the command line.
func dial(ctx context.Context, target, key string, more ...pdfqa.Option) (*pdfqa.Client, error) {
	reg := mesh.Registry()
	opts := append([]pdfqa.Option{pdfqa.WithRegistry(reg), pdfqa.WithAPIKey(key)}, more...)
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
