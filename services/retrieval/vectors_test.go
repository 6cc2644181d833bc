package retrieval

import (
	"testing"

	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// commitDoc indexes a READY document of n chunks in coll, with fast vectors
// (dimension 2) when vecs is set.
// openStore opens an embedded store in a temporary folder for one test.
func openStore(t *testing.T) *store.Bolt {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func commitDoc(t *testing.T, st store.Store, coll, id string, n int, vecs bool) ([]string, [][]float32) {
	t.Helper()
	if _, _, err := st.AddDocument(t.Context(), store.Document{ID: id, Collection: coll, Name: id + ".pdf", SHA256: id}, ""); err != nil {
		t.Fatal(err)
	}
	chunks := make([]store.Chunk, n)
	var vs [][]float32
	ids := make([]string, n)
	for i := range chunks {
		chunks[i] = store.Chunk{DocID: id, Seq: i, Text: "revenue", Terms: map[string]int{"revenu": 1}, Len: 1}
		ids[i] = chunkID(id, i)
		if vecs {
			vs = append(vs, []float32{1, float32(i)})
		}
	}
	if _, err := st.CommitIndex(t.Context(), coll, id, chunks, vs, func(d *store.Document) {
		d.State, d.Chunks, d.Card = store.StateReady, n, store.Card{Title: id + " card"}
		d.EmbedModel = ""
		if vecs {
			d.EmbedModel = "fast"
		}
	}); err != nil {
		t.Fatal(err)
	}
	return ids, vs
}

func refineDoc(t *testing.T, st store.Store, c *vectorCache, coll, id string, n int) {
	t.Helper()
	seqs := make([]int, n)
	vecs := make([][]float32, n)
	for i := range seqs {
		seqs[i], vecs[i] = i, []float32{0, 1, float32(i)}
	}
	if _, err := st.PutRefinedVectors(t.Context(), coll, id, n, seqs, vecs, "refined"); err != nil {
		t.Fatal(err)
	}
	c.refinedDoc(coll, id, chunkIDs(id, seqs), vecs)
}

// The cache loads once and is then patched by the events that change a
// collection: a document indexed, refined or deleted, the collection
// deleted. Its answers match what a fresh load from the store gives.
func TestVectorCacheInvalidation(t *testing.T) {
	st := openStore(t)
	c := newVectorCache(st, quietLog(), "fast", "refined", 0)
	commitDoc(t, st, "c", "d1", 1, true)
	commitDoc(t, st, "c", "d2", 1, true)

	fast := c.fast("c")
	if fast.Len() != 2 || len(c.readyDocs("c")) != 2 || c.refinedReady("c") {
		t.Fatalf("loaded: %d fast vectors, %d ready docs, refinedReady %v", fast.Len(), len(c.readyDocs("c")), c.refinedReady("c"))
	}
	if c.refined("c").Len() != 0 {
		t.Fatal("refined vectors before any refinement")
	}

	// refine: the answers are forgotten; the refined index is patched.
	refineDoc(t, st, c, "c", "d1", 1)
	if c.refinedReady("c") {
		t.Error("refinedReady with d2 not refined")
	}
	if _, err := st.PutRefinedVectors(t.Context(), "c", "d2", 1, []int{0}, [][]float32{{1, 1, 1}}, "refined"); err != nil {
		t.Fatal(err)
	}
	if c.refinedReady("c") {
		t.Error("refinedReady answered from the store instead of the cache")
	}
	c.refinedDoc("c", "d2", []string{chunkID("d2", 0)}, [][]float32{{1, 1, 1}})
	if !c.refinedReady("c") || c.refined("c").Len() != 2 {
		t.Fatalf("after refining both: refinedReady %v, %d refined vectors", c.refinedReady("c"), c.refined("c").Len())
	}

	// index: d1 re-indexed with 3 chunks; its refined vectors are gone
	// (the store dropped them), so the collection is not refined-ready.
	if _, err := st.DeleteDocument(t.Context(), "c", "d1"); err != nil {
		t.Fatal(err)
	}
	ids, vecs := commitDoc(t, st, "c", "d1", 3, true)
	c.indexed("c", "d1", ids, vecs)
	if c.fast("c") != fast {
		t.Error("indexing reloaded the fast index instead of patching it")
	}
	if fast.Len() != 4 || c.refined("c").Len() != 1 || c.refinedReady("c") {
		t.Errorf("after re-indexing d1: %d fast, %d refined, refinedReady %v; want 4, 1, false",
			fast.Len(), c.refined("c").Len(), c.refinedReady("c"))
	}
	// index keyword-only: the document's old fast vectors leave the index.
	if _, err := st.DeleteDocument(t.Context(), "c", "d2"); err != nil {
		t.Fatal(err)
	}
	commitDoc(t, st, "c", "d2", 1, false)
	c.indexed("c", "d2", []string{chunkID("d2", 0)}, nil)
	if fast.Len() != 3 {
		t.Errorf("after keyword-only re-index of d2: %d fast vectors, want 3", fast.Len())
	}
	fresh := newVectorCache(st, quietLog(), "fast", "refined", 0)
	if fresh.fast("c").Len() != fast.Len() || fresh.refined("c").Len() != c.refined("c").Len() {
		t.Errorf("patched cache (%d fast, %d refined) differs from a fresh load (%d, %d)",
			fast.Len(), c.refined("c").Len(), fresh.fast("c").Len(), fresh.refined("c").Len())
	}

	// delete a document: gone from both indexes and from readyDocs.
	refineDoc(t, st, c, "c", "d1", 3)
	if fast.Len() != 3 || c.refined("c").Len() != 3 {
		t.Fatalf("after refining d1 again: %d fast, %d refined; want 3, 3", fast.Len(), c.refined("c").Len())
	}
	if _, err := st.DeleteDocument(t.Context(), "c", "d1"); err != nil {
		t.Fatal(err)
	}
	c.deletedDoc("c", "d1")
	if fast.Len() != 0 || c.refined("c").Len() != 0 {
		t.Errorf("after deleting d1: %d fast, %d refined; want 0, 0", fast.Len(), c.refined("c").Len())
	}
	if ds := c.readyDocs("c"); len(ds) != 1 || ds[0].ID != "d2" {
		t.Errorf("ready docs after deleting d1: %v", ds)
	}

	// delete the collection: everything of it is dropped, then reloaded
	// (empty) on next use.
	if _, err := st.DeleteCollection(t.Context(), "c"); err != nil {
		t.Fatal(err)
	}
	c.deletedCollection("c")
	if c.fast("c") == fast || c.fast("c").Len() != 0 || c.refined("c").Len() != 0 || len(c.readyDocs("c")) != 0 || c.refinedReady("c") {
		t.Error("a deleted collection's state survived in the cache")
	}
}

func TestVectorCacheWithoutRefiner(t *testing.T) {
	st := openStore(t)
	c := newVectorCache(st, quietLog(), "fast", "", 0)
	commitDoc(t, st, "c", "d1", 1, true)
	if c.refinedReady("c") {
		t.Error("refinedReady without a refiner")
	}
	// Vectors of another model are not loaded.
	other := newVectorCache(st, quietLog(), "another-model", "", 0)
	if other.fast("c").Len() != 0 {
		t.Error("vectors of another model loaded")
	}
}
