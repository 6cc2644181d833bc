package retrieval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/pdfqa/pdfqa/platform/wordpiece"
	"github.com/pdfqa/pdfqa/services/retrieval/chunk"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/index"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// Domain errors of the engine (store.ErrNotFound etc. also surface).
var (
	ErrInvalid     = errors.New("invalid argument")
	ErrClosed      = errors.New("retrieval engine is closed")
	ErrQueueFull   = errors.New("ingestion queue is full")
	ErrUploadLarge = errors.New("upload exceeds the size limit")
)

// Config configures an Engine.
type Config struct {
	// Dir holds the bbolt file and the uploaded PDFs.
	Dir string
	// Store overrides the embedded store (Dir is then unused).
	Store store.Store
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
	// when the candidates hold enough of them (default 0.3, Settings:
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
}

// Engine is the retrieval domain: durable ingestion jobs and hybrid search.
type Engine struct {
	cfg    Config
	st     store.Store
	parser parse.ParseRenderer
	ownP   bool
	emb    embed.Embedder
	count  chunk.Counter
	log    *slog.Logger
	hub    *hub

	qmu    sync.Mutex
	queue  []docKey
	queued map[docKey]bool
	wake   chan struct{}

	active int // ingestions running (under qmu)

	vmu       sync.Mutex
	vecs      map[string]*index.Vectors
	refined   map[string]*index.Vectors
	refinedOK map[string]bool             // refinedReady answers, per collection
	docCache  map[string][]store.Document // readyDocs answers, per collection

	refineWake chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type docKey struct{ coll, id string }

// Open opens the store, re-queues unfinished documents and starts workers.
func Open(cfg Config) (*Engine, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 10000
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ParseTimeout, 5*time.Minute)
	def(&cfg.ChunkTimeout, time.Minute)
	def(&cfg.EmbedTimeout, 10*time.Minute)
	def(&cfg.IndexTimeout, 2*time.Minute)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	// Settings.Apply fills these from the environment at the composition root.
	if cfg.TableShare == 0 {
		cfg.TableShare = 0.3
	}
	if cfg.VectorWeight <= 0 {
		cfg.VectorWeight = 0.5
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = parse.DefaultMaxBytes
	}
	e := &Engine{cfg: cfg, emb: cfg.Embedder, log: cfg.Log, hub: newHub(), queued: map[docKey]bool{},
		wake: make(chan struct{}, 1), vecs: map[string]*index.Vectors{}, refined: map[string]*index.Vectors{},
		refinedOK: map[string]bool{}, docCache: map[string][]store.Document{}, refineWake: make(chan struct{}, 1)}
	e.count = e.counter()
	e.st = cfg.Store
	if e.st == nil {
		st, err := store.Open(cfg.Dir)
		if err != nil {
			return nil, err
		}
		e.st = st
	}
	e.parser = cfg.Parser
	if e.parser == nil {
		p, err := newParser(cfg)
		if err != nil {
			e.st.Close()
			return nil, err
		}
		e.parser, e.ownP = p, true
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	left, err := e.st.Unfinished()
	if err != nil {
		e.Close()
		return nil, err
	}
	for _, d := range left {
		e.log.Info("re-queueing unfinished document", "collection", d.Collection, "document", d.ID, "state", d.State)
		e.enqueue(docKey{d.Collection, d.ID})
	}
	for range cfg.Workers {
		e.wg.Add(1)
		go e.worker()
	}
	if cfg.Refiner != nil {
		e.wg.Add(1)
		go e.refiner()
		e.wakeRefiner()
	}
	return e, nil
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

func (e *Engine) counter() chunk.Counter {
	path := e.cfg.VocabPath
	if path == "" {
		path = wordpiece.Find(e.cfg.Cache)
	}
	if path != "" {
		if t, err := wordpiece.Load(path); err == nil {
			return t.Count
		} else {
			e.log.Warn("cannot load the embedding vocabulary; chunk budgets use a word-count approximation", "path", path, "err", err)
			return chunk.WordCount
		}
	}
	e.log.Warn("no all-MiniLM-L6-v2 vocabulary found in the cache; chunk budgets use a word-count approximation", "cache", e.cfg.Cache)
	return chunk.WordCount
}

// Close stops the workers (interrupting running jobs, which resume on the
// next Open) and closes the parser and the store.
func (e *Engine) Close() error {
	if e.cancel != nil {
		e.cancel()
	}
	e.wg.Wait()
	if e.ownP && e.parser != nil {
		e.parser.Close()
	}
	return e.st.Close()
}

var collName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

func checkColl(name string) error {
	if !collName.MatchString(name) {
		return fmt.Errorf("%w: collection name %q: use 1-128 letters, digits, '-', '_' or '.'", ErrInvalid, name)
	}
	return nil
}

// CreateCollection creates (or returns the existing) collection.
func (e *Engine) CreateCollection(name string) (store.Collection, error) {
	if err := checkColl(name); err != nil {
		return store.Collection{}, err
	}
	c, _, err := e.st.CreateCollection(name)
	return c, err
}

// ListCollections lists collections.
func (e *Engine) ListCollections() ([]store.Collection, error) { return e.st.ListCollections() }

// DeleteCollection deletes a collection with its documents and indexes.
func (e *Engine) DeleteCollection(name string) error {
	if _, err := e.st.DeleteCollection(name); err != nil {
		return err
	}
	e.vmu.Lock()
	delete(e.vecs, name)
	delete(e.refined, name)
	delete(e.refinedOK, name)
	delete(e.docCache, name)
	e.vmu.Unlock()
	return nil
}

// Upload stores the bytes durably and queues ingestion, unless the same
// bytes are already in the collection.
func (e *Engine) Upload(coll, name string, data []byte, password string) (store.Document, bool, error) {
	if err := checkColl(coll); err != nil {
		return store.Document{}, false, err
	}
	if len(data) == 0 {
		return store.Document{}, false, fmt.Errorf("%w: empty content", ErrInvalid)
	}
	if int64(len(data)) > e.cfg.MaxUploadBytes {
		return store.Document{}, false, fmt.Errorf("%w: %d bytes > %d", ErrUploadLarge, len(data), e.cfg.MaxUploadBytes)
	}
	if e.ctx.Err() != nil {
		return store.Document{}, false, ErrClosed
	}
	if name == "" {
		name = "document.pdf"
	}
	name = filepath.Base(name)
	sha, err := e.st.PutBlob(data)
	if err != nil {
		return store.Document{}, false, err
	}
	d := store.Document{ID: sha[:24], Collection: coll, Name: name, SHA256: sha, Size: int64(len(data))}
	d, dup, err := e.st.AddDocument(d, password)
	if err != nil || dup {
		return d, dup, err
	}
	e.publish(d, StageStore, 1, 1, "stored "+humanBytes(d.Size))
	e.enqueue(docKey{coll, d.ID})
	return d, false, nil
}

// Document returns a document.
func (e *Engine) Document(coll, id string) (store.Document, error) { return e.st.GetDocument(coll, id) }

// Documents lists a collection's documents.
func (e *Engine) Documents(coll string) ([]store.Document, error) { return e.st.ListDocuments(coll) }

// DeleteDocument removes a document from the store and every index.
func (e *Engine) DeleteDocument(coll, id string) error {
	if err := e.st.DeleteDocument(coll, id); err != nil {
		return err
	}
	e.vmu.Lock()
	delete(e.refinedOK, coll)
	delete(e.docCache, coll)
	for _, m := range []map[string]*index.Vectors{e.vecs, e.refined} {
		if v := m[coll]; v != nil {
			v.RemoveGroup(id)
		}
	}
	e.vmu.Unlock()
	return nil
}

func (e *Engine) enqueue(k docKey) {
	e.qmu.Lock()
	if !e.queued[k] {
		e.queued[k] = true
		e.queue = append(e.queue, k)
	}
	e.qmu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) next() (docKey, bool) {
	for {
		e.qmu.Lock()
		if len(e.queue) > 0 {
			k := e.queue[0]
			e.queue = e.queue[1:]
			delete(e.queued, k)
			more := len(e.queue) > 0
			e.qmu.Unlock()
			if more {
				select {
				case e.wake <- struct{}{}:
				default:
				}
			}
			return k, true
		}
		e.qmu.Unlock()
		select {
		case <-e.ctx.Done():
			return docKey{}, false
		case <-e.wake:
		}
	}
}

func (e *Engine) worker() {
	defer e.wg.Done()
	for {
		k, ok := e.next()
		if !ok {
			return
		}
		e.qmu.Lock()
		e.active++
		e.qmu.Unlock()
		e.ingest(k)
		e.qmu.Lock()
		e.active--
		e.qmu.Unlock()
		e.wakeRefiner()
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// failReason turns a parse error into the FAILED message users read.
func failReason(err error) string {
	switch {
	case errors.Is(err, parse.ErrUnsupportedEncryption):
		return "the PDF is encrypted with an unsupported security handler"
	case errors.Is(err, parse.ErrEncrypted):
		if strings.Contains(err.Error(), "wrong password") {
			return "the PDF is encrypted and the password given is wrong; upload it again with the right password"
		}
		return "the PDF is encrypted: a password is needed (upload it again with the password)"
	case errors.Is(err, parse.ErrNotPDF):
		return "not a PDF: the file has no %PDF- header"
	case errors.Is(err, parse.ErrEmpty):
		return "the file is empty"
	case errors.Is(err, parse.ErrNoPages):
		return "the PDF has no pages"
	case errors.Is(err, parse.ErrInvalidPDF):
		return "the PDF is corrupted or truncated and cannot be opened: " + err.Error()
	case errors.Is(err, parse.ErrTooLarge):
		return "the PDF exceeds the size limit"
	case errors.Is(err, parse.ErrTooManyPages):
		return "the PDF exceeds the page limit"
	case errors.Is(err, parse.ErrTimeout):
		return "parsing timed out: " + err.Error()
	case errors.Is(err, parse.ErrEngine):
		return "the PDF engine failed on this file (it is most likely malformed or hostile): " + err.Error()
	}
	return err.Error()
}
