package retrieval

import (
	"context"
	"log/slog"
	"sync"

	"github.com/pdfqa/pdfqa/services/retrieval/index"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// vectorCache owns the per-collection state searches read from memory: the
// fast and the refined vector indexes, whether a collection is searched
// with the refined ones, and its READY documents (with their cards, for
// scoping). Entries are loaded from the store on first use and dropped or
// patched by the events that change them: a document indexed, refined or
// deleted, a collection deleted. One mutex guards them all.
//
// Over a store that searches its own vectors (store.VectorSearcher:
// PostgreSQL's HNSW index) no vector is held in memory: the indexes are
// the store's (storeVectors), and the cache keeps per collection only
// which documents' vectors a search must leave out (another model's) and
// how many rows each document has (to choose an exact scan or the index).
type vectorCache struct {
	st  store.Store
	log *slog.Logger
	// vs is st when it searches its own vectors; nil for the embedded store.
	vs store.VectorSearcher
	// fastModel is the embedder's model: stored fast vectors of another
	// model are not loaded (they live in another space).
	fastModel string
	// refinedModel is the refiner's model name; "" without a refiner.
	refinedModel string
	annThreshold int

	mu        sync.Mutex
	fastVecs  map[string]*index.Vectors
	refVecs   map[string]*index.Vectors
	refinedOK map[string]bool             // refinedReady answers
	docs      map[string][]store.Document // readyDocs answers
	vdocs     map[string]*vecDocs         // storeVectors' documents
}

// vectorIndex is one collection's fast or refined vectors as searches and
// ingestion read them: the in-memory index.Vectors over the embedded
// store, storeVectors over a store that searches them itself.
type vectorIndex interface {
	// Search returns the k nearest vectors to q, best first, of the
	// documents allow (nil: all).
	Search(q []float32, k int, allow map[string]bool) []index.Hit
	// Dim is the vectors' dimension (0: none yet).
	Dim() int
	// Len is the number of vectors.
	Len() int
}

// cacheCtx is the context of the cache's loads from the store: a load is
// shared by every search waiting on it, so no one request's deadline
// bounds it (the store's call timeout does).
var cacheCtx = context.Background()

func newVectorCache(st store.Store, log *slog.Logger, fastModel, refinedModel string, annThreshold int) *vectorCache {
	vs, _ := st.(store.VectorSearcher)
	return &vectorCache{st: st, log: log, vs: vs, fastModel: fastModel, refinedModel: refinedModel, annThreshold: annThreshold,
		fastVecs: map[string]*index.Vectors{}, refVecs: map[string]*index.Vectors{},
		refinedOK: map[string]bool{}, docs: map[string][]store.Document{}, vdocs: map[string]*vecDocs{}}
}

// fast returns a collection's vector index of the embedder's vectors,
// loading it from the store on first use (the store's own search over a
// VectorSearcher).
func (c *vectorCache) fast(coll string) vectorIndex {
	if c.vs != nil {
		return &storeVectors{c: c, coll: coll}
	}
	return c.load(c.fastVecs, coll, c.st.Vectors, func(d store.Document) bool {
		if d.EmbedModel != c.fastModel {
			c.log.Warn("skipping vectors of another embedding model: the document is searched by keywords only until re-ingested",
				"collection", coll, "document", d.ID, "vectors_model", d.EmbedModel, "model", c.fastModel)
			return false
		}
		return true
	})
}

// refined returns a collection's refined vector index, loading it from the
// store on first use (the store's own search over a VectorSearcher).
func (c *vectorCache) refined(coll string) vectorIndex {
	if c.vs != nil {
		return &storeVectors{c: c, coll: coll, refined: true}
	}
	return c.load(c.refVecs, coll, c.st.RefinedVectors, func(d store.Document) bool { return d.RefinedModel == c.refinedModel })
}

// load returns cache[coll], loading it on first use with load, keeping the
// vectors of the documents keep accepts (documents the store does not list
// any more are kept: deletion removes them from the index).
func (c *vectorCache) load(cache map[string]*index.Vectors, coll string,
	load func(context.Context, string, func(string, []int, [][]float32)) error, keep func(store.Document) bool) *index.Vectors {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := cache[coll]; ok {
		return v
	}
	v := index.NewVectors()
	if c.annThreshold > 0 {
		v.ANNThreshold = c.annThreshold
	}
	docs := map[string]store.Document{}
	ds, err := c.st.ListDocuments(cacheCtx, coll)
	if err != nil {
		c.log.Error("listing documents to load vectors", "collection", coll, "err", err)
		return v // not cached either
	}
	for _, d := range ds {
		docs[d.ID] = d
	}
	err = load(cacheCtx, coll, func(doc string, seqs []int, vecs [][]float32) {
		if d, ok := docs[doc]; ok && !keep(d) {
			return
		}
		if !v.Add(doc, chunkIDs(doc, seqs), vecs) {
			c.log.Warn("skipping vectors of another dimension", "collection", coll, "document", doc)
		}
	})
	if err != nil {
		// not cached: the next search loads them again (a store outage
		// must not leave a collection searched without its vectors)
		c.log.Error("loading vectors", "collection", coll, "err", err)
		return v
	}
	cache[coll] = v
	return v
}

// refinedReady reports whether every READY document of coll has refined
// vectors (and there is at least one). The answer is cached per collection
// (searches are the hot path) and forgotten whenever a document of it is
// indexed, refined or deleted.
func (c *vectorCache) refinedReady(coll string) bool {
	if c.refinedModel == "" {
		return false
	}
	ok, err := cached(&c.mu, c.refinedOK, coll, func() (bool, error) {
		docs, err := c.st.ListDocuments(cacheCtx, coll)
		if err != nil {
			return false, err
		}
		n := 0
		for _, d := range docs {
			if d.State != store.StateReady || d.Chunks == 0 {
				continue
			}
			if d.RefinedModel != c.refinedModel {
				return false, nil
			}
			n++
		}
		return n > 0, nil
	})
	return err == nil && ok
}

// readyDocs returns a collection's READY documents, cached per collection
// until a document of it is indexed, refined or deleted.
func (c *vectorCache) readyDocs(coll string) []store.Document {
	ds, _ := cached(&c.mu, c.docs, coll, func() ([]store.Document, error) {
		all, err := c.st.ListDocuments(cacheCtx, coll)
		if err != nil {
			return nil, err
		}
		var ds []store.Document
		for _, d := range all {
			if d.State == store.StateReady {
				ds = append(ds, d)
			}
		}
		return ds, nil
	})
	return ds
}

// cached returns m[key] (m guarded by mu), computing and storing it on a
// miss; a computation that fails is returned, not stored. mu is not held
// while it computes.
func cached[T any](mu *sync.Mutex, m map[string]T, key string, compute func() (T, error)) (T, error) {
	mu.Lock()
	v, ok := m[key]
	mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := compute()
	if err != nil {
		var zero T
		return zero, err
	}
	mu.Lock()
	m[key] = v
	mu.Unlock()
	return v, nil
}

// forget drops coll's cached answers about its documents (under mu).
func (c *vectorCache) forget(coll string) {
	delete(c.refinedOK, coll)
	delete(c.docs, coll)
	delete(c.vdocs, coll)
}

// indexed records that doc was (re-)indexed with fast vectors vecs (nil:
// keyword-only) for the chunks ids; its refined vectors were dropped with
// the old index.
func (c *vectorCache) indexed(coll, doc string, ids []string, vecs [][]float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forget(coll)
	if v := c.fastVecs[coll]; v != nil {
		v.RemoveGroup(doc)
		if vecs != nil {
			v.Add(doc, ids, vecs)
		}
	}
	if v := c.refVecs[coll]; v != nil {
		v.RemoveGroup(doc)
	}
}

// refinedDoc records that doc's refined vectors are now vecs (for ids).
func (c *vectorCache) refinedDoc(coll, doc string, ids []string, vecs [][]float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forget(coll)
	if v := c.refVecs[coll]; v != nil {
		v.RemoveGroup(doc)
		v.Add(doc, ids, vecs)
	}
}

// deletedDoc records that doc was deleted.
func (c *vectorCache) deletedDoc(coll, doc string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forget(coll)
	for _, m := range []map[string]*index.Vectors{c.fastVecs, c.refVecs} {
		if v := m[coll]; v != nil {
			v.RemoveGroup(doc)
		}
	}
}

// deletedCollection records that coll was deleted.
func (c *vectorCache) deletedCollection(coll string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forget(coll)
	delete(c.fastVecs, coll)
	delete(c.refVecs, coll)
}

// chunkIDs returns the vector ids of a document's chunks seqs.
func chunkIDs(doc string, seqs []int) []string {
	ids := make([]string, len(seqs))
	for i, s := range seqs {
		ids[i] = chunkID(doc, s)
	}
	return ids
}

// changed applies a change another replica committed: a document indexed
// or refined drops the collection's vector indexes (reloaded from the
// store by the next search), a deletion removes what it deleted, and a
// zero Change (the change feed was lost for a while) drops everything.
func (c *vectorCache) changed(ch store.Change) {
	switch ch.What {
	case "job":
		return
	case "document_deleted":
		c.deletedDoc(ch.Coll, ch.Doc)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch == (store.Change{}) {
		clear(c.fastVecs)
		clear(c.refVecs)
		clear(c.refinedOK)
		clear(c.docs)
		clear(c.vdocs)
		return
	}
	c.forget(ch.Coll)
	delete(c.fastVecs, ch.Coll)
	delete(c.refVecs, ch.Coll)
}

// storeExactRows is the candidate row count below which (or below half of
// the store's table) storeVectors asks
// the store for an exact scan instead of its approximate index (unless
// Config.ANNThreshold says otherwise): a small collection, or a filter
// down to a few documents, is searched exactly, as the embedded store
// searches it. Lower than the in-memory index's threshold (20,000): on
// PostgreSQL the scan costs about 1.8 µs a row against 7-9 ms for an HNSW
// search (BenchmarkSearchVectors10k), so past 5,000 rows the index wins.
const storeExactRows = 5000

// storeVectors is a collection's fast (or refined) vectors searched by the
// store itself (store.VectorSearcher).
type storeVectors struct {
	c       *vectorCache
	coll    string
	refined bool
}

// vecDocs is what storeVectors needs to know of a collection's documents,
// for its fast ([0]) and refined ([1]) vectors: the documents whose vectors
// are another model's (left out, as the in-memory load leaves them out),
// and how many vectors each other document has.
type vecDocs struct {
	skip  [2][]string
	rows  [2]map[string]int
	total [2]int
	// table estimates the rows of every collection in the store's table
	table [2]int64
}

// vectorDocs returns coll's vecDocs, cached until a document of it is
// indexed, refined or deleted (forget).
func (c *vectorCache) vectorDocs(ctx context.Context, coll string) (*vecDocs, error) {
	return cached(&c.mu, c.vdocs, coll, func() (*vecDocs, error) {
		ds, err := c.st.ListDocuments(ctx, coll)
		if err != nil {
			return nil, err
		}
		v := &vecDocs{rows: [2]map[string]int{{}, {}}}
		for _, d := range ds {
			for kind, model := range [2]string{d.EmbedModel, d.RefinedModel} {
				want := c.fastModel
				if kind == 1 {
					want = c.refinedModel
				}
				switch {
				case model == want: // ("" too: an embedder without a model name)
					v.rows[kind][d.ID] = d.Chunks
					v.total[kind] += d.Chunks
				case model != "": // ("": no vectors of this kind)
					v.skip[kind] = append(v.skip[kind], d.ID)
				}
			}
		}
		for kind := range v.table {
			if v.table[kind], err = c.vs.VectorTableRows(ctx, kind == 1); err != nil {
				return nil, err
			}
		}
		if len(v.skip[0]) > 0 {
			c.log.Warn("skipping vectors of another embedding model: these documents are searched by keywords only until re-ingested",
				"collection", coll, "documents", v.skip[0], "model", c.fastModel)
		}
		return v, nil
	})
}

// Search implements vectorIndex. A store failure is logged and the search
// goes on without the vector list (the candidates' chunks are read from
// the same store next, so an outage fails the search there).
func (s *storeVectors) Search(q []float32, k int, allow map[string]bool) []index.Hit {
	hits, _ := searchVectors(cacheCtx, s, q, k, allow) // cacheCtx never ends: no error
	return hits
}

// searchVectors searches vi under the request's ctx when vi searches in
// the store (the in-memory index has nothing to wait on). A store failure
// other than ctx's end is logged and the search goes on without the vector
// list, as Search does; ctx's end fails the search.
func searchVectors(ctx context.Context, vi vectorIndex, q []float32, k int, allow map[string]bool) ([]index.Hit, error) {
	s, ok := vi.(*storeVectors)
	if !ok {
		return vi.Search(q, k, allow), nil
	}
	hits, err := s.SearchContext(ctx, q, k, allow)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.c.log.Error("vector search in the store failed; ranking by keywords only", "collection", s.coll, "refined", s.refined, "err", err)
	}
	return hits, nil
}

// SearchContext is Search under ctx's deadline (the store's call timeout
// when it has none), its failure returned.
func (s *storeVectors) SearchContext(ctx context.Context, q []float32, k int, allow map[string]bool) ([]index.Hit, error) {
	if k <= 0 || len(q) == 0 {
		return nil, nil
	}
	d, err := s.c.vectorDocs(ctx, s.coll)
	if err != nil {
		return nil, err
	}
	kind := 0
	if s.refined {
		kind = 1
	}
	vq := store.VectorQuery{Coll: s.coll, Refined: s.refined, Vector: q, K: k, Skip: d.skip[kind]}
	rows := d.total[kind]
	if allow != nil {
		vq.Allow, rows = make([]string, 0, len(allow)), 0
		for doc, ok := range allow {
			if ok {
				vq.Allow = append(vq.Allow, doc)
				rows += d.rows[kind][doc]
			}
		}
	}
	limit := storeExactRows
	if s.c.annThreshold > 0 {
		limit = s.c.annThreshold
	}
	// The index walks every collection's rows: past the filter's k
	// (iterative scan) a collection that is a small part of the table
	// costs more through it than scanned (searchbench, a 10k collection
	// beside a 100k one: p50 74.8 ms through HNSW, 12.7-27.1 ms scanned).
	vq.Exact = rows < limit || int64(rows)*2 < d.table[kind]
	scored, err := s.c.vs.SearchVectors(ctx, vq)
	if err != nil {
		return nil, err
	}
	hits := make([]index.Hit, len(scored))
	for i, x := range scored {
		hits[i] = index.Hit{ID: chunkID(x.DocID, x.Seq), Score: x.Score}
	}
	return hits, nil
}

// Dim implements vectorIndex (0 when the store cannot say: ingestion then
// does not refuse the document's vectors, and a search only ever compares
// vectors of the query's dimension).
func (s *storeVectors) Dim() int {
	n, err := s.c.vs.VectorDim(cacheCtx, s.coll, s.refined)
	if err != nil {
		s.c.log.Error("reading the vectors' dimension", "collection", s.coll, "refined", s.refined, "err", err)
	}
	return n
}

// Len implements vectorIndex: the vectors a search may return (another
// model's left out).
func (s *storeVectors) Len() int {
	d, err := s.c.vectorDocs(cacheCtx, s.coll)
	n := 0
	if err == nil {
		kind := 0
		if s.refined {
			kind = 1
		}
		n, err = s.c.vs.VectorCount(cacheCtx, s.coll, s.refined, d.skip[kind])
	}
	if err != nil {
		s.c.log.Error("counting vectors", "collection", s.coll, "refined", s.refined, "err", err)
	}
	return n
}
