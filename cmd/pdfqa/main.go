// Command pdfqa runs the pdfqa mesh (or any one of its services) and talks to it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pdfqa/pdfqa/internal/cli"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
)

func main() {
	parse.RunWorkerIfRequested() // a parse worker child of the retrieval service
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
