package cli

import (
	"context"
	"io"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pdfqa/pdfqa/services/gateway/mcptools"
)

func init() {
	register("mcp", "serve pdfqa's tools (search, ask, list_collections, ingest) to an MCP host over stdio", runMCP)
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
