package retrieval

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// Refinement: documents are indexed with the fast embedder (the static
// table: READY at parse speed) and then, in the background while no
// ingestion is running, embedded again with the contextual model
// (Config.Refiner). A collection is searched with the refined vectors once
// every READY document of it has them; until then with the fast ones, so a
// query never mixes two vector spaces.

// refineRetry is how long a document whose refinement failed is left alone.
const refineRetry = time.Minute

// errPostponed: ingestion started while a document was being refined; it is
// refined again (from the start) once ingestion is idle, without the
// failure back-off.
var errPostponed = errors.New("ingestion started: refinement postponed")

// refinerName is the refined vectors' model name ("contextual" for an
// unnamed model: the inference service's default embedding model). It must
// not be empty: an empty RefinedModel means "not refined".
func (e *Engine) refinerName() string {
	if n := embed.ModelName(e.cfg.Refiner); n != "" {
		return n
	}
	return "contextual"
}

// wakeRefiner nudges the refiner (after an ingestion ends).
func (e *Engine) wakeRefiner() {
	if e.cfg.Refiner == nil {
		return
	}
	select {
	case e.refineWake <- struct{}{}:
	default:
	}
}

// refiner runs until Close: it refines one document at a time while
// ingestion is idle.
func (e *Engine) refiner() {
	defer e.wg.Done()
	failed := map[docKey]time.Time{}
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-e.refineWake:
		case <-time.After(10 * time.Second):
		}
		for !e.queue.busy() && e.ctx.Err() == nil {
			d, ok := e.nextUnrefined(failed)
			if !ok {
				break
			}
			if err := e.refine(d); err != nil {
				if e.ctx.Err() != nil {
					return
				}
				if errors.Is(err, errPostponed) {
					break // ingestion first; the next wake-up resumes
				}
				failed[docKey{d.Collection, d.ID}] = time.Now()
				e.log.Warn("refining vectors failed; searching the collection with the fast vectors meanwhile",
					"collection", d.Collection, "document", d.ID, "err", err)
			}
		}
	}
}

// nextUnrefined finds a READY document without refined vectors.
func (e *Engine) nextUnrefined(failed map[docKey]time.Time) (store.Document, bool) {
	colls, err := e.st.ListCollections(e.ctx)
	if err != nil {
		return store.Document{}, false
	}
	name := e.refinerName()
	for _, c := range colls {
		docs, err := e.st.ListDocuments(e.ctx, c.Name)
		if err != nil {
			continue
		}
		for _, d := range docs {
			if d.State != store.StateReady || d.Chunks == 0 || d.RefinedModel == name {
				continue
			}
			if t, ok := failed[docKey{d.Collection, d.ID}]; ok && time.Since(t) < refineRetry {
				continue
			}
			return d, true
		}
	}
	return store.Document{}, false
}

// refine embeds a document's chunks with the refiner and stores the vectors.
func (e *Engine) refine(d store.Document) error {
	var chunks []store.Chunk
	tok := ""
	for {
		cs, next, err := e.st.ListChunks(e.ctx, d.Collection, d.ID, tok, 500)
		if err != nil {
			return err
		}
		chunks = append(chunks, cs...)
		if tok = next; tok == "" {
			break
		}
	}
	if len(chunks) != d.Chunks {
		return store.ErrConflict
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.cfg.EmbedTimeout)
	defer cancel()
	seqs := make([]int, 0, len(chunks))
	vecs := make([][]float32, 0, len(chunks))
	for i := 0; i < len(chunks); i += embed.BatchSize {
		if e.queue.busy() {
			// New documents go first: they are not searchable yet.
			return errPostponed
		}
		batch := chunks[i:min(i+embed.BatchSize, len(chunks))]
		texts := make([]string, len(batch))
		for j, c := range batch {
			texts[j] = embedText(c, contextual(e.refinerName()))
			seqs = append(seqs, c.Seq)
		}
		v, err := e.cfg.Refiner.Embed(ctx, texts)
		if err != nil {
			return err
		}
		if len(v) != len(batch) {
			return errors.New("refiner returned the wrong number of vectors")
		}
		for _, x := range v {
			embed.Normalize(x)
		}
		vecs = append(vecs, v...)
	}
	name := e.refinerName()
	if _, err := e.st.PutRefinedVectors(ctx, d.Collection, d.ID, d.Chunks, seqs, vecs, name); err != nil {
		return err
	}
	e.cache.refinedDoc(d.Collection, d.ID, chunkIDs(d.ID, seqs), vecs)
	e.log.Info("refined vectors", "collection", d.Collection, "document", d.ID, "chunks", len(vecs), "model", name)
	return nil
}

// embedText is what a chunk's vector is computed from: its heading, then
// its text, headed with withContext by the document card's summary (a
// contextual chunk header; see contextual).
func embedText(c store.Chunk, withContext bool) string {
	t := c.Text
	if c.Heading != "" && !strings.HasPrefix(c.Text, c.Heading) {
		t = c.Heading + "\n" + t
	}
	if c.Context != "" && withContext {
		t = c.Context + "\n" + t // the document card: a contextual chunk header
	}
	return t
}

// contextual reports whether an embedding model reads words in context, so
// that a document card heading every chunk helps it. A static table (the
// mean of per-token vectors) is diluted instead by a header all the chunks
// of a document share: on the sec-10-q dev set the header raised contextual
// MiniLM hybrid fact recall from 0.751 to 0.760 and lowered the static
// table's from 0.746 to 0.718 (searcheval, BENCHMARKS.md).
func contextual(model string) bool {
	return model != "static" && !strings.HasSuffix(model, "-static")
}
