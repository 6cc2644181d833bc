package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	bolt "go.etcd.io/bbolt"

	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/services/retrieval/index"
)

// bulkDocs returns n random documents as the ingestion path would index
// them: text analysed into terms, several blocks of chunks, vectors (one
// document without any), chunks repeated within and across documents.
func bulkDocs(seed uint64, n int) []BulkDocument {
	r := rand.New(rand.NewPCG(seed, 5))
	words := strings.Fields("revenue quarter income cash margin growth cloud segment lease debt tax asset fiscal guidance demand supply")
	var out []BulkDocument
	var prev string
	for d := range n {
		id := fmt.Sprintf("doc%03d", d)
		doc := BulkDocument{Doc: Document{ID: id, Name: id + ".pdf", SHA256: "sha-" + id, Pages: 3, State: StateReady, EmbedModel: "m",
			Metadata: map[string]string{"k": id}, Card: Card{Issuer: "Issuer " + id}}}
		m := 1 + r.IntN(70)
		for i := range m {
			var text string
			switch {
			case prev != "" && r.IntN(8) == 0:
				text = prev // a repeat (ties)
			default:
				var b strings.Builder
				for range 3 + r.IntN(40) {
					if r.IntN(6) == 0 {
						fmt.Fprintf(&b, "%d ", r.IntN(500))
					} else {
						b.WriteString(words[int(float64(len(words))*r.Float64()*r.Float64())] + " ")
					}
				}
				text = b.String()
			}
			prev = text
			c := Chunk{DocID: id, Seq: i, DocName: id + ".pdf", Page: 1 + i/10, PageEnd: 1 + i/10, Text: text, Kind: KindText, Terms: map[string]int{}}
			for _, w := range index.Terms(text) {
				c.Terms[w]++
				c.Len++
			}
			c.Tokens = c.Len
			doc.Chunks = append(doc.Chunks, c)
			if d != 2 {
				v := make([]float32, 8)
				for j := range v {
					v[j] = r.Float32()
				}
				doc.Vecs = append(doc.Vecs, v)
			}
		}
		// chunks in an order other than by seq (CommitIndex takes them so)
		r.Shuffle(len(doc.Chunks), func(i, j int) {
			doc.Chunks[i], doc.Chunks[j] = doc.Chunks[j], doc.Chunks[i]
			if doc.Vecs != nil {
				doc.Vecs[i], doc.Vecs[j] = doc.Vecs[j], doc.Vecs[i]
			}
		})
		doc.Doc.Chunks = m
		out = append(out, doc)
	}
	return out
}

// ingest writes docs into coll the way ingestion does: AddDocument, then
// CommitIndex.
func ingest(t *testing.T, st Store, coll string, docs []BulkDocument) {
	t.Helper()
	for _, d := range docs {
		if _, _, err := st.AddDocument(t.Context(), Document{ID: d.Doc.ID, Collection: coll, Name: d.Doc.Name, SHA256: d.Doc.SHA256}, "pw"); err != nil {
			t.Fatal(err)
		}
		want := d.Doc
		if _, err := st.CommitIndex(t.Context(), coll, d.Doc.ID, d.Chunks, d.Vecs, func(x *Document) {
			x.Pages, x.State, x.Chunks, x.EmbedModel, x.Metadata, x.Card = want.Pages, want.State, want.Chunks, want.EmbedModel, want.Metadata, want.Card
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func bulkLoad(st Store, coll string, docs []BulkDocument) (Collection, error) {
	i := 0
	return st.(BulkLoader).BulkLoad(context.Background(), coll, func() (*BulkDocument, error) {
		if i == len(docs) {
			return nil, nil
		}
		i++
		return &docs[i-1], nil
	})
}

// A collection bulk-loaded holds what the ingestion path writes for the
// same documents: collection counts, documents, chunks, vectors,
// postings, the block-max records (compared raw), and what BM25 ranks;
// after deleting a document from both, still the same. Small runs and
// transactions make the load spill many run files and commit many times.
func TestBulkLoadIsTheIngestionPath(t *testing.T) {
	defer func(r, c, n int) { runBytes, bulkTxChunks, bulkTxRecords = r, c, n }(runBytes, bulkTxChunks, bulkTxRecords)
	runBytes, bulkTxChunks, bulkTxRecords = 4<<10, 50, 300
	docs := bulkDocs(1, 12)
	eachStore(t, func(t *testing.T, st Store) {
		ingest(t, st, "ing", docs)
		c, err := bulkLoad(st, "blk", docs)
		if err != nil {
			t.Fatal(err)
		}
		if c.Name != "blk" || c.Documents != len(docs) {
			t.Fatalf("BulkLoad returned %+v", c)
		}
		sameIndex(t, st, "ing", "blk")
		if un, err := st.Unfinished(t.Context()); err != nil || len(un) != 0 {
			t.Fatalf("jobs left: %v %v", un, err)
		}
		for _, coll := range []string{"ing", "blk"} {
			if _, err := st.DeleteDocument(t.Context(), coll, "doc004"); err != nil {
				t.Fatal(err)
			}
		}
		sameIndex(t, st, "ing", "blk")
	})
}

// sameIndex fails unless collections a and b hold the same index.
func sameIndex(t *testing.T, st Store, a, b string) {
	t.Helper()
	ctx := t.Context()
	ca, err := st.GetCollection(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := st.GetCollection(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if ca.Documents != cb.Documents || ca.Chunks != cb.Chunks || ca.TotalLen != cb.TotalLen {
		t.Fatalf("collections: %+v vs %+v", ca, cb)
	}
	da, _ := st.ListDocuments(ctx, a)
	db, err := st.ListDocuments(ctx, b)
	if err != nil || len(da) != len(db) || len(da) != ca.Documents {
		t.Fatalf("documents: %d vs %d (%v)", len(da), len(db), err)
	}
	for i := range da {
		x, y := da[i], db[i]
		x.Collection, x.Seq, x.CreateTime, x.UpdateTime = "", 0, y.CreateTime, y.UpdateTime
		y.Collection, y.Seq = "", 0
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("document %d:\n%+v\n%+v", i, x, y)
		}
	}
	list := func(coll string) []Chunk {
		var out []Chunk
		for tok := ""; ; {
			cs, next, err := st.ListChunks(ctx, coll, "", tok, 7)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, cs...)
			if next == "" {
				return out
			}
			tok = next
		}
	}
	la, lb := list(a), list(b)
	if int64(len(la)) != ca.Chunks || !reflect.DeepEqual(la, lb) {
		t.Fatalf("ListChunks: %d vs %d chunks, or different", len(la), len(lb))
	}
	vecs := func(coll string) map[string][]float32 {
		out := map[string][]float32{}
		if err := st.Vectors(ctx, coll, func(doc string, seqs []int, vs [][]float32) {
			for i, s := range seqs {
				out[fmt.Sprint(doc, "-", s)] = vs[i]
			}
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if va, vb := vecs(a), vecs(b); len(va) == 0 || !reflect.DeepEqual(va, vb) {
		t.Fatalf("vectors: %d vs %d, or different", len(va), len(vb))
	}
	terms := map[string]bool{}
	for _, c := range la {
		for w := range c.Terms {
			terms[w] = true
		}
	}
	all := slices.Sorted(func(yield func(string) bool) {
		for w := range terms {
			if !yield(w) {
				return
			}
		}
	})
	posts := func(coll string) map[string][]Posting {
		out := map[string][]Posting{}
		if err := st.Postings(ctx, coll, all, func(term string, _ int64, ps []Posting) { out[term] = ps }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if pa, pb := posts(a), posts(b); len(pa) < 10 || !reflect.DeepEqual(pa, pb) {
		t.Fatalf("postings: %d vs %d terms, or different", len(pa), len(pb))
	}
	kr := st.(KeywordRanker)
	_, fa, err := kr.DocFreqs(ctx, a, all)
	if err != nil {
		t.Fatal(err)
	}
	_, fb, _ := kr.DocFreqs(ctx, b, all)
	if !slices.Equal(fa, fb) {
		t.Fatalf("DocFreqs differ: %v vs %v", fa, fb)
	}
	for i, q := range [][]string{all[:2], all[3:7], all[len(all)-4:], all} {
		w, idf := make([]float64, len(q)), make([]float64, len(q))
		for j := range q {
			w[j], idf[j] = 1, 1+float64(j)/3
		}
		for _, k := range []int{1, 5, 1000} {
			ra, err := kr.RankBM25(ctx, a, q, w, idf, 20, k, nil)
			if err != nil {
				t.Fatal(err)
			}
			rb, err := kr.RankBM25(ctx, b, q, w, idf, 20, k, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(ra) == 0 || !reflect.DeepEqual(ra, rb) {
				t.Fatalf("query %d k %d: RankBM25 %v vs %v", i, k, ra, rb)
			}
		}
	}
	if ra, rb := rawIndex(t, st, a), rawIndex(t, st, b); len(ra) == 0 || !slices.Equal(ra, rb) {
		t.Fatalf("raw index records: %d vs %d, or different", len(ra), len(rb))
	}
}

// rawIndex lists a collection's chunks, vectors, postings and term_docs
// records as stored (the collection's name left out).
func rawIndex(t *testing.T, st Store, coll string) []string {
	t.Helper()
	var out []string
	switch s := st.(type) {
	case *Bolt:
		p := key(coll, "")
		err := s.db.View(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bChunks, bVectors, bPostings, bTermDocs} {
				c := tx.Bucket(b).Cursor()
				for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
					out = append(out, fmt.Sprintf("%s %q %x", b, k[len(p):], v))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	case *Postgres:
		for _, q := range []string{
			`SELECT format('%s %s %s', doc, seq, chunk) FROM chunks WHERE coll = $1 ORDER BY doc, seq`,
			`SELECT format('%s %s %s %s', doc, seq, dim, embedding) FROM vectors WHERE coll = $1 ORDER BY doc, seq`,
			`SELECT format('%s %s %s %s %s', term, doc, seq, tf, len) FROM postings WHERE coll = $1 ORDER BY term, doc, seq`,
			`SELECT format('%s %s %s %s %s %s %s %s %s', term, doc, n, blk, btf, blen, seqs, tfs, lens) FROM term_docs WHERE coll = $1 ORDER BY term, doc`,
		} {
			rows, err := s.DB().Pool.Query(t.Context(), q, coll)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				out = append(out, line)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
		}
	default:
		t.Fatalf("no raw reader for %T", st)
	}
	return out
}

// A load into an existing collection is refused; a load whose input is
// bad (a document twice, more vectors than chunks) or whose source fails
// leaves nothing behind: no collection, no record, and the name can be
// loaded again.
func TestBulkLoadRefusesAndLeavesNothing(t *testing.T) {
	defer func(r, c, n int) { runBytes, bulkTxChunks, bulkTxRecords = r, c, n }(runBytes, bulkTxChunks, bulkTxRecords)
	runBytes, bulkTxChunks, bulkTxRecords = 4<<10, 50, 300
	docs := bulkDocs(2, 6)
	eachStore(t, func(t *testing.T, st Store) {
		ingest(t, st, "ing", docs[:1])
		if _, err := bulkLoad(st, "ing", docs); !errors.Is(err, ErrAlreadyExists) {
			t.Fatalf("load into an existing collection: %v", err)
		}
		extra := slices.Clone(docs[3].Vecs)
		bad := [][]BulkDocument{
			append(slices.Clone(docs), docs[1]),                                                    // a document twice
			append(slices.Clone(docs[:4]), BulkDocument{Doc: docs[3].Doc, Chunks: docs[4].Chunks}), // id of doc 3 again
			append(slices.Clone(docs[:3]), BulkDocument{Doc: Document{ID: "x"}, Chunks: docs[3].Chunks, Vecs: append(extra, extra[0])}),
		}
		for i, b := range bad {
			if _, err := bulkLoad(st, "blk", b); !errors.Is(err, ErrBulkInput) {
				t.Fatalf("bad load %d: %v", i, err)
			}
			if _, err := st.GetCollection(t.Context(), "blk"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("bad load %d left the collection: %v", i, err)
			}
			if raw := rawIndex(t, st, "blk"); len(raw) != 0 {
				t.Fatalf("bad load %d left %d index records", i, len(raw))
			}
		}
		n := 0
		failing := errors.New("source failed")
		_, err := st.(BulkLoader).BulkLoad(t.Context(), "blk", func() (*BulkDocument, error) {
			if n == 4 {
				return nil, failing
			}
			n++
			return &docs[n-1], nil
		})
		if !errors.Is(err, failing) {
			t.Fatalf("failing source: %v", err)
		}
		if _, err := st.GetCollection(t.Context(), "blk"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("failed load left the collection: %v", err)
		}
		if raw := rawIndex(t, st, "blk"); len(raw) != 0 {
			t.Fatalf("failed load left %d index records", len(raw))
		}
		if _, err := bulkLoad(st, "blk", docs); err != nil {
			t.Fatalf("load after the failures: %v", err)
		}
		ingest(t, st, "ing2", docs)
		sameIndex(t, st, "ing2", "blk")
	})
}

// Into an empty vectors table PostgreSQL's bulk load drops the HNSW
// indexes and builds them after the rows: afterwards they are there, valid,
// defined as the migration defines them, and used by a nearest-neighbour
// query; a failed load leaves them as they were. The content is still the
// ingestion path's.
func TestBulkLoadRebuildsTheVectorIndex(t *testing.T) {
	defer func(r, c, n int) { runBytes, bulkTxChunks, bulkTxRecords = r, c, n }(runBytes, bulkTxChunks, bulkTxRecords)
	runBytes, bulkTxChunks, bulkTxRecords = 4<<10, 50, 300
	st, err := OpenPostgres(t.Context(), pgtest.DSN(t), PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defs := func() []string {
		rows, err := st.DB().Pool.Query(t.Context(), `SELECT pg_get_indexdef(indexrelid) || ' valid=' || indisvalid FROM pg_index
			WHERE indrelid = 'vectors'::regclass ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := defs()
	if !slices.ContainsFunc(before, func(d string) bool { return strings.Contains(d, "USING hnsw") }) {
		t.Fatalf("no HNSW index to begin with: %q", before)
	}
	docs := bulkDocs(3, 8)
	if _, err := bulkLoad(st, "blk", append(slices.Clone(docs), docs[0])); !errors.Is(err, ErrBulkInput) {
		t.Fatalf("bad load: %v", err)
	}
	if got := defs(); !slices.Equal(got, before) {
		t.Fatalf("after a failed load the indexes are\n%q, were\n%q", got, before)
	}
	if _, err := bulkLoad(st, "blk", docs); err != nil {
		t.Fatal(err)
	}
	if got := defs(); !slices.Equal(got, before) {
		t.Fatalf("after the load the indexes are\n%q, were\n%q", got, before)
	}
	// pad the vectors to the index's dimension: the planner then walks it
	var plan strings.Builder
	rows, err := st.DB().Pool.Query(t.Context(), `EXPLAIN SELECT doc, seq FROM vectors WHERE dim = 384
		ORDER BY embedding::vector(384) <=> (SELECT array_fill(0.5, ARRAY[384])::vector(384)) LIMIT 5`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(l + "\n")
	}
	if !strings.Contains(plan.String(), "vectors_hnsw_384") {
		t.Fatalf("the nearest-neighbour query does not use the rebuilt index:\n%s", plan.String())
	}
	ingest(t, st, "ing", docs)
	sameIndex(t, st, "ing", "blk")
}
