// Command gen writes the sample PDFs (package samples) into a directory,
// by default samples/ at the repository root:
//
//	go run ./internal/samples/gen [DIR]
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/pdfqa/pdfqa/internal/samples"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
)

func main() {
	dir := "samples"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	p, err := parse.New(parse.Config{Instances: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer p.Close()
	if err := samples.Write(context.Background(), p, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("wrote", dir)
}
