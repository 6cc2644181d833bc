package retrieval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/grpcerr"
	"github.com/pdfqa/pdfqa/platform/wordpiece"
	"github.com/pdfqa/pdfqa/services/retrieval/chunk"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// Domain errors of the engine (store.ErrNotFound etc. also surface);
// ErrInvalid is the shared one, which grpcerr maps to InvalidArgument.
var (
	ErrInvalid     = grpcerr.ErrInvalid
	ErrClosed      = errors.New("retrieval engine is closed")
	ErrQueueFull   = errors.New("ingestion queue is full")
	ErrUploadLarge = errors.New("upload exceeds the size limit")
)

// Config configures an Engine.
type Config struct {
	// Dir holds the bbolt file and the uploaded PDFs (Dir/blobs).
	Dir string
	// Store overrides the embedded metadata and index store; Blobs the
	// embedded blob store (Dir is unused when both are set). The engine
	// closes them.
	Store store.Store
	Blobs store.Blobs
	// StoreURL, when set (postgres://…), keeps metadata and index on that
	// PostgreSQL server, shared by every replica (jobs are claimed from it,
	// caches follow other replicas' commits); BlobsURL is then the blob
	// bucket (gocloud.dev/blob URL; default file://Dir/blobs). Settings:
	// PDFQA_STORE, PDFQA_BLOBS.
	StoreURL, BlobsURL string
	// JobLease is how long a claimed job stays leased without renewal (a
	// dead replica's job is taken over after it; default 15s).
	JobLease time.Duration
	// Embedder embeds chunks and queries; nil indexes keyword-only. Each
	// document records the embedder's model (embed.ModelName); vectors of
	// another model are not loaded (they live in another space).
	Embedder embed.Embedder
	// Parser overrides the PDF parser (shared by tests).
	Parser parse.ParseRenderer
	Log    *slog.Logger
	// InProcessParse parses with PDFium inside this process (wazero's
	// per-call interrupt on, about 4x slower text extraction) instead of in
	// supervised worker processes (parse.Process, the default), for
	// environments that cannot re-exec the executable (Settings:
	// PDFQA_PARSE_INPROCESS=1).
	InProcessParse bool
	// Workers is the number of documents ingested in parallel (default 2).
	Workers int
	// QueueSize bounds queued documents (default 10000).
	QueueSize int
	// VocabPath is the embedding model's vocab.txt (or GGUF) used to
	// measure chunks; empty looks in Cache; absent falls back to a word
	// count with a warning.
	VocabPath string
	Cache     string
	MaxTokens int
	Overlap   int
	// Stage timeouts (defaults: parse 5m incl. OCR, chunk 1m, embed 10m, index 2m).
	ParseTimeout, ChunkTimeout, EmbedTimeout, IndexTimeout time.Duration
	// MaxAttempts is how often a document interrupted by a restart is
	// retried before it fails (default 3).
	MaxAttempts int
	// Refiner, when set, embeds READY documents again in the background
	// (while ingestion is idle) with a better, slower model (the contextual
	// MiniLM engine); a collection is searched with those vectors once all
	// its documents have them.
	Refiner embed.Embedder
	// VectorWeight is the vector list's weight against BM25's 1 in the
	// hybrid fusion (weighted RRF). Default 0.5 (Settings: PDFQA_VECTOR_WEIGHT).
	VectorWeight float64
	// TableShare is the share of a search's results kept for table rows
	// when the candidates hold enough of them (default 0.4, Settings:
	// PDFQA_TABLE_SHARE; negative: none). A question about a figure is
	// answered by a row, but running text that discusses the same line
	// item in more words outscores the row in BM25.
	TableShare float64
	// Ablations, for measuring what each step adds (bench/retrieval):
	// NoTables turns table detection off (rows are indexed as text lines)
	// and NoCards leaves document cards out of the index; NoExpansion
	// turns the financial query expansion off.
	NoTables, NoCards, NoExpansion bool
	// ANNThreshold is the live vector count above which HNSW is used.
	ANNThreshold int
	// MaxUploadBytes bounds an upload (default parse.DefaultMaxBytes).
	MaxUploadBytes int64
	// MaxPages fails a document with more pages ("too many pages: 200000 >
	// 5000"; default parse.DefaultMaxPages, Settings: PDFQA_MAX_PAGES).
	// MaxOCRPages bounds the pages OCR'd per document; the pages past it
	// are named in one warning (default parse.DefaultMaxOCRPages,
	// Settings: PDFQA_MAX_OCR_PAGES).
	MaxPages, MaxOCRPages int
	// CompactEvery is the least time between two compactions of the
	// embedded store's file after deletions (compact.go; default 1m).
	CompactEvery time.Duration
}

// Engine is the retrieval domain: durable ingestion jobs and hybrid
// search. It composes the job queue (queue.go), the ingestion pipeline
// (ingest.go), the in-memory vector cache (vectors.go), background
// refinement (refine.go) and search (search.go, scope.go) over the store.
type Engine struct {
	cfg    Config
	st     store.Store
	blobs  store.Blobs
	parser parse.ParseRenderer
	ownP   bool
	emb    embed.Embedder
	log    *slog.Logger
	hub    *hub
	queue  *jobQueue
	pipe   *pipeline
	cache  *vectorCache

	refineWake  chan struct{}
	compactWake chan struct{} // nil: the store needs no compaction

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// withDefaults fills in the defaults of unset fields.
func (cfg Config) withDefaults() Config {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	config.Default(&cfg.Workers, 2)
	config.Default(&cfg.QueueSize, 10000)
	config.Default(&cfg.ParseTimeout, 5*time.Minute)
	config.Default(&cfg.ChunkTimeout, time.Minute)
	config.Default(&cfg.EmbedTimeout, 10*time.Minute)
	config.Default(&cfg.IndexTimeout, 2*time.Minute)
	config.Default(&cfg.JobLease, 15*time.Second)
	config.Default(&cfg.CompactEvery, defaultCompactEvery)
	config.Default(&cfg.MaxAttempts, 3)
	// Settings.Apply fills these from the environment at the composition root.
	if cfg.TableShare == 0 {
		cfg.TableShare = 0.4
	}
	config.Default(&cfg.VectorWeight, 0.5)
	config.Default(&cfg.MaxUploadBytes, parse.DefaultMaxBytes)
	config.Default(&cfg.MaxPages, parse.DefaultMaxPages)
	config.Default(&cfg.MaxOCRPages, parse.DefaultMaxOCRPages)
	return cfg
}

// Open opens the store, re-queues unfinished documents and starts workers.
func Open(cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	e := &Engine{cfg: cfg, emb: cfg.Embedder, log: cfg.Log, hub: newHub(), queue: newJobQueue(), refineWake: make(chan struct{}, 1)}
	e.st, e.blobs = cfg.Store, cfg.Blobs
	if e.st == nil && cfg.StoreURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		st, err := store.OpenPostgres(ctx, cfg.StoreURL, store.PostgresOptions{Log: cfg.Log})
		cancel()
		if err != nil {
			return nil, err
		}
		e.st = st
	}
	if e.blobs == nil && cfg.StoreURL != "" {
		u := cfg.BlobsURL
		if u == "" {
			var err error
			if u, err = store.FileBucketURL(filepath.Join(cfg.Dir, "blobs")); err != nil {
				e.st.Close()
				return nil, err
			}
		}
		b, err := store.OpenBucket(context.Background(), u, 0)
		if err != nil {
			e.st.Close()
			return nil, err
		}
		e.blobs = b
	}
	if e.st == nil {
		st, err := store.Open(cfg.Dir)
		if err != nil {
			return nil, err
		}
		e.st = st
	}
	if e.blobs == nil {
		b, err := store.OpenFiles(filepath.Join(cfg.Dir, "blobs"))
		if err != nil {
			e.st.Close()
			return nil, err
		}
		e.blobs = b
	}
	e.parser = cfg.Parser
	if e.parser == nil {
		p, err := newParser(cfg)
		if err != nil {
			e.st.Close()
			e.blobs.Close()
			return nil, err
		}
		e.parser, e.ownP = p, true
	}
	refined := ""
	if cfg.Refiner != nil {
		refined = e.refinerName()
	}
	e.cache = newVectorCache(e.st, e.log, embed.ModelName(e.emb), refined, cfg.ANNThreshold)
	e.pipe = newPipeline(cfg, e.st, e.blobs, e.parser, newCounter(cfg), e.cache, e.hub)
	e.ctx, e.cancel = context.WithCancel(context.Background())
	if w, ok := e.st.(store.Watcher); ok {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			_ = w.Watch(e.ctx, func(ch store.Change) {
				e.cache.changed(ch)
				switch ch.What {
				case "document_deleted":
					e.pipe.running.deleted(ch.Coll, ch.Doc)
					e.hub.gone(docKey{ch.Coll, ch.Doc})
				case "collection_deleted":
					e.pipe.running.deleted(ch.Coll, "")
					e.hub.goneCollection(ch.Coll)
				}
				if ch.What == "job" || ch == (store.Change{}) {
					e.queue.signal()
				}
			})
		}()
	}
	if q, ok := e.st.(store.Queue); ok {
		// Jobs are claimed from the shared store: nothing to re-queue.
		e.queue.shared = true
		for range cfg.Workers {
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				e.queue.runShared(e.ctx, q, e.owner(), cfg.JobLease, e.log, func(k docKey) { e.pipe.ingest(e.ctx, k) }, e.wakeRefiner)
			}()
		}
	} else {
		left, err := e.st.Unfinished(context.Background())
		if err != nil {
			e.Close()
			return nil, err
		}
		for _, d := range left {
			e.log.Info("re-queueing unfinished document", "collection", d.Collection, "document", d.ID, "state", d.State)
			e.queue.push(docKey{d.Collection, d.ID})
		}
		for range cfg.Workers {
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				e.queue.run(e.ctx, func(k docKey) { e.pipe.ingest(e.ctx, k) }, e.wakeRefiner)
			}()
		}
	}
	if cfg.Refiner != nil {
		e.wg.Add(1)
		go e.refiner()
		e.wakeRefiner()
	}
	if c, ok := e.st.(store.Compacter); ok {
		e.compactWake = make(chan struct{}, 1)
		e.wg.Add(1)
		go e.compactor(c)
	}
	return e, nil
}

// owner names this engine's claims on shared jobs (host, pid and a random
// suffix: unique per process even on one machine).
func (e *Engine) owner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%p", host, os.Getpid(), e)
}

// newParser builds the default parser: PDFium in worker processes (the
// executable must call parse.RunWorkerIfRequested first in main), or in
// this process when so configured or when workers cannot start.
func newParser(cfg Config) (parse.ParseRenderer, error) {
	pc := parse.Config{Instances: min(cfg.Workers, runtime.NumCPU())}
	if cfg.InProcessParse {
		return parse.New(pc)
	}
	p, err := parse.NewProcess(pc)
	if err != nil {
		cfg.Log.Warn("parse worker processes unavailable; parsing in-process (slower)", "err", err)
		return parse.New(pc)
	}
	return p, nil
}

// newCounter measures chunks in the embedding model's tokens.
func newCounter(cfg Config) chunk.Counter {
	path := cfg.VocabPath
	if path == "" {
		path = wordpiece.Find(cfg.Cache)
	}
	if path != "" {
		if t, err := wordpiece.Load(path); err == nil {
			return t.Count
		} else {
			cfg.Log.Warn("cannot load the embedding vocabulary; chunk budgets use a word-count approximation", "path", path, "err", err)
			return chunk.WordCount
		}
	}
	cfg.Log.Warn("no all-MiniLM-L6-v2 vocabulary found in the cache; chunk budgets use a word-count approximation", "cache", cfg.Cache)
	return chunk.WordCount
}

// Close stops the workers (interrupting running jobs, which resume on the
// next Open) and closes the parser and the stores.
func (e *Engine) Close() error {
	if e.cancel != nil {
		e.cancel()
	}
	e.wg.Wait()
	if e.ownP && e.parser != nil {
		e.parser.Close()
	}
	return errors.Join(e.st.Close(), e.blobs.Close())
}
