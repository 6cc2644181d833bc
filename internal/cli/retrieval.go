package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
)

func init() {
	meshCommand("ingest", "upload PDFs into a collection and follow their ingestion: pdfqa ingest --collection NAME PATH...", ingestCommand)
	meshCommand("search", "search a collection: pdfqa search --collection NAME [--top-k N] \"query\"", searchCommand)
}

func pdfPaths(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".pdf") {
				out = append(out, p)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

func bar(done, total int) string {
	const w = 20
	if total <= 0 {
		return "[" + strings.Repeat(" ", w) + "]"
	}
	n := done * w / total
	return "[" + strings.Repeat("#", min(n, w)) + strings.Repeat(".", w-min(n, w)) + "]"
}

func ingestCommand(fs *flag.FlagSet) body {
	coll := fs.String("collection", "default", "collection to upload into (created if missing)")
	password := fs.String("password", "", "password for encrypted PDFs")
	return func(ctx context.Context, c *call) error {
		if len(c.args) == 0 {
			return usageErr("name PDF files or directories to ingest")
		}
		paths, err := pdfPaths(c.args)
		if err != nil {
			return err
		}
		if len(paths) == 0 {
			return errors.New("no PDF files found")
		}
		cl, err := c.connect(ctx)
		if err != nil {
			return err
		}
		type result struct{ name, state, detail, card string }
		var results []result
		failed := 0
		for i, p := range paths {
			name := filepath.Base(p)
			// Streamed from the file, never held whole.
			f, err := os.Open(p)
			if err != nil {
				results = append(results, result{name, "FAILED", err.Error(), ""})
				failed++
				continue
			}
			up, err := cl.UploadStream(ctx, *coll, name, f, &pdfqa.UploadOptions{Password: *password})
			f.Close()
			if err != nil {
				results = append(results, result{name, "FAILED", "upload: " + err.Error(), ""})
				failed++
				continue
			}
			doc := up.Document
			prefix := fmt.Sprintf("[%d/%d] %s", i+1, len(paths), truncateLine(name, 40))
			if up.Duplicate {
				fmt.Fprintf(c.stderr, "%s: already in %q (%s)\n", prefix, *coll, doc.State)
			}
			final, err := follow(ctx, cl, *coll, doc.Id, prefix, c.stderr)
			if err != nil {
				results = append(results, result{name, "FAILED", "watch: " + err.Error(), ""})
				failed++
				continue
			}
			if final.State != pdfqa.DocumentReady {
				failed++
				results = append(results, result{name, "FAILED", final.Error, ""})
				continue
			}
			detail := fmt.Sprintf("%d pages, %d chunks", final.PageCount, final.ChunkCount)
			if len(final.OcrPages) > 0 {
				detail += ", OCR pages " + parse.PageRanges(final.OcrPages, 8) // bounded: "1-40, 52 … and 9 more"
			}
			if len(final.Warnings) > 0 {
				detail += fmt.Sprintf(", %d warnings (first: %s)", len(final.Warnings), truncateLine(final.Warnings[0], 80))
			}
			results = append(results, result{name, "READY", detail, final.GetCard().GetSummary()})
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DOCUMENT\tSTATE\tDETAIL\tCARD")
		for _, r := range results {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.name, r.state, r.detail, r.card)
		}
		tw.Flush()
		if failed > 0 {
			return fmt.Errorf("%d of %d documents failed", failed, len(paths))
		}
		return nil
	}
}

// follow draws one progress line per document until READY/FAILED and
// returns the final document.
func follow(ctx context.Context, c *pdfqa.Client, coll, id, prefix string, stderr io.Writer) (*pdfqa.Document, error) {
	width := 0
	doc, err := c.Follow(ctx, coll, id, func(p pdfqa.Progress) {
		line := fmt.Sprintf("%s %-5s %s %d/%d %s", prefix, p.Stage, bar(p.Done, p.Total), p.Done, p.Total, truncateLine(p.Message, 60))
		pad := max(0, width-len(line))
		width = len(line)
		fmt.Fprintf(stderr, "\r%s%s", line, strings.Repeat(" ", pad))
	})
	fmt.Fprintln(stderr)
	return doc, err
}

func searchCommand(fs *flag.FlagSet) body {
	coll := fs.String("collection", "default", "collection to search")
	topK := fs.Int("top-k", 5, "number of passages")
	mode := fs.String("mode", "hybrid", "hybrid, keyword or vector")
	rerank := fs.Bool("rerank", false, "rerank the fused candidates lexically")
	return func(ctx context.Context, c *call) error {
		q := strings.Join(c.args, " ")
		if strings.TrimSpace(q) == "" {
			return usageErr("give a query")
		}
		modes := map[string]pdfqa.SearchMode{"hybrid": pdfqa.Hybrid, "keyword": pdfqa.Keyword, "vector": pdfqa.Vector}
		md, ok := modes[*mode]
		if !ok {
			return usageErr("--mode must be hybrid, keyword or vector")
		}
		cl, err := c.connect(ctx)
		if err != nil {
			return err
		}
		passages, err := cl.Search(ctx, *coll, q, &pdfqa.SearchOptions{TopK: *topK, Mode: md, Rerank: *rerank})
		if err != nil {
			return err
		}
		if len(passages) == 0 {
			fmt.Fprintln(c.stdout, "no passages found")
			return nil
		}
		for i, p := range passages {
			pages := fmt.Sprintf("p.%d", p.Page)
			if p.PageEnd > p.Page {
				pages = fmt.Sprintf("pp.%d-%d", p.Page, p.PageEnd)
			}
			fmt.Fprintf(c.stdout, "%d. %s %s  score %.4f  %s\n", i+1, p.DocumentName, pages, p.Score, strings.TrimPrefix(p.Kind.String(), "PASSAGE_KIND_"))
			if s := p.GetDocumentCard().GetSummary(); s != "" {
				fmt.Fprintf(c.stdout, "   ◆ %s\n", s)
			}
			if p.Heading != "" {
				fmt.Fprintf(c.stdout, "   § %s\n", p.Heading)
			}
			fmt.Fprintf(c.stdout, "   %s\n\n", truncateLine(p.Text, 400))
		}
		return nil
	}
}
