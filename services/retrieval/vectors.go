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
type vectorCache struct {
	st  store.Store
	log *slog.Logger
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
}

// cacheCtx is the context of the cache's loads from the store: a load is
// shared by every search waiting on it, so no one request's deadline
// bounds it (the store's call timeout does).
var cacheCtx = context.Background()

func newVectorCache(st store.Store, log *slog.Logger, fastModel, refinedModel string, annThreshold int) *vectorCache {
	return &vectorCache{st: st, log: log, fastModel: fastModel, refinedModel: refinedModel, annThreshold: annThreshold,
		fastVecs: map[string]*index.Vectors{}, refVecs: map[string]*index.Vectors{},
		refinedOK: map[string]bool{}, docs: map[string][]store.Document{}}
}

// fast returns a collection's vector index of the embedder's vectors,
// loading it from the store on first use.
func (c *vectorCache) fast(coll string) *index.Vectors {
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
// store on first use.
func (c *vectorCache) refined(coll string) *index.Vectors {
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
		return
	}
	c.forget(ch.Coll)
	delete(c.fastVecs, ch.Coll)
	delete(c.refVecs, ch.Coll)
}
