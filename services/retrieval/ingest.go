package retrieval

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/services/retrieval/card"
	"github.com/pdfqa/pdfqa/services/retrieval/chunk"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/index"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// Stage aliases keep the engine's code short.
const (
	StageStore = retrievalv1.IngestionStage_INGESTION_STAGE_STORE
	StageParse = retrievalv1.IngestionStage_INGESTION_STAGE_PARSE
	StageOCR   = retrievalv1.IngestionStage_INGESTION_STAGE_OCR
	StageChunk = retrievalv1.IngestionStage_INGESTION_STAGE_CHUNK
	StageEmbed = retrievalv1.IngestionStage_INGESTION_STAGE_EMBED
	StageIndex = retrievalv1.IngestionStage_INGESTION_STAGE_INDEX
	StageDone  = retrievalv1.IngestionStage_INGESTION_STAGE_DONE
)

// Event is one ingestion progress event.
type Event struct {
	DocID   string
	Stage   retrievalv1.IngestionStage
	State   string
	Done    int
	Total   int
	Message string
	Time    time.Time
}

// Terminal reports whether the event ends the ingestion.
func (ev Event) Terminal() bool { return ev.State == store.StateReady || ev.State == store.StateFailed }

// hub fans progress events out to watchers. A watcher joining late gets the
// latest event first; channels close after the terminal event.
type hub struct {
	mu    sync.Mutex
	last  map[docKey]Event
	watch map[docKey]map[chan Event]struct{}
}

func newHub() *hub {
	return &hub{last: map[docKey]Event{}, watch: map[docKey]map[chan Event]struct{}{}}
}

func (h *hub) publish(k docKey, ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last[k] = ev
	for ch := range h.watch[k] {
		select {
		case ch <- ev:
		default: // a slow watcher skips intermediate progress; it still gets the end
		}
		if ev.Terminal() {
			close(ch)
		}
	}
	if ev.Terminal() {
		delete(h.watch, k)
		delete(h.last, k)
	}
}

func (h *hub) subscribe(k docKey) (chan Event, Event, bool, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan Event, 256)
	if h.watch[k] == nil {
		h.watch[k] = map[chan Event]struct{}{}
	}
	h.watch[k][ch] = struct{}{}
	last, ok := h.last[k]
	return ch, last, ok, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, open := h.watch[k][ch]; open {
			delete(h.watch[k], ch)
			if len(h.watch[k]) == 0 {
				delete(h.watch, k)
			}
		}
	}
}

func (e *Engine) publish(d store.Document, stage retrievalv1.IngestionStage, done, total int, msg string) {
	e.hub.publish(docKey{d.Collection, d.ID}, Event{DocID: d.ID, Stage: stage, State: d.State, Done: done, Total: total, Message: msg, Time: time.Now().UTC()})
}

// Watch streams a document's events to fn until READY/FAILED or ctx ends.
// The first event is the current state.
func (e *Engine) Watch(ctx context.Context, coll, id string, fn func(Event) error) error {
	k := docKey{coll, id}
	ch, last, ok, stop := e.hub.subscribe(k)
	defer stop()
	d, err := e.st.GetDocument(coll, id)
	if err != nil {
		return err
	}
	final := func(d store.Document) Event {
		msg := fmt.Sprintf("%d chunks from %d pages", d.Chunks, d.Pages)
		if d.State == store.StateFailed {
			msg = d.Error
		}
		return Event{DocID: id, Stage: StageDone, State: d.State, Done: 1, Total: 1, Message: msg, Time: d.UpdateTime}
	}
	if d.State == store.StateReady || d.State == store.StateFailed {
		return fn(final(d))
	}
	if !ok {
		last = Event{DocID: id, Stage: StageStore, State: d.State, Done: 1, Total: 1, Message: "queued", Time: d.UpdateTime}
	}
	if err := fn(last); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, open := <-ch:
			if !open {
				// The terminal event may have been dropped for a slow
				// watcher: the store has the outcome.
				d, err := e.st.GetDocument(coll, id)
				if err != nil {
					return err
				}
				return fn(final(d))
			}
			if ev.Terminal() {
				continue // wait for close, then send the stored outcome once
			}
			if err := fn(ev); err != nil {
				return err
			}
		}
	}
}

// ingest runs one document's job. A run interrupted by Close leaves the
// document PROCESSING; the next Open re-queues it.
func (e *Engine) ingest(k docKey) {
	ctx := e.ctx
	d, err := e.st.UpdateDocument(k.coll, k.id, func(d *store.Document) {
		if d.State == store.StatePending || d.State == store.StateProcessing {
			d.Attempts++
			d.State = store.StateProcessing
		}
	})
	if err != nil || d.State != store.StateProcessing {
		return // deleted meanwhile, or already finished
	}
	if d.Attempts > e.cfg.MaxAttempts {
		e.fail(d, fmt.Sprintf("ingestion was interrupted %d times (the service stopped while processing it); giving up", d.Attempts-1))
		return
	}
	start := time.Now()
	d, err = e.run(ctx, d)
	if err != nil {
		if ctx.Err() != nil {
			e.log.Info("ingestion interrupted; it resumes on restart", "document", d.ID)
			return
		}
		e.fail(d, err.Error())
		return
	}
	e.log.Info("document ready", "collection", d.Collection, "document", d.ID, "name", d.Name, "pages", d.Pages, "chunks", d.Chunks, "took", time.Since(start).Round(time.Millisecond))
}

func (e *Engine) fail(d store.Document, reason string) {
	d, err := e.st.UpdateDocument(d.Collection, d.ID, func(x *store.Document) {
		x.State, x.Error = store.StateFailed, reason
	})
	if err != nil {
		e.log.Error("cannot mark document failed", "document", d.ID, "err", err)
		return
	}
	e.log.Warn("ingestion failed", "collection", d.Collection, "document", d.ID, "name", d.Name, "reason", reason)
	e.publish(d, StageDone, 1, 1, reason)
}

type stageErr struct{ msg string }

func (s stageErr) Error() string { return s.msg }

func (e *Engine) run(ctx context.Context, d store.Document) (store.Document, error) {
	data, err := e.st.Blob(d.SHA256)
	if err != nil {
		return d, stageErr{"the stored PDF bytes are missing: " + err.Error()}
	}
	pw, _ := e.st.JobPassword(d.Collection, d.ID)

	// parse (the parse package runs OCR itself; reported below as its own stage)
	e.publish(d, StageParse, 0, 0, "parsing")
	pctx, cancel := context.WithTimeout(ctx, e.cfg.ParseTimeout)
	doc, err := e.parser.Parse(pctx, data, parse.Options{Password: pw, Timeout: e.cfg.ParseTimeout, DisableTables: e.cfg.NoTables})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return d, ctx.Err()
		}
		return d, stageErr{failReason(err)}
	}
	e.publish(d, StageParse, len(doc.Pages), len(doc.Pages), fmt.Sprintf("%d pages parsed", len(doc.Pages)))

	var ocr []int32
	needOCR := 0
	for _, p := range doc.Pages {
		if !p.HasTextLayer {
			needOCR++
		}
		if p.OCR {
			ocr = append(ocr, int32(p.Number))
		}
	}
	msg := "every page has a text layer"
	if needOCR > 0 {
		msg = fmt.Sprintf("%d of %d pages without a text layer recognised by OCR", len(ocr), needOCR)
	}
	e.publish(d, StageOCR, len(ocr), needOCR, msg)

	// chunk
	cctx, cancel := context.WithTimeout(ctx, e.cfg.ChunkTimeout)
	var chunks []store.Chunk
	done := make(chan struct{})
	go func() {
		defer close(done)
		chunks = chunk.Split(doc, d.ID, d.Name, chunk.Options{MaxTokens: e.cfg.MaxTokens, Overlap: e.cfg.Overlap, Count: e.count},
			func(i, n int) {
				if i == n || i%10 == 0 {
					e.publish(d, StageChunk, i, n, "chunking")
				}
			})
	}()
	select {
	case <-done:
		cancel()
	case <-cctx.Done():
		cancel()
		if ctx.Err() != nil {
			return d, ctx.Err()
		}
		return d, stageErr{"chunking timed out"}
	}
	dc := card.Derive(doc, d.Name, chunk.RunningText(doc))
	if e.cfg.NoCards {
		dc = store.Card{}
	}
	for i := range chunks {
		chunks[i].Context = dc.Summary
	}
	addTitleTerms(chunks, d.Name, doc.Metadata.Title+"\n"+dc.Title+"\n"+dc.Summary)
	countImages(chunks, doc)
	e.publish(d, StageChunk, len(doc.Pages), len(doc.Pages), fmt.Sprintf("%d chunks", len(chunks)))

	var warnings []string
	warnings = append(warnings, doc.Warnings...)
	if len(chunks) == 0 {
		warnings = append(warnings, "no text found in the document (nothing to index)")
	}

	// embed
	vecs, werr := e.embedChunks(ctx, d, chunks)
	if werr != "" {
		if ctx.Err() != nil {
			return d, ctx.Err()
		}
		warnings = append(warnings, werr)
	}

	// index: chunks, postings and vectors in one transaction
	e.publish(d, StageIndex, 0, len(chunks), "writing the index")
	if err := ctx.Err(); err != nil {
		return d, err
	}
	meta := map[string]string{}
	for k, v := range map[string]string{"title": doc.Metadata.Title, "author": doc.Metadata.Author, "subject": doc.Metadata.Subject,
		"keywords": doc.Metadata.Keywords, "creator": doc.Metadata.Creator, "producer": doc.Metadata.Producer,
		"creation_date": doc.Metadata.CreationDate, "mod_date": doc.Metadata.ModDate} {
		if v != "" {
			meta[k] = v
		}
	}
	vi := e.vectors(d.Collection)
	if vecs != nil && vi.Dim() != 0 && len(vecs) > 0 && len(vecs[0]) != vi.Dim() {
		warnings = append(warnings, fmt.Sprintf("embedding dimension %d differs from the collection's %d: indexed keyword-only", len(vecs[0]), vi.Dim()))
		vecs = nil
	}
	if len(warnings) > 50 {
		warnings = append(warnings[:50], fmt.Sprintf("... and %d more warnings", len(warnings)-50))
	}
	d, err = e.st.CommitIndex(d.Collection, d.ID, chunks, vecs, func(x *store.Document) {
		x.State, x.Error = store.StateReady, ""
		x.Pages, x.Chunks, x.OCRPages, x.Metadata, x.Warnings = doc.PageCount, len(chunks), ocr, meta, warnings
		x.Card = dc
		x.EmbedModel = ""
		if vecs != nil {
			x.EmbedModel = embed.ModelName(e.emb)
		}
	})
	e.forgetRefined(d.Collection)
	if err != nil {
		return d, fmt.Errorf("index write: %w", err)
	}
	if vecs != nil {
		ids := make([]string, len(chunks))
		for i, c := range chunks {
			ids[i] = chunkID(c.DocID, c.Seq)
		}
		vi.RemoveGroup(d.ID)
		vi.Add(d.ID, ids, vecs)
	}
	d.State = store.StateProcessing
	e.publish(d, StageIndex, len(chunks), len(chunks), "indexed")
	d.State = store.StateReady
	e.publish(d, StageDone, 1, 1, fmt.Sprintf("%d chunks from %d pages", len(chunks), d.Pages))
	return d, nil
}

// embedChunks returns nil vectors and a warning when embeddings are not
// available: the document is then indexed keyword-only (search falls back
// to BM25 for it) rather than lost.
func (e *Engine) embedChunks(ctx context.Context, d store.Document, chunks []store.Chunk) ([][]float32, string) {
	if len(chunks) == 0 {
		return nil, ""
	}
	if e.emb == nil {
		return nil, "no embedder configured: indexed for keyword search only"
	}
	ectx, cancel := context.WithTimeout(ctx, e.cfg.EmbedTimeout)
	defer cancel()
	vecs := make([][]float32, 0, len(chunks))
	for i := 0; i < len(chunks); i += embed.BatchSize {
		batch := chunks[i:min(i+embed.BatchSize, len(chunks))]
		texts := make([]string, len(batch))
		for j, c := range batch {
			texts[j] = embedText(c, contextual(embed.ModelName(e.emb)))
		}
		v, err := e.emb.Embed(ectx, texts)
		if err != nil {
			why := "embedding failed"
			if errors.Is(err, embed.ErrUnavailable) {
				why = "embeddings unavailable"
			}
			e.log.Warn("indexing keyword-only", "document", d.ID, "err", err)
			return nil, fmt.Sprintf("%s (%v): indexed for keyword search only", why, err)
		}
		if len(v) != len(batch) || (len(v) > 0 && len(v[0]) == 0) {
			return nil, "the embedder returned malformed vectors: indexed for keyword search only"
		}
		for _, x := range v {
			embed.Normalize(x)
		}
		vecs = append(vecs, v...)
		e.publish(d, StageEmbed, len(vecs), len(chunks), "embedding")
	}
	return vecs, ""
}

// vectors returns a collection's vector index, loading it from the store
// on first use.
func (e *Engine) vectors(coll string) *index.Vectors {
	model := embed.ModelName(e.emb)
	return e.loadVectors(e.vecs, coll, e.st.Vectors, func(d store.Document) bool {
		if d.EmbedModel != model {
			e.log.Warn("skipping vectors of another embedding model: the document is searched by keywords only until re-ingested",
				"collection", coll, "document", d.ID, "vectors_model", d.EmbedModel, "model", model)
			return false
		}
		return true
	})
}

// loadVectors returns cache[coll], loading it on first use with load,
// keeping the vectors of the documents keep accepts (documents the store
// does not list any more are kept: deletion removes them from the index).
func (e *Engine) loadVectors(cache map[string]*index.Vectors, coll string,
	load func(string, func(string, []int, [][]float32)) error, keep func(store.Document) bool) *index.Vectors {
	e.vmu.Lock()
	defer e.vmu.Unlock()
	if v, ok := cache[coll]; ok {
		return v
	}
	v := index.NewVectors()
	if e.cfg.ANNThreshold > 0 {
		v.ANNThreshold = e.cfg.ANNThreshold
	}
	docs := map[string]store.Document{}
	if ds, err := e.st.ListDocuments(coll); err == nil {
		for _, d := range ds {
			docs[d.ID] = d
		}
	}
	err := load(coll, func(doc string, seqs []int, vecs [][]float32) {
		if d, ok := docs[doc]; ok && !keep(d) {
			return
		}
		ids := make([]string, len(seqs))
		for i, s := range seqs {
			ids[i] = chunkID(doc, s)
		}
		if !v.Add(doc, ids, vecs) {
			e.log.Warn("skipping vectors of another dimension", "collection", coll, "document", doc)
		}
	})
	if err != nil {
		e.log.Error("loading vectors", "collection", coll, "err", err)
	}
	cache[coll] = v
	return v
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
