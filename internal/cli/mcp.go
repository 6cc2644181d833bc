package cli

import (
	"context"
	"flag"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pdfqa/pdfqa/services/gateway/mcptools"
)

func init() {
	meshCommand("mcp", "serve pdfqa's tools (search, ask, list_collections, ingest) to an MCP host over stdio", mcpCommand)
}

func mcpCommand(*flag.FlagSet) body {
	return func(ctx context.Context, c *call) error {
		cl, err := c.connect(ctx)
		if err != nil {
			return err
		}
		srv := mcptools.NewServer(mcptools.Options{Backend: cl, LocalFiles: true})
		// stdout is the protocol's; nothing else may write there.
		return srv.Run(ctx, &mcp.StdioTransport{})
	}
}
