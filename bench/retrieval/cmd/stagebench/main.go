// Command stagebench measures the retrieval ingestion stages one at a time
// on a folder of PDFs, in pages per second: parse (PDFium in wazero, with
// and without the per-call interrupt, and in worker processes as the
// retrieval engine does by default), OCR (every page rendered and
// recognised by Tesseract: parse with OCRAlways), chunk, and embed (the
// chunks through an in-process inference service running the llama.cpp
// engine from the cache).
//
//	go run ./bench/retrieval/cmd/stagebench [-pdfs DIR] [-ocr-pages N]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/pdfqa/pdfqa/bench/internal/benchutil"
	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/platform/wordpiece"
	"github.com/pdfqa/pdfqa/services/inference"
	"github.com/pdfqa/pdfqa/services/retrieval/chunk"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
)

func main() {
	parse.RunWorkerIfRequested() // the process parser re-execs this binary
	benchutil.Main("stagebench", run)
}

func run() error {
	dir := flag.String("pdfs", "", "folder of PDFs (default: the shared dev set beside the repository, $PDFQA_SHARED/data/dev/earnings-calls)")
	ocrPages := flag.Int("ocr-pages", 6, "pages to OCR (from the first PDF)")
	cache := flag.String("cache", config.DefaultCache(), "pdfqa cache")
	stages := flag.String("stages", "parse,ocr,chunk,embed", "stages to run")
	rounds := flag.Int("parse-rounds", 1, "times to run the parse variants, interleaved (the machine may be noisy)")
	flag.Parse()
	if *dir == "" {
		var err error
		if *dir, err = testenv.DataPath("dev", "earnings-calls"); err != nil {
			return err
		}
	}
	want := map[string]bool{}
	for _, s := range splitComma(*stages) {
		want[s] = true
	}
	pdfs, _ := filepath.Glob(filepath.Join(*dir, "*.pdf"))
	sort.Strings(pdfs)
	var datas [][]byte
	for _, p := range pdfs {
		d, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		datas = append(datas, d)
	}
	ctx := context.Background()
	report := func(stage string, pages int, d time.Duration, note string) {
		fmt.Printf("%-28s %5d pages %8.2fs %8.1f pages/s  %s\n", stage, pages, d.Seconds(), float64(pages)/d.Seconds(), note)
	}
	var docs []*parse.Document
	parseAll := func(newParser func() (parse.Parser, error)) (time.Duration, int, error) {
		p, err := newParser()
		if err != nil {
			return 0, 0, err
		}
		defer p.Close()
		// warm: the compiled module is cached; one parse per CPU
		// instantiates it (and starts every worker of the process parser)
		warm := make(chan error, runtime.NumCPU())
		for range runtime.NumCPU() {
			go func() {
				_, err := p.Parse(ctx, datas[0], parse.Options{})
				warm <- err
			}()
		}
		for range runtime.NumCPU() {
			if err := <-warm; err != nil {
				return 0, 0, err
			}
		}
		out := make([]*parse.Document, len(datas))
		errs := make(chan error, len(datas))
		start := time.Now()
		for i := range datas {
			go func() {
				d, err := p.Parse(ctx, datas[i], parse.Options{})
				out[i] = d
				errs <- err
			}()
		}
		for range datas {
			if err := <-errs; err != nil {
				return 0, 0, err
			}
		}
		took := time.Since(start)
		pages := 0
		for _, d := range out {
			pages += len(d.Pages)
		}
		docs = out
		return took, pages, nil
	}
	if want["parse"] || want["chunk"] || want["embed"] {
		for r := 0; r < *rounds; r++ {
			for _, v := range []struct {
				name string
				new  func() (parse.Parser, error)
			}{
				{"parse (interrupt=true)", func() (parse.Parser, error) { return parse.New(parse.Config{}) }},
				{"parse (interrupt=false)", func() (parse.Parser, error) { return parse.New(parse.Config{DisableInterrupt: true}) }},
				{"parse (worker processes)", func() (parse.Parser, error) { return parse.NewProcess(parse.Config{}) }},
			} {
				took, pages, err := parseAll(v.new)
				if err != nil {
					return err
				}
				report(v.name, pages, took, fmt.Sprintf("%d PDFs, all CPUs", len(datas)))
			}
		}
	}
	if want["ocr"] {
		p, err := parse.New(parse.Config{DisableInterrupt: true})
		if err != nil {
			return err
		}
		if !p.TesseractAvailable() {
			fmt.Println("ocr: tesseract not installed")
		} else {
			start := time.Now()
			d, err := p.Parse(ctx, datas[0], parse.Options{OCR: parse.OCRAlways, MaxPages: *ocrPages})
			if err != nil {
				return err
			}
			report("ocr (render 300dpi+tesseract)", len(d.Pages), time.Since(start), "OCRAlways on "+filepath.Base(pdfs[0]))
		}
		p.Close()
	}
	count := chunk.WordCount
	if path := wordpiece.Find(*cache); path != "" {
		if t, err := wordpiece.Load(path); err == nil {
			count = t.Count
		}
	}
	var texts []string
	pages := 0
	if want["chunk"] || want["embed"] {
		start := time.Now()
		for i, d := range docs {
			for _, c := range chunk.Split(d, fmt.Sprint(i), filepath.Base(pdfs[i]), chunk.Options{Count: count}, nil) {
				t := c.Text
				if c.Heading != "" && (len(t) < len(c.Heading) || t[:len(c.Heading)] != c.Heading) {
					t = c.Heading + "\n" + t
				}
				texts = append(texts, t)
			}
			pages += len(d.Pages)
		}
		report("chunk", pages, time.Since(start), fmt.Sprintf("%d chunks", len(texts)))
	}
	if want["embed"] {
		bin := inference.FindLlamaServer(*cache)
		if bin == "" {
			fmt.Println("embed: no llama-server in the cache")
			return nil
		}
		cfg := inference.FromEnv(*cache)
		cfg.ChatSlots, cfg.ChatCtx = 1, 2048
		tmp, _ := os.MkdirTemp("", "stagebench")
		defer os.RemoveAll(tmp)
		svc, err := inference.New(inference.Options{Config: cfg, DataDir: tmp, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			return err
		}
		defer svc.Close()
		call := func(ts []string) error {
			_, err := svc.Embed(ctx, &inferencev1.EmbedRequest{Texts: ts})
			return err
		}
		for deadline := time.Now().Add(3 * time.Minute); call([]string{"warm up"}) != nil; time.Sleep(time.Second) {
			if time.Now().After(deadline) {
				return fmt.Errorf("embeddings never became available")
			}
		}
		start := time.Now()
		for i := 0; i < len(texts); i += embed.BatchSize {
			if err := call(texts[i:min(i+embed.BatchSize, len(texts))]); err != nil {
				return err
			}
		}
		took := time.Since(start)
		report("embed (llama.cpp MiniLM f16)", pages, took, fmt.Sprintf("%d chunks, %.1f chunks/s, batch %d, %d threads", len(texts), float64(len(texts))/took.Seconds(), embed.BatchSize, cfg.Threads))
	}
	return nil
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
