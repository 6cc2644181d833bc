package store

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func addDoc(t *testing.T, s Store, coll, id string) Document {
	t.Helper()
	d, dup, err := s.AddDocument(t.Context(), Document{ID: id, Collection: coll, Name: id + ".pdf", SHA256: "sha-" + id, Size: 10,
		Metadata: map[string]string{"k": "v"}}, "pw-"+id)
	if err != nil || dup {
		t.Fatalf("AddDocument %s/%s = %v, dup %v", coll, id, err, dup)
	}
	return d
}

func ready(n int) func(*Document) {
	return func(d *Document) { d.State, d.Chunks = StateReady, n }
}

// Collections, documents and jobs: creation is idempotent, documents list in
// upload order, a job lives until the document is READY or FAILED.
func TestMetaContract(t *testing.T) { eachStore(t, testMetaContract) }

func testMetaContract(t *testing.T, s Store) {
	if _, created, err := s.CreateCollection(t.Context(), "c"); err != nil || !created {
		t.Fatalf("CreateCollection = %v, created %v", err, created)
	}
	if _, created, err := s.CreateCollection(t.Context(), "c"); err != nil || created {
		t.Fatalf("second CreateCollection = %v, created %v", err, created)
	}
	if _, err := s.GetCollection(t.Context(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetCollection(missing) = %v", err)
	}
	if _, err := s.ListDocuments(t.Context(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ListDocuments(missing) = %v", err)
	}
	d1 := addDoc(t, s, "c", "d1")
	d2 := addDoc(t, s, "c", "d2")
	addDoc(t, s, "auto", "d3") // the collection is created on the way
	if d1.State != StatePending || d2.Seq <= d1.Seq || d1.CreateTime.IsZero() {
		t.Fatalf("added documents: %+v, %+v", d1, d2)
	}
	again, dup, err := s.AddDocument(t.Context(), Document{ID: "d1", Collection: "c", Name: "other.pdf"}, "")
	if err != nil || !dup || again.Name != "d1.pdf" || again.Seq != d1.Seq {
		t.Fatalf("re-adding d1 = %+v, dup %v, %v; want the stored one", again, dup, err)
	}
	got, err := s.GetDocument(t.Context(), "c", "d1")
	if err != nil || got.Metadata["k"] != "v" || got.SHA256 != "sha-d1" {
		t.Fatalf("GetDocument = %+v, %v", got, err)
	}
	if _, err := s.GetDocument(t.Context(), "c", "zz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetDocument(missing) = %v", err)
	}
	colls, err := s.ListCollections(t.Context())
	if err != nil || len(colls) != 2 || colls[0].Name != "auto" || colls[1].Name != "c" || colls[1].Documents != 2 {
		t.Fatalf("ListCollections = %+v, %v", colls, err)
	}
	if pw, err := s.JobPassword(t.Context(), "c", "d2"); err != nil || pw != "pw-d2" {
		t.Fatalf("JobPassword = %q, %v", pw, err)
	}
	un, err := s.Unfinished(t.Context())
	if err != nil || len(un) != 3 || un[0].ID != "d1" || un[1].ID != "d2" || un[2].ID != "d3" {
		t.Fatalf("Unfinished = %v, %v", un, err)
	}
	upd, err := s.UpdateDocument(t.Context(), "c", "d1", func(d *Document) { d.State = StateProcessing; d.Attempts++ })
	if err != nil || upd.State != StateProcessing || upd.Attempts != 1 || !upd.UpdateTime.After(d1.UpdateTime) {
		t.Fatalf("UpdateDocument = %+v, %v", upd, err)
	}
	if pw, _ := s.JobPassword(t.Context(), "c", "d1"); pw != "pw-d1" {
		t.Errorf("a PROCESSING document lost its job: %q", pw)
	}
	if _, err := s.UpdateDocument(t.Context(), "c", "d1", func(d *Document) { d.State, d.Error = StateFailed, "bad" }); err != nil {
		t.Fatal(err)
	}
	if pw, _ := s.JobPassword(t.Context(), "c", "d1"); pw != "" {
		t.Errorf("a FAILED document kept its job: %q", pw)
	}
	if _, err := s.UpdateDocument(t.Context(), "c", "zz", func(*Document) {}); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateDocument(missing) = %v", err)
	}
	docs, err := s.ListDocuments(t.Context(), "c")
	if err != nil || len(docs) != 2 || docs[0].ID != "d1" || docs[0].Error != "bad" || docs[1].ID != "d2" {
		t.Fatalf("ListDocuments = %+v, %v", docs, err)
	}
	un, _ = s.Unfinished(t.Context())
	if len(un) != 2 || un[0].ID != "d2" {
		t.Fatalf("Unfinished after d1 failed = %v", un)
	}
}

func chunk(doc string, seq int, terms map[string]int) Chunk {
	n := 0
	for _, c := range terms {
		n += c
	}
	return Chunk{DocID: doc, Seq: seq, DocName: doc + ".pdf", Page: 1, PageEnd: 1, Text: "text", Kind: KindText,
		Boxes: []Box{{Page: 1, X0: 1, Y0: 2, X1: 3, Y1: 4}}, Terms: terms, Len: n, Tokens: n}
}

// Index: a commit replaces an earlier attempt's index, readies the document
// and keeps the collection's counts; postings come per term in (document,
// chunk) order; refined vectors need the document unchanged.
func TestIndexContract(t *testing.T) { eachStore(t, testIndexContract) }

func testIndexContract(t *testing.T, s Store) {
	addDoc(t, s, "c", "b")
	addDoc(t, s, "c", "a")
	// A first attempt, replaced by the second.
	if _, err := s.CommitIndex(t.Context(), "c", "a", []Chunk{chunk("a", 0, map[string]int{"old": 9})}, [][]float32{{9, 9}}, ready(1)); err != nil {
		t.Fatal(err)
	}
	ca := []Chunk{chunk("a", 0, map[string]int{"revenu": 2, "q3": 1}), chunk("a", 1, map[string]int{"revenu": 1})}
	d, err := s.CommitIndex(t.Context(), "c", "a", ca, [][]float32{{1, 0}, {0, 1}}, ready(2))
	if err != nil || d.State != StateReady || d.Chunks != 2 {
		t.Fatalf("CommitIndex = %+v, %v", d, err)
	}
	if pw, _ := s.JobPassword(t.Context(), "c", "a"); pw != "" {
		t.Errorf("a committed document kept its job")
	}
	cb := []Chunk{chunk("b", 0, map[string]int{"revenu": 1, "margin": 3})}
	if _, err := s.CommitIndex(t.Context(), "c", "b", cb, nil, ready(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitIndex(t.Context(), "c", "zz", nil, nil, ready(0)); !errors.Is(err, ErrNotFound) {
		t.Errorf("CommitIndex(missing) = %v", err)
	}
	c, err := s.GetCollection(t.Context(), "c")
	if err != nil || c.Chunks != 3 || c.TotalLen != 3+1+4 {
		t.Fatalf("collection = %+v, %v; want 3 chunks of 8 terms", c, err)
	}
	type post struct {
		term string
		df   int64
		ps   []Posting
	}
	var got []post
	if err := s.Postings(t.Context(), "c", []string{"revenu", "old", "margin"}, func(term string, df int64, ps []Posting) {
		got = append(got, post{term, df, ps})
	}); err != nil {
		t.Fatal(err)
	}
	want := []post{
		{"revenu", 3, []Posting{{"a", 0, 2, 3}, {"a", 1, 1, 1}, {"b", 0, 1, 4}}},
		{"old", 0, nil},
		{"margin", 1, []Posting{{"b", 0, 3, 4}}},
	}
	if len(got) != len(want) {
		t.Fatalf("postings = %+v", got)
	}
	for i := range want {
		if got[i].term != want[i].term || got[i].df != want[i].df || !slices.Equal(got[i].ps, want[i].ps) {
			t.Errorf("postings[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	// Chunks: in the order asked, a missing one left out, one read, the
	// text and boxes without the term counts
	cs, err := s.Chunks(context.Background(), "c", []ChunkRef{{"b", 0}, {"a", 7}, {"a", 1}, {"a", 0}, {"zz", 0}})
	if err != nil || len(cs) != 3 || cs[0].DocID != "b" || cs[1].DocID != "a" || cs[1].Seq != 1 || cs[2].Seq != 0 ||
		cs[1].Terms != nil || cs[0].Terms != nil || cs[1].Text == "" || len(cs[1].Boxes) != 1 {
		t.Fatalf("Chunks = %+v, %v", cs, err)
	}
	if cs, err := s.Chunks(context.Background(), "other", []ChunkRef{{"a", 0}}); err != nil || len(cs) != 0 {
		t.Fatalf("Chunks of another collection = %+v, %v", cs, err)
	}
	ch, err := s.Chunk(t.Context(), "c", "a", 1)
	if err != nil || ch.Terms["revenu"] != 1 || len(ch.Boxes) != 1 || ch.Boxes[0].X1 != 3 || ch.Kind != KindText {
		t.Fatalf("Chunk = %+v, %v", ch, err)
	}
	var vecDocs []string
	if err := s.Vectors(t.Context(), "c", func(doc string, seqs []int, vecs [][]float32) {
		vecDocs = append(vecDocs, doc)
		if doc != "a" || !slices.Equal(seqs, []int{0, 1}) || !slices.Equal(vecs[1], []float32{0, 1}) {
			t.Errorf("vectors of %s = %v %v", doc, seqs, vecs)
		}
	}); err != nil || !slices.Equal(vecDocs, []string{"a"}) {
		t.Fatalf("Vectors: %v of %v", err, vecDocs)
	}
	// Refined vectors: refused when the chunk count changed.
	if _, err := s.PutRefinedVectors(t.Context(), "c", "a", 5, []int{0, 1}, [][]float32{{1, 1}, {2, 2}}, "m"); !errors.Is(err, ErrConflict) {
		t.Errorf("PutRefinedVectors on a changed document = %v", err)
	}
	d, err = s.PutRefinedVectors(t.Context(), "c", "a", 2, []int{0, 1}, [][]float32{{1, 1}, {2, 2}}, "m")
	if err != nil || d.RefinedModel != "m" {
		t.Fatalf("PutRefinedVectors = %+v, %v", d, err)
	}
	n := 0
	_ = s.RefinedVectors(t.Context(), "c", func(doc string, seqs []int, vecs [][]float32) { n += len(seqs) })
	if n != 2 {
		t.Errorf("%d refined vectors, want 2", n)
	}
	// Re-indexing drops the refined vectors and their model.
	d, err = s.CommitIndex(t.Context(), "c", "a", ca[:1], [][]float32{{1, 0}}, ready(1))
	if err != nil || d.RefinedModel != "" {
		t.Fatalf("re-index = %+v, %v", d, err)
	}
	n = 0
	_ = s.RefinedVectors(t.Context(), "c", func(doc string, seqs []int, vecs [][]float32) { n += len(seqs) })
	if n != 0 {
		t.Errorf("%d refined vectors after re-indexing, want 0", n)
	}
}

// ListChunks pages through a collection or one document by token; a token
// from elsewhere is refused.
func TestListChunksPages(t *testing.T) { eachStore(t, testListChunksPages) }

func testListChunksPages(t *testing.T, s Store) {
	for _, id := range []string{"a", "b"} {
		addDoc(t, s, "c", id)
		cs := []Chunk{chunk(id, 0, map[string]int{"x": 1}), chunk(id, 1, map[string]int{"x": 1}), chunk(id, 2, map[string]int{"x": 1})}
		if _, err := s.CommitIndex(t.Context(), "c", id, cs, nil, ready(3)); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	tok := ""
	for range 10 {
		cs, next, err := s.ListChunks(t.Context(), "c", "", tok, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			seen = append(seen, c.DocID+string(rune('0'+c.Seq)))
		}
		if next == "" {
			break
		}
		tok = next
	}
	if !slices.Equal(seen, []string{"a0", "a1", "a2", "b0", "b1", "b2"}) {
		t.Fatalf("pages = %v", seen)
	}
	cs, next, err := s.ListChunks(t.Context(), "c", "b", "", 2)
	if err != nil || len(cs) != 2 || cs[0].DocID != "b" || next == "" {
		t.Fatalf("first page of b = %v, %q, %v", cs, next, err)
	}
	cs, next, err = s.ListChunks(t.Context(), "c", "b", next, 2)
	if err != nil || len(cs) != 1 || cs[0].Seq != 2 || next != "" {
		t.Fatalf("second page of b = %v, %q, %v", cs, next, err)
	}
	if _, _, err := s.ListChunks(t.Context(), "c", "b", "!!", 2); !errors.Is(err, ErrBadToken) {
		t.Errorf("bad token: %v", err)
	}
	_, aTok, _ := s.ListChunks(t.Context(), "c", "a", "", 1)
	if _, _, err := s.ListChunks(t.Context(), "c", "b", aTok, 2); !errors.Is(err, ErrBadToken) {
		t.Errorf("a's token on b: %v", err)
	}
	if _, _, err := s.ListChunks(t.Context(), "nope", "", "", 2); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing collection: %v", err)
	}
}
