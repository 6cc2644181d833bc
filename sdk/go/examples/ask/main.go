// Command ask is the SDK's runnable example: it ingests PDFs into a
// collection with a progress line per step, then asks a question and prints
// the streamed answer and its citations.
//
//	go run ./examples/ask --target etcd://127.0.0.1:2379 --collection demo --pdf a.pdf "question"
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
)

func main() {
	target := flag.String("target", "etcd://127.0.0.1:2379", "the mesh: etcd://HOST:PORT or HOST:PORT")
	coll := flag.String("collection", "demo", "collection")
	pdf := flag.String("pdf", "", "a PDF to ingest first (optional)")
	flag.Parse()
	q := strings.Join(flag.Args(), " ")
	if err := run(context.Background(), *target, *coll, *pdf, q); err != nil {
		fmt.Fprintln(os.Stderr, "ask:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, target, coll, pdf, q string) error {
	c, err := pdfqa.Dial(ctx, target, pdfqa.WithAPIKey(os.Getenv("PDFQA_API_KEY")))
	if err != nil {
		return err
	}
	defer c.Close()
	if pdf != "" {
		_, err := c.Ingest(ctx, coll, func(p pdfqa.Progress) {
			fmt.Fprintf(os.Stderr, "%s: %s %d/%d %s\n", p.Name, p.Stage, p.Done, p.Total, p.Message)
		}, pdf)
		if err != nil {
			return err
		}
	}
	for ev, err := range c.Ask(ctx, coll, q, pdfqa.SingleShot()) {
		if err != nil {
			return err
		}
		switch ev := ev.(type) {
		case pdfqa.AnswerDelta:
			fmt.Print(ev.Text)
		case pdfqa.RunDone:
			fmt.Println()
			for _, cit := range ev.Run.GetCitations() {
				fmt.Printf("  [%s p.%d] %s\n", cit.GetDocument(), cit.GetPage(), cit.GetQuote())
			}
		}
	}
	return nil
}
