package retrieval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/pdfqa/pdfqa/services/retrieval/card"
	"github.com/pdfqa/pdfqa/services/retrieval/chunk"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/index"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// The ingestion pipeline. A queued document's job runs its stages in
// order, each a function of the job that fills in what the next one reads:
//
//	parse  → the stored PDF bytes parsed (OCR included) into pages
//	chunk  → pages split into chunks, the document card derived
//	embed  → chunk vectors (none: indexed keyword-only, with a warning)
//	commit → chunks, postings and vectors written with the document READY
//	         in one store transaction; the vector cache updated
//
// A stage's error ends the job: the document is FAILED with the error as
// its reason, unless the engine is closing (then it stays PROCESSING and
// the next Open re-queues it).

// ingestJob is one document's ingestion, filled in stage by stage.
type ingestJob struct {
	doc      store.Document
	password string
	pdf      []byte
	parsed   *parse.Document
	ocr      []int32 // pages recognised by OCR
	chunks   []store.Chunk
	card     store.Card
	vecs     [][]float32 // nil: keyword-only
	warnings []string
}

// stage is one step of the pipeline.
type stage struct {
	name string
	run  func(ctx context.Context, j *ingestJob) error
}

// pipeline ingests documents. Its fields are read-only after newPipeline.
type pipeline struct {
	cfg    Config
	st     store.Store
	blobs  store.Blobs
	parser parse.Parser
	emb    embed.Embedder
	count  chunk.Counter
	cache  *vectorCache
	hub    *hub
	log    *slog.Logger
	stages []stage
	// running are the ingestions in progress (deleting a document cancels
	// its own).
	running runs
}

func newPipeline(cfg Config, st store.Store, blobs store.Blobs, parser parse.Parser, count chunk.Counter, cache *vectorCache, h *hub) *pipeline {
	p := &pipeline{cfg: cfg, st: st, blobs: blobs, parser: parser, emb: cfg.Embedder, count: count, cache: cache, hub: h, log: cfg.Log}
	p.stages = []stage{{"parse", p.parse}, {"chunk", p.chunk}, {"embed", p.embed}, {"commit", p.commit}}
	return p
}

// ingest runs one document's job. A run interrupted by ctx leaves the
// document PROCESSING; the next Open re-queues it.
func (p *pipeline) ingest(ctx context.Context, k docKey) {
	ctx, done := p.running.start(ctx, k)
	defer done()
	d, err := p.st.UpdateDocument(ctx, k.coll, k.id, func(d *store.Document) {
		if d.State == store.StatePending || d.State == store.StateProcessing {
			d.Attempts++
			d.State = store.StateProcessing
		}
	})
	if err != nil || d.State != store.StateProcessing {
		return // deleted meanwhile, or already finished
	}
	if d.Attempts > p.cfg.MaxAttempts {
		p.fail(d, fmt.Sprintf("ingestion was interrupted %d times (the service stopped while processing it); giving up", d.Attempts-1))
		return
	}
	start := time.Now()
	j := &ingestJob{doc: d}
	for _, s := range p.stages {
		if err := s.run(ctx, j); err != nil {
			if errors.Is(context.Cause(ctx), errDeleted) || errors.Is(err, store.ErrNotFound) {
				p.log.Info("ingestion cancelled: the document was deleted", "collection", d.Collection, "document", d.ID, "stage", s.name)
				return
			}
			if ctx.Err() != nil {
				p.log.Info("ingestion interrupted; it resumes on restart", "document", d.ID, "stage", s.name)
				return
			}
			p.fail(j.doc, err.Error())
			return
		}
	}
	d = j.doc
	p.log.Info("document ready", "collection", d.Collection, "document", d.ID, "name", d.Name, "pages", d.Pages, "chunks", d.Chunks, "took", time.Since(start).Round(time.Millisecond))
}

func (p *pipeline) fail(d store.Document, reason string) {
	reason = parse.Clip(reason, maxReason)
	// not under the ingestion's context: a failure is recorded even when
	// that context ends (the pool's call timeout bounds the write)
	d, err := p.st.UpdateDocument(context.Background(), d.Collection, d.ID, func(x *store.Document) {
		x.State, x.Error = store.StateFailed, reason
	})
	if err != nil {
		p.log.Error("cannot mark document failed", "document", d.ID, "err", err)
		return
	}
	p.log.Warn("ingestion failed", "collection", d.Collection, "document", d.ID, "name", d.Name, "reason", reason)
	p.hub.progress(d, StageDone, 1, 1, reason)
}

// maxReason bounds a FAILED document's reason (bytes); warnings are
// bounded at parse.MaxBrief each, maxDocWarnings in all.
const (
	maxReason      = 2 * parse.MaxBrief
	maxDocWarnings = 50
)

// stageErr is a stage's failure as users read it.
type stageErr struct{ msg string }

func (s stageErr) Error() string { return s.msg }

// parse reads the stored bytes and parses them (the parse package runs OCR
// itself; reported as its own stage).
func (p *pipeline) parse(ctx context.Context, j *ingestJob) error {
	d := j.doc
	data, err := p.blobs.Get(ctx, d.SHA256)
	if err != nil {
		return stageErr{"the stored PDF bytes are missing: " + err.Error()}
	}
	j.pdf = data
	j.password, _ = p.st.JobPassword(ctx, d.Collection, d.ID)

	p.hub.progress(d, StageParse, 0, 0, "parsing")
	pctx, cancel := context.WithTimeout(ctx, p.cfg.ParseTimeout)
	doc, err := p.parser.Parse(pctx, data, parse.Options{Password: j.password, Timeout: p.cfg.ParseTimeout, DisableTables: p.cfg.NoTables,
		MaxBytes: p.cfg.MaxUploadBytes, MaxPages: p.cfg.MaxPages, FailOnTooManyPages: true, MaxOCRPages: p.cfg.MaxOCRPages})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The whole error (an engine failure's WebAssembly trace included)
		// is logged; the document's reason is failReason's bounded line.
		p.log.Warn("parse failed", "collection", d.Collection, "document", d.ID, "name", d.Name, "err", err.Error())
		return stageErr{failReason(err)}
	}
	j.parsed = doc
	p.hub.progress(d, StageParse, len(doc.Pages), len(doc.Pages), fmt.Sprintf("%d pages parsed", len(doc.Pages)))

	needOCR := 0
	for _, pg := range doc.Pages {
		if !pg.HasTextLayer {
			needOCR++
		}
		if pg.OCR {
			j.ocr = append(j.ocr, int32(pg.Number))
		}
	}
	msg := "every page has a text layer"
	if needOCR > 0 {
		msg = fmt.Sprintf("%d of %d pages without a text layer recognised by OCR", len(j.ocr), needOCR)
	}
	p.hub.progress(d, StageOCR, len(j.ocr), needOCR, msg)
	return nil
}

// chunk splits the parsed pages into chunks and derives the document card.
func (p *pipeline) chunk(ctx context.Context, j *ingestJob) error {
	d, doc := j.doc, j.parsed
	cctx, cancel := context.WithTimeout(ctx, p.cfg.ChunkTimeout)
	var chunks []store.Chunk
	done := make(chan struct{})
	go func() {
		defer close(done)
		chunks = chunk.Split(doc, d.ID, d.Name, chunk.Options{MaxTokens: p.cfg.MaxTokens, Overlap: p.cfg.Overlap, Count: p.count},
			func(i, n int) {
				if i == n || i%10 == 0 {
					p.hub.progress(d, StageChunk, i, n, "chunking")
				}
			})
	}()
	select {
	case <-done:
		cancel()
	case <-cctx.Done():
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return stageErr{"chunking timed out"}
	}
	dc := card.Derive(doc, d.Name, chunk.RunningText(doc))
	if p.cfg.NoCards {
		dc = store.Card{}
	}
	for i := range chunks {
		chunks[i].Context = dc.Summary
	}
	addTitleTerms(chunks, d.Name, doc.Metadata.Title+"\n"+dc.Title+"\n"+dc.Summary)
	countImages(chunks, doc)
	p.hub.progress(d, StageChunk, len(doc.Pages), len(doc.Pages), fmt.Sprintf("%d chunks", len(chunks)))

	j.chunks, j.card = chunks, dc
	j.warnings = append(j.warnings, doc.Warnings...)
	if len(chunks) == 0 {
		j.warnings = append(j.warnings, "no text found in the document (nothing to index)")
	}
	return nil
}

// embed computes the chunks' vectors; without them the document is
// indexed keyword-only, with a warning.
func (p *pipeline) embed(ctx context.Context, j *ingestJob) error {
	vecs, werr := p.embedChunks(ctx, j.doc, j.chunks)
	if werr != "" {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		j.warnings = append(j.warnings, werr)
	}
	j.vecs = vecs
	return nil
}

// embedChunks returns nil vectors and a warning when embeddings are not
// available: the document is then indexed keyword-only (search falls back
// to BM25 for it) rather than lost.
func (p *pipeline) embedChunks(ctx context.Context, d store.Document, chunks []store.Chunk) ([][]float32, string) {
	if len(chunks) == 0 {
		return nil, ""
	}
	if p.emb == nil {
		return nil, "no embedder configured: indexed for keyword search only"
	}
	ectx, cancel := context.WithTimeout(ctx, p.cfg.EmbedTimeout)
	defer cancel()
	vecs := make([][]float32, 0, len(chunks))
	for i := 0; i < len(chunks); i += embed.BatchSize {
		batch := chunks[i:min(i+embed.BatchSize, len(chunks))]
		texts := make([]string, len(batch))
		for j, c := range batch {
			texts[j] = embedText(c, contextual(embed.ModelName(p.emb)))
		}
		v, err := p.emb.Embed(ectx, texts)
		if err != nil {
			why := "embedding failed"
			if errors.Is(err, embed.ErrUnavailable) {
				why = "embeddings unavailable"
			}
			p.log.Warn("indexing keyword-only", "document", d.ID, "err", err)
			return nil, fmt.Sprintf("%s (%v): indexed for keyword search only", why, err)
		}
		if len(v) != len(batch) || (len(v) > 0 && len(v[0]) == 0) {
			return nil, "the embedder returned malformed vectors: indexed for keyword search only"
		}
		for _, x := range v {
			embed.Normalize(x)
		}
		vecs = append(vecs, v...)
		p.hub.progress(d, StageEmbed, len(vecs), len(chunks), "embedding")
	}
	return vecs, ""
}

// commit writes chunks, postings and vectors with the document READY in one
// transaction, then updates the vector cache.
func (p *pipeline) commit(ctx context.Context, j *ingestJob) error {
	d, doc, chunks, vecs, warnings := j.doc, j.parsed, j.chunks, j.vecs, j.warnings
	p.hub.progress(d, StageIndex, 0, len(chunks), "writing the index")
	if err := ctx.Err(); err != nil {
		return err
	}
	meta := map[string]string{}
	for k, v := range map[string]string{"title": doc.Metadata.Title, "author": doc.Metadata.Author, "subject": doc.Metadata.Subject,
		"keywords": doc.Metadata.Keywords, "creator": doc.Metadata.Creator, "producer": doc.Metadata.Producer,
		"creation_date": doc.Metadata.CreationDate, "mod_date": doc.Metadata.ModDate} {
		if v != "" {
			meta[k] = v
		}
	}
	vi := p.cache.fast(d.Collection)
	if vecs != nil && vi.Dim() != 0 && len(vecs) > 0 && len(vecs[0]) != vi.Dim() {
		warnings = append(warnings, fmt.Sprintf("embedding dimension %d differs from the collection's %d: indexed keyword-only", len(vecs[0]), vi.Dim()))
		vecs = nil
	}
	if len(warnings) > maxDocWarnings {
		warnings = append(warnings[:maxDocWarnings:maxDocWarnings], fmt.Sprintf("... and %d more warnings", len(warnings)-maxDocWarnings))
	}
	for i, w := range warnings {
		warnings[i] = parse.Clip(w, parse.MaxBrief)
	}
	d, err := p.st.CommitIndex(ctx, d.Collection, d.ID, chunks, vecs, func(x *store.Document) {
		x.State, x.Error = store.StateReady, ""
		x.Pages, x.Chunks, x.OCRPages, x.Metadata, x.Warnings = doc.PageCount, len(chunks), j.ocr, meta, warnings
		x.Card = j.card
		x.EmbedModel = ""
		if vecs != nil {
			x.EmbedModel = embed.ModelName(p.emb)
		}
	})
	if err != nil {
		return fmt.Errorf("index write: %w", err)
	}
	j.doc, j.vecs, j.warnings = d, vecs, warnings
	ids := make([]string, len(chunks))
	for i, c := range chunks {
		ids[i] = chunkID(c.DocID, c.Seq)
	}
	p.cache.indexed(d.Collection, d.ID, ids, vecs)
	d.State = store.StateProcessing
	p.hub.progress(d, StageIndex, len(chunks), len(chunks), "indexed")
	d.State = store.StateReady
	p.hub.progress(d, StageDone, 1, 1, fmt.Sprintf("%d chunks from %d pages", len(chunks), d.Pages))
	return nil
}

// addTitleTerms indexes the document's title (its file name without the
// extension, and the PDF's own title) with every chunk, once per term: a
// title field for BM25. Reports and transcripts name their period, company or
// subject in the file name ("Q3 2023 ... Earnings Call", "10-Q 2024 Q1"),
// which the page text often leaves implicit, so "what was X in Q3 2023"
// prefers chunks of that document.
func addTitleTerms(chunks []store.Chunk, name, title string) {
	base := strings.TrimSuffix(name, filepath.Ext(name))
	seen := map[string]bool{}
	var add []string
	for _, t := range index.Terms(base + " " + title) {
		if !seen[t] {
			seen[t] = true
			add = append(add, t)
		}
	}
	for i := range chunks {
		if chunks[i].Terms == nil {
			chunks[i].Terms = map[string]int{}
		}
		for _, t := range add {
			chunks[i].Terms[t]++
		}
		chunks[i].Len += len(add)
	}
}

// countImages records the image objects on each chunk's pages.
func countImages(chunks []store.Chunk, doc *parse.Document) {
	images := map[int]int{}
	for _, p := range doc.Pages {
		images[p.Number] = p.Images
	}
	for i := range chunks {
		n := 0
		for pg := chunks[i].Page; pg <= max(chunks[i].Page, chunks[i].PageEnd); pg++ {
			n += images[pg]
		}
		chunks[i].Images = n
	}
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
		return "the PDF is corrupted or truncated and cannot be opened: " + parse.Brief(err)
	case errors.Is(err, parse.ErrTooLarge):
		return "the PDF exceeds the size limit: " + strings.TrimPrefix(parse.Brief(err), "parse: ")
	case errors.Is(err, parse.ErrTooManyPages):
		// "too many pages: 200000 > 5000"
		return strings.TrimPrefix(parse.Brief(err), "parse: ") + " (the per-document page limit, PDFQA_MAX_PAGES)"
	case errors.Is(err, parse.ErrTimeout):
		return "parsing timed out: " + parse.Brief(err)
	case errors.Is(err, parse.ErrEngine):
		// The engine's own words (a WebAssembly trap and its trace) are in
		// the log, not in the reason.
		return "the PDF engine failed on this file: it is most likely malformed or hostile (for example a compressed stream that inflates past the engine's memory limit)"
	}
	return parse.Brief(err)
}
