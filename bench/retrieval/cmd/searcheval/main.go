// Command searcheval measures the evidence recall of the retrieval service's
// search alone: it ingests a folder of PDFs into a fresh collection with the
// real retrieval engine (parse, chunk, embed, index), runs every question
// of a questions CSV through Search (top 10) in each mode, and writes one
// results JSONL per mode in the format of tools/score_qa.py (passages only,
// empty answers).
//
// Embeddings come from the inference service: -inference ADDR dials a
// running one over gRPC; by default an inference service is started in
// this process when the llama.cpp engine is built in the cache (else
// keyword-only, and the vector/hybrid modes are skipped).
//
//	go run ./bench/retrieval/cmd/searcheval -out /tmp/se
//	python3 tools/score_qa.py questions.csv /tmp/se/hybrid.jsonl
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pdfqa/pdfqa/bench/internal/benchutil"
	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/internal/evalfile"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/inference"
	"github.com/pdfqa/pdfqa/services/retrieval"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// Summary is written to OUT/summary.json.
type Summary struct {
	PDFs          int                `json:"pdfs"`
	Pages         int                `json:"pages"`
	Chunks        int                `json:"chunks"`
	MeanTokens    float64            `json:"mean_chunk_tokens"`
	MeanChars     float64            `json:"mean_chunk_chars"`
	IngestSeconds float64            `json:"ingest_seconds"`
	RefineSeconds float64            `json:"refine_seconds,omitempty"`
	PagesPerSec   float64            `json:"pages_per_second"`
	Embedder      string             `json:"embedder"`
	Workers       int                `json:"workers"`
	Modes         []string           `json:"modes"`
	SearchP50MS   map[string]float64 `json:"search_p50_ms"`
	Warnings      []string           `json:"warnings,omitempty"`
}

// rpcEmbedder embeds through an inference service (in process or over gRPC).
type rpcEmbedder struct {
	call  func(context.Context, *inferencev1.EmbedRequest) (*inferencev1.EmbedResponse, error)
	model string
}

func (r rpcEmbedder) ModelName() string { return r.model }

func (r rpcEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for i := 0; i < len(texts); i += embed.BatchSize {
		batch := texts[i:min(i+embed.BatchSize, len(texts))]
		resp, err := r.call(ctx, &inferencev1.EmbedRequest{Texts: batch, Model: r.model})
		if err != nil {
			return nil, fmt.Errorf("%w: %v", embed.ErrUnavailable, err)
		}
		for _, e := range resp.Embeddings {
			out = append(out, e.Values)
		}
	}
	return out, nil
}

func main() {
	parse.RunWorkerIfRequested() // the engine parses in re-exec'd worker processes
	benchutil.Main("searcheval", run)
}

func run() error {
	dir := flag.String("pdfs", "", "folder of PDFs (default: the shared dev set beside the repository, $PDFQA_SHARED/data/dev/earnings-calls)")
	qpath := flag.String("questions", "", "questions CSV with a Question column (default PDFS/qna_data.csv)")
	out := flag.String("out", "searcheval-out", "output folder: MODE.jsonl, chunks.jsonl, summary.json")
	modes := flag.String("modes", "hybrid,keyword,vector", "search modes")
	topK := flag.Int("top-k", 10, "passages per question")
	workers := flag.Int("workers", runtime.NumCPU(), "documents ingested in parallel")
	infer := flag.String("inference", "auto", "embeddings: auto (in-process inference service when the engine is built), none, or HOST:PORT of a running inference service")
	cache := flag.String("cache", config.DefaultCache(), "pdfqa cache (engine, models, vocab)")
	maxTokens := flag.Int("max-tokens", 0, "chunk budget (0: the engine default)")
	rerank := flag.Bool("rerank", false, "use the lexical reranker")
	weights := flag.String("vector-weights", "", "extra hybrid runs with these vector weights (comma separated), written to hybrid-wW.jsonl")
	noScope := flag.Bool("no-scope", false, "ablation: no query scoping by document cards")
	noCards := flag.Bool("no-cards", false, "ablation: no document cards in the index")
	noTables := flag.Bool("no-tables", false, "ablation: no table detection")
	noExpand := flag.Bool("no-expansion", false, "ablation: no financial query expansion")
	refine := flag.Bool("refine", false, "as the mesh does: static vectors at READY, then the background refinement with the contextual model; search once every document is refined")
	embedModel := flag.String("embed-model", "static", `inference embedding model: "static" (distilled MiniLM table) or "" (contextual MiniLM engine)`)
	storeURL := flag.String("store", "", "retrieval's store: empty for the embedded one, or postgres://… (the shared store; its schema retrieval should be empty)")
	flag.Parse()
	if *dir == "" {
		var err error
		if *dir, err = testenv.DataPath("dev", "earnings-calls"); err != nil {
			return err
		}
	}
	if *qpath == "" {
		*qpath = filepath.Join(*dir, "qna_data.csv")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	questions, err := evalfile.ReadQuestions(*qpath)
	if err != nil {
		return err
	}
	pdfs, _ := filepath.Glob(filepath.Join(*dir, "*.pdf"))
	sort.Strings(pdfs)
	if len(pdfs) == 0 {
		return fmt.Errorf("no PDFs in %s", *dir)
	}

	sum := Summary{PDFs: len(pdfs), Workers: *workers, SearchP50MS: map[string]float64{}}
	var emb embed.Embedder
	switch *infer {
	case "none":
		sum.Embedder = "none"
	case "auto":
		bin := inference.FindLlamaServer(*cache)
		if bin == "" {
			sum.Embedder = "none (no llama-server in the cache)"
			break
		}
		cfg := inference.FromEnv(*cache)
		cfg.ChatSlots, cfg.ChatCtx = 1, 2048
		tmp, _ := os.MkdirTemp("", "searcheval-inference")
		defer os.RemoveAll(tmp)
		svc, err := inference.New(inference.Options{Config: cfg, DataDir: tmp, Log: log})
		if err != nil {
			return fmt.Errorf("inference service: %w", err)
		}
		defer svc.Close()
		emb = rpcEmbedder{call: svc.Embed, model: *embedModel}
		// The chat engine starts beside the embedder: let it finish (it
		// would take CPU from the timed ingestion otherwise).
		for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			if _, err := svc.CountTokens(ctx, &inferencev1.CountTokensRequest{Text: "warm up"}); err == nil {
				break
			}
		}
		sum.Embedder = "in-process inference service: " + filepath.Base(cfg.EmbedModel) + " via " + bin + ", model " + fmt.Sprintf("%q", *embedModel)
	default:
		conn, err := grpc.NewClient(*infer, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer conn.Close()
		cl := inferencev1.NewInferenceServiceClient(conn)
		emb = rpcEmbedder{call: func(ctx context.Context, r *inferencev1.EmbedRequest) (*inferencev1.EmbedResponse, error) {
			return cl.Embed(ctx, r)
		}, model: *embedModel}
		sum.Embedder = "inference service at " + *infer
	}
	if emb != nil { // wait for the engine to load the model
		// (the first start on a machine distills the static table: ~minutes)
		deadline := time.Now().Add(15 * time.Minute)
		for {
			_, err := emb.Embed(ctx, []string{"warm up"})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("embeddings never became available: %w", err)
			}
			time.Sleep(time.Second)
		}
	}

	tmp, err := os.MkdirTemp("", "searcheval-retrieval")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rcfg := retrieval.Config{Dir: tmp, Embedder: emb, Log: log, Workers: *workers, Cache: *cache, MaxTokens: *maxTokens,
		NoCards: *noCards, NoTables: *noTables, NoExpansion: *noExpand, StoreURL: *storeURL}
	if *refine {
		if emb == nil {
			return errors.New("-refine needs an embedder (-inference)")
		}
		r := emb.(rpcEmbedder)
		r.model = "" // the contextual MiniLM engine
		rcfg.Refiner = r
	}
	retrieval.ReadSettings(config.Environment()).Apply(&rcfg) // PDFQA_VECTOR_WEIGHT, PDFQA_TABLE_SHARE, ...
	eng, err := retrieval.Open(rcfg)
	if err != nil {
		return err
	}
	defer eng.Close()
	const coll = "searcheval"
	if _, err := eng.CreateCollection(context.Background(), coll); err != nil {
		return err
	}

	// ingest: end to end from the bytes in memory to READY for every PDF
	datas := make([][]byte, len(pdfs))
	for i, p := range pdfs {
		if datas[i], err = os.ReadFile(p); err != nil {
			return err
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	docs := make([]store.Document, len(pdfs))
	errs := make([]error, len(pdfs))
	for i, p := range pdfs {
		d, _, err := eng.Upload(coll, filepath.Base(p), datas[i], "")
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = eng.Watch(ctx, coll, d.ID, func(ev retrieval.Event) error { return nil })
			docs[i], _ = eng.Document(context.Background(), coll, d.ID)
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, d := range docs {
		if d.State != store.StateReady {
			return fmt.Errorf("%s: %s %s", d.Name, d.State, d.Error)
		}
		sum.Pages += d.Pages
		sum.Chunks += d.Chunks
		sum.Warnings = append(sum.Warnings, d.Warnings...)
	}
	sum.IngestSeconds = took.Seconds()
	if *refine { // searches wait for the background refinement of every document
		rstart := time.Now()
		for {
			n := 0
			for _, d := range docs {
				if cur, err := eng.Document(context.Background(), coll, d.ID); err == nil && cur.RefinedModel != "" {
					n++
				}
			}
			if n == len(docs) {
				break
			}
			if time.Since(rstart) > 30*time.Minute {
				return fmt.Errorf("refinement: %d of %d documents after 30 min", n, len(docs))
			}
			time.Sleep(2 * time.Second)
		}
		sum.RefineSeconds = time.Since(rstart).Seconds()
	}
	sum.PagesPerSec = float64(sum.Pages) / took.Seconds()
	fmt.Fprintf(os.Stderr, "ingested %d PDFs, %d pages, %d chunks in %.2fs (%.1f pages/s), embedder: %s\n",
		len(pdfs), sum.Pages, sum.Chunks, took.Seconds(), sum.PagesPerSec, sum.Embedder)

	// chunks, for inspection
	cf, err := os.Create(filepath.Join(*out, "chunks.jsonl"))
	if err != nil {
		return err
	}
	var tok, chars int
	for _, d := range docs {
		for token := ""; ; {
			cs, next, err := eng.ListChunks(context.Background(), coll, d.ID, token, 1000)
			if err != nil {
				return err
			}
			for _, c := range cs {
				tok += c.Tokens
				chars += len(c.Text)
				b, _ := json.Marshal(map[string]any{"document": c.DocName, "seq": c.Seq, "page": c.Page, "page_end": c.PageEnd,
					"kind": c.Kind, "heading": c.Heading, "tokens": c.Tokens, "boxes": len(c.Boxes), "text": c.Text})
				cf.Write(append(b, '\n'))
			}
			if next == "" {
				break
			}
			token = next
		}
	}
	cf.Close()
	if sum.Chunks > 0 {
		sum.MeanTokens = float64(tok) / float64(sum.Chunks)
		sum.MeanChars = float64(chars) / float64(sum.Chunks)
	}

	type run struct {
		name, mode string
		weight     float64
	}
	var runs []run
	for _, mode := range strings.Split(*modes, ",") {
		runs = append(runs, run{strings.TrimSpace(mode), strings.TrimSpace(mode), 0})
	}
	for _, w := range strings.Split(*weights, ",") {
		if w = strings.TrimSpace(w); w != "" {
			x, err := strconv.ParseFloat(w, 64)
			if err != nil || x <= 0 {
				return fmt.Errorf("bad vector weight %q", w)
			}
			runs = append(runs, run{"hybrid-w" + w, retrieval.ModeHybrid, x})
		}
	}
	for _, rn := range runs {
		mode := rn.mode
		if mode != retrieval.ModeKeyword && emb == nil {
			fmt.Fprintf(os.Stderr, "skipping %s: no embedder\n", mode)
			continue
		}
		f, err := os.Create(filepath.Join(*out, rn.name+".jsonl"))
		if err != nil {
			return err
		}
		results := evalfile.NewWriter(f)
		var lat []float64
		for _, q := range questions {
			t := time.Now()
			rs, err := eng.Search(ctx, retrieval.Query{Collection: coll, Text: q, TopK: *topK, Mode: mode, Rerank: *rerank,
				NoScope: *noScope, VectorWeight: rn.weight})
			ms := float64(time.Since(t).Microseconds()) / 1000
			lat = append(lat, ms)
			r := evalfile.NewResult(q)
			r.LatencyMs, r.Degraded = ms, err != nil
			for _, x := range rs {
				r.Passages = append(r.Passages, evalfile.Passage{Document: x.Chunk.DocName, Page: x.Chunk.Page, Text: x.Chunk.Text, Score: x.Score})
			}
			if err := results.Write(r); err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Close(); err != nil {
			return err
		}
		sort.Float64s(lat)
		sum.SearchP50MS[rn.name] = lat[len(lat)/2]
		sum.Modes = append(sum.Modes, rn.name)
	}
	return benchutil.WriteJSON(filepath.Join(*out, "summary.json"), sum)
}
