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

// errLeaseLost: another replica took the refinement over (this one did
// not renew its lease in time).
var errLeaseLost = errors.New("the refinement's lease was taken over by another replica")

// refineLeaseKey names the lease on refining a document (store.Leaser).
func refineLeaseKey(coll, id string) string { return "refine/" + coll + "/" + id }

// refineLease is this replica's hold on refining one document: on a store
// shared by replicas (store.Leaser), a lease of JobLease that refine renews
// between batches; with the embedded store, none is needed (one process).
type refineLease struct {
	e          *Engine
	l          store.Leaser
	key, owner string
}

// takeRefineLease tries to take the lease on refining d; ok is false when
// another replica holds it.
func (e *Engine) takeRefineLease(d store.Document) (lease *refineLease, ok bool, err error) {
	lease = &refineLease{e: e, key: refineLeaseKey(d.Collection, d.ID), owner: e.owner()}
	l, shared := e.st.(store.Leaser)
	if !shared {
		return lease, true, nil
	}
	lease.l = l
	ok, err = l.Acquire(e.ctx, lease.key, lease.owner, e.cfg.JobLease)
	return lease, ok, err
}

// renew extends the lease; false when another replica took it over (or
// the store cannot say: the work stops rather than risk running twice).
func (r *refineLease) renew() bool {
	if r.l == nil {
		return true
	}
	ok, err := r.l.Acquire(r.e.ctx, r.key, r.owner, r.e.cfg.JobLease)
	if err != nil {
		r.e.log.Warn("cannot renew a refinement lease", "lease", r.key, "err", err)
	}
	return ok && err == nil
}

// release gives the lease back (a released lease is free at once; one a
// killed replica held expires after JobLease).
func (r *refineLease) release() {
	if r.l == nil {
		return
	}
	// not under e.ctx: a lease is given back on Close too
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.l.ReleaseLease(ctx, r.key, r.owner); err != nil {
		r.e.log.Warn("cannot release a refinement lease (it expires)", "lease", r.key, "err", err)
	}
}

// refiner runs until Close: it refines one document at a time while
// ingestion is idle. With replicas on one store, each document is refined
// by the one replica that holds its lease; the others skip it for a lease
// period, and take it over when its holder dies.
func (e *Engine) refiner() {
	defer e.wg.Done()
	failed := map[docKey]time.Time{}
	held := map[docKey]time.Time{} // by other replicas, when last seen
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-e.refineWake:
		case <-time.After(min(10*time.Second, e.cfg.JobLease)):
		}
		for !e.queue.busy() && e.ctx.Err() == nil {
			d, ok := e.nextUnrefined(failed, held)
			if !ok {
				break
			}
			k := docKey{d.Collection, d.ID}
			lease, ok, err := e.takeRefineLease(d)
			switch {
			case err != nil && e.ctx.Err() != nil:
				return
			case err != nil:
				failed[k] = time.Now()
				e.log.Warn("cannot take the lease on refining a document", "collection", d.Collection, "document", d.ID, "err", err)
				continue
			case !ok:
				held[k] = time.Now() // another replica refines it
				continue
			}
			// Read it again under the lease: another replica may have
			// refined it and given the lease back since it was listed.
			fresh, gerr := e.st.GetDocument(e.ctx, d.Collection, d.ID)
			if gerr != nil || fresh.RefinedModel == e.refinerName() || fresh.State != store.StateReady {
				lease.release()
				if gerr != nil && !errors.Is(gerr, store.ErrNotFound) {
					failed[k] = time.Now()
				}
				continue
			}
			d = fresh
			err = e.refine(d, lease)
			lease.release()
			if err != nil {
				if e.ctx.Err() != nil {
					return
				}
				if errors.Is(err, errPostponed) {
					break // ingestion first; the next wake-up resumes
				}
				if errors.Is(err, errLeaseLost) {
					held[k] = time.Now()
					e.log.Warn("refinement taken over by another replica", "collection", d.Collection, "document", d.ID)
					continue
				}
				failed[docKey{d.Collection, d.ID}] = time.Now()
				e.log.Warn("refining vectors failed; searching the collection with the fast vectors meanwhile",
					"collection", d.Collection, "document", d.ID, "err", err)
			}
		}
	}
}

// nextUnrefined finds a READY document without refined vectors.
// Documents another replica was seen refining (held) are skipped for a
// lease period.
func (e *Engine) nextUnrefined(failed, held map[docKey]time.Time) (store.Document, bool) {
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
			if t, ok := held[docKey{d.Collection, d.ID}]; ok && time.Since(t) < e.cfg.JobLease {
				continue
			}
			return d, true
		}
	}
	return store.Document{}, false
}

// refine embeds a document's chunks with the refiner and stores the
// vectors, renewing lease between batches and before the commit.
func (e *Engine) refine(d store.Document, lease *refineLease) error {
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
		if !lease.renew() {
			return errLeaseLost
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
	if !lease.renew() {
		return errLeaseLost
	}
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
