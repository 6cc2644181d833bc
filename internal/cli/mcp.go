package cli

import (
	"context"
	"io"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/registry"
	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
	"github.com/pdfqa/pdfqa/services/gateway/mcptools"
)

func init() {
	register("mcp", "serve pdfqa's tools (search, ask, list_collections, ingest) to an MCP host over stdio", runMCP)
}

// sdk is the one client the commands use: the Go SDK over the mesh the
// flags name, with the mesh table's deadlines for calls from the command line.
func (m *meshFlags) sdk(ctx context.Context) (*pdfqa.Client, error) {
	target := m.addr
	if target == "" {
		target = "etcd://" + mesh.FindEtcd(m.etcd, m.data)
	}
	reg := mesh.Registry()
	opts := []pdfqa.Option{pdfqa.WithRegistry(reg), pdfqa.WithAPIKey(m.apiKey())}
	for _, s := range reg {
		d := s.CLIDownstream()
		opts = append(opts, pdfqa.WithTimeouts(s.Name, registry.Timeouts{Unary: d.UnaryTimeout, Stream: d.StreamTimeout}))
	}
	return pdfqa.Dial(ctx, target, opts...)
}

func runMCP(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlags("mcp", stderr)
	var m meshFlags
	m.bind(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := m.sdk(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	srv := mcptools.NewServer(mcptools.Options{Backend: c, LocalFiles: true})
	// stdout is the protocol's; nothing else may write there.
	return srv.Run(ctx, &mcp.StdioTransport{})
}
