package retrieval

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/services/retrieval/index"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// randUnit returns a random unit vector of dim dimensions.
func randUnit(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	var n float64
	for i := range v {
		x := r.NormFloat64()
		v[i], n = float32(x), n+x*x
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / math.Sqrt(n))
	}
	return v
}

// commitVecDoc indexes document id of len(vecs) chunks with those fast
// vectors of model in st.
func commitVecDoc(t *testing.T, st store.Store, coll, id, model string, vecs [][]float32) {
	t.Helper()
	if _, _, err := st.AddDocument(t.Context(), store.Document{ID: id, Collection: coll, Name: id + ".pdf", SHA256: id}, ""); err != nil {
		t.Fatal(err)
	}
	chunks := make([]store.Chunk, len(vecs))
	for i := range chunks {
		chunks[i] = store.Chunk{DocID: id, Seq: i, Text: "revenue", Terms: map[string]int{"revenu": 1}, Len: 1}
	}
	if _, err := st.CommitIndex(t.Context(), coll, id, chunks, vecs, func(d *store.Document) {
		d.State, d.Chunks, d.EmbedModel = store.StateReady, len(vecs), model
	}); err != nil {
		t.Fatal(err)
	}
}

func hitIDs(hs []index.Hit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.ID
	}
	return out
}

// Over PostgreSQL the vector cache holds no vector: searches run in the
// database (storeVectors). Its answers are the in-memory index's over the
// embedded store holding the same documents — fast and refined vectors,
// another model's vectors left out, document filters, after a document is
// re-indexed, refined or deleted — exactly below the row threshold (both
// scan exactly) and at recall@10 >= 0.95 of the exact top 10 above it
// (both walk an HNSW graph). A document committed through another store
// instance (another replica) is found without any cache event.
func TestStoreVectorsMatchTheInMemoryIndex(t *testing.T) {
	dsn := pgtest.DSN(t)
	pg, err := store.OpenPostgres(context.Background(), dsn, store.PostgresOptions{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Close() })
	bolt := openStore(t)
	r := rand.New(rand.NewPCG(12, 12))
	const dim, perDoc = 384, 60
	docVecs := map[string][][]float32{}
	var docs []string
	for d := range 10 {
		id := fmt.Sprintf("d%d", d)
		docs = append(docs, id)
		docVecs[id] = make([][]float32, perDoc)
		for i := range docVecs[id] {
			docVecs[id][i] = randUnit(r, dim)
		}
	}
	other := [][]float32{randUnit(r, dim), randUnit(r, dim)}
	for _, st := range []store.Store{bolt, pg} {
		for _, id := range docs {
			commitVecDoc(t, st, "c", id, "fast", docVecs[id])
		}
		commitVecDoc(t, st, "c", "old", "another-model", other)
	}
	queries := make([][]float32, 30)
	for i := range queries {
		queries[i] = randUnit(r, dim)
	}
	queries = append(queries, other[0]) // nearest is another model's vector

	mem := newVectorCache(bolt, quietLog(), "fast", "refined", 0)
	db := newVectorCache(pg, quietLog(), "fast", "refined", 0)
	if _, ok := db.fast("c").(*storeVectors); !ok {
		t.Fatalf("over PostgreSQL the cache's index is %T, want the store's search", db.fast("c"))
	}
	if _, ok := mem.fast("c").(*index.Vectors); !ok {
		t.Fatalf("over the embedded store the cache's index is %T, want the in-memory one", mem.fast("c"))
	}
	filters := []map[string]bool{nil, {"d1": true, "d4": true}, {"d7": true, "old": true}, {"none": true}}
	same := func(what string) {
		t.Helper()
		for _, refined := range []bool{false, true} {
			a, b := mem.fast("c"), db.fast("c")
			if refined {
				a, b = mem.refined("c"), db.refined("c")
			}
			if a.Len() != b.Len() || a.Dim() != b.Dim() {
				t.Fatalf("%s, refined %v: in memory %d vectors of %d dims, in the database %d of %d", what, refined, a.Len(), a.Dim(), b.Len(), b.Dim())
			}
			for qi, q := range queries {
				for fi, allow := range filters {
					for _, k := range []int{1, 10, 100} {
						want, got := a.Search(q, k, allow), b.Search(q, k, allow)
						if !slices.Equal(hitIDs(got), hitIDs(want)) {
							t.Fatalf("%s, refined %v, query %d, filter %d, k %d:\n database %v\n in memory %v", what, refined, qi, fi, k, hitIDs(got), hitIDs(want))
						}
						for i := range got {
							if math.Abs(got[i].Score-want[i].Score) > 1e-5 {
								t.Fatalf("%s: score of %s %v in the database, %v in memory", what, got[i].ID, got[i].Score, want[i].Score)
							}
						}
					}
				}
			}
		}
	}
	same("loaded")
	// the rows a search weighs to choose the exact scan or the index: every
	// chunk of the model's documents (an embedder without a model name
	// counts its own unnamed documents, as the in-memory load keeps them)
	for _, x := range []struct {
		model string
		want  int
	}{{"fast", 10 * perDoc}, {"another-model", 2}, {"", 0}} {
		c := newVectorCache(pg, quietLog(), x.model, "", 0)
		if d, err := c.vectorDocs(t.Context(), "c"); err != nil || d.total[0] != x.want {
			t.Errorf("model %q: %v rows, %v; want %d", x.model, d, err, x.want)
		}
	}
	if got := db.fast("c").Search(other[0], 5, nil); len(got) == 0 || got[0].ID == chunkID("old", 0) {
		t.Fatalf("another model's vector searched: %v", hitIDs(got))
	}

	// refined vectors for some documents (both stores, the caches told)
	refine := func(id string) {
		vecs := make([][]float32, perDoc)
		seqs := make([]int, perDoc)
		for i := range vecs {
			seqs[i], vecs[i] = i, randUnit(r, dim)
		}
		for _, st := range []store.Store{bolt, pg} {
			if _, err := st.PutRefinedVectors(t.Context(), "c", id, perDoc, seqs, vecs, "refined"); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []*vectorCache{mem, db} {
			c.refinedDoc("c", id, chunkIDs(id, seqs), vecs)
		}
	}
	refine("d1")
	refine("d2")
	same("refined d1, d2")

	// re-index d1 (its refined vectors go) and delete d4
	vecs := [][]float32{randUnit(r, dim), randUnit(r, dim), randUnit(r, dim)}
	for _, st := range []store.Store{bolt, pg} {
		if _, err := st.DeleteDocument(t.Context(), "c", "d1"); err != nil {
			t.Fatal(err)
		}
		commitVecDoc(t, st, "c", "d1", "fast", vecs)
		if _, err := st.DeleteDocument(t.Context(), "c", "d4"); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*vectorCache{mem, db} {
		c.indexed("c", "d1", chunkIDs("d1", []int{0, 1, 2}), vecs)
		c.deletedDoc("c", "d4")
	}
	same("re-indexed d1, deleted d4")

	// another replica commits a document: found through this cache at once
	pgB, err := store.OpenPostgres(context.Background(), dsn, store.PostgresOptions{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pgB.Close() })
	fresh := randUnit(r, dim)
	commitVecDoc(t, pgB, "c", "new", "fast", [][]float32{fresh})
	if got := db.fast("c").Search(fresh, 3, nil); len(got) == 0 || got[0].ID != chunkID("new", 0) {
		t.Fatalf("a document committed through another store instance is not found: %v", hitIDs(got))
	}
	if got := db.fast("c").Search(fresh, 3, map[string]bool{"new": true}); len(got) != 1 || got[0].ID != chunkID("new", 0) {
		t.Fatalf("filtered to the new document: %v", hitIDs(got))
	}

	// Above the row threshold both walk an HNSW graph: recall against the
	// exact top 10 of the same store (the caches with the default
	// threshold scan exactly, shown equal above).
	memANN := newVectorCache(bolt, quietLog(), "fast", "refined", 100)
	dbANN := newVectorCache(pg, quietLog(), "fast", "refined", 100)
	var recMem, recDB float64
	for _, q := range queries[:30] {
		for _, x := range []struct {
			exact, ann *vectorCache
			sum        *float64
		}{{mem, memANN, &recMem}, {db, dbANN, &recDB}} {
			want := hitIDs(x.exact.fast("c").Search(q, 10, nil))
			n := 0
			for _, id := range hitIDs(x.ann.fast("c").Search(q, 10, nil)) {
				if slices.Contains(want, id) {
					n++
				}
			}
			*x.sum += float64(n) / 10
		}
	}
	recMem, recDB = recMem/30, recDB/30
	t.Logf("recall@10 through HNSW: in memory %.3f, in the database %.3f", recMem, recDB)
	if recDB < 0.95 {
		t.Errorf("database HNSW recall@10 %.3f < 0.95", recDB)
	}
}
