package store

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// Deleting reports the blobs no document references any more, so that the
// caller can delete them from Blobs; a blob shared by two documents is
// reported with the last of them.
func TestDeleteReportsUnreferencedBlobs(t *testing.T) {
	eachStore(t, testDeleteReportsUnreferencedBlobs)
}

func testDeleteReportsUnreferencedBlobs(t *testing.T, s Store) {
	add := func(coll, id, sha string) {
		t.Helper()
		if _, _, err := s.AddDocument(t.Context(), Document{ID: id, Collection: coll, Name: id + ".pdf", SHA256: sha}, ""); err != nil {
			t.Fatal(err)
		}
	}
	add("a", "d1", "shared")
	add("b", "d1", "shared")
	add("a", "d2", "own")

	unref, err := s.DeleteDocument(t.Context(), "a", "d1")
	if err != nil || len(unref) != 0 {
		t.Fatalf("DeleteDocument a/d1 = %v, %v; want nothing unreferenced", unref, err)
	}
	unref, err = s.DeleteCollection(t.Context(), "a")
	if err != nil || !slices.Equal(unref, []string{"own"}) {
		t.Fatalf("DeleteCollection a = %v, %v; want [own]", unref, err)
	}
	unref, err = s.DeleteDocument(t.Context(), "b", "d1")
	if err != nil || !slices.Equal(unref, []string{"shared"}) {
		t.Fatalf("DeleteDocument b/d1 = %v, %v; want [shared]", unref, err)
	}
	if _, err := s.DeleteDocument(t.Context(), "b", "d1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting twice: %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteCollection(t.Context(), "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting a missing collection: %v, want ErrNotFound", err)
	}
}

// Deleting a document drops its index (chunks, postings, fast and refined
// vectors) with it, in the same transaction.
func TestDeleteDocumentDropsItsIndex(t *testing.T) { eachStore(t, testDeleteDocumentDropsItsIndex) }

func testDeleteDocumentDropsItsIndex(t *testing.T, s Store) {
	for _, id := range []string{"d1", "d2"} {
		if _, _, err := s.AddDocument(t.Context(), Document{ID: id, Collection: "c", SHA256: id}, ""); err != nil {
			t.Fatal(err)
		}
		chunks := []Chunk{{DocID: id, Seq: 0, Text: "revenue", Terms: map[string]int{"revenu": 1}, Len: 1}}
		if _, err := s.CommitIndex(t.Context(), "c", id, chunks, [][]float32{{1, 0}}, func(d *Document) { d.State = StateReady; d.Chunks = 1 }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutRefinedVectors(t.Context(), "c", id, 1, []int{0}, [][]float32{{0, 1}}, "m"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteDocument(t.Context(), "c", "d1"); err != nil {
		t.Fatal(err)
	}
	docsOf := func(load func(context.Context, string, func(string, []int, [][]float32)) error) []string {
		var out []string
		if err := load(t.Context(), "c", func(doc string, _ []int, _ [][]float32) { out = append(out, doc) }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := docsOf(s.Vectors); !slices.Equal(got, []string{"d2"}) {
		t.Errorf("vectors of %v, want [d2]", got)
	}
	if got := docsOf(s.RefinedVectors); !slices.Equal(got, []string{"d2"}) {
		t.Errorf("refined vectors of %v, want [d2]", got)
	}
	var posted []string
	if err := s.Postings(t.Context(), "c", []string{"revenu"}, func(_ string, _ int64, ps []Posting) {
		for _, p := range ps {
			posted = append(posted, p.DocID)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(posted, []string{"d2"}) {
		t.Errorf("postings of %v, want [d2]", posted)
	}
	if _, err := s.Chunk(t.Context(), "c", "d1", 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("chunk of a deleted document: %v", err)
	}
	c, err := s.GetCollection(t.Context(), "c")
	if err != nil || c.Documents != 1 || c.Chunks != 1 || c.TotalLen != 1 {
		t.Errorf("collection after delete = %+v, %v; want 1 document, 1 chunk", c, err)
	}
}
