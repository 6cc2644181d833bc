package retrieval

import (
	"context"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// replica opens an engine on the shared PostgreSQL store and blob bucket,
// as `pdfqa serve retrieval --store postgres://…` does on each replica.
func replica(t *testing.T, dsn, blobs string) *Engine {
	t.Helper()
	cfg := testConfig(t.TempDir())
	cfg.StoreURL, cfg.BlobsURL = dsn, blobs
	return openEngine(t, cfg)
}

func found(rs []Result, doc string) bool {
	for _, r := range rs {
		if r.Chunk.DocID == doc {
			return true
		}
	}
	return false
}

// Two replicas on one PostgreSQL store: a document uploaded through A is
// ingested once, and a search through B, whose caches were already loaded,
// finds it within a second of its commit.
func TestReplicasShareDocumentsAndSearch(t *testing.T) {
	data := testenv.ReadData(t, "dev", "earnings-calls", snowQ1)
	dsn := pgtest.DSN(t)
	blobs, err := store.FileBucketURL(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, b := replica(t, dsn, blobs), replica(t, dsn, blobs)
	ctx := context.Background()
	if _, err := b.CreateCollection(t.Context(), "calls"); err != nil {
		t.Fatal(err)
	}
	q := Query{Collection: "calls", Text: "Snowflake product revenue growth", TopK: 5, Mode: "hybrid"}
	if rs, err := b.Search(ctx, q); err != nil || len(rs) != 0 {
		t.Fatalf("search of the empty collection through B = %v, %v", rs, err)
	}
	d, dup, err := a.Upload("calls", snowQ1, data, "")
	if err != nil || dup {
		t.Fatalf("upload through A: %v dup=%v", err, dup)
	}
	deadline := time.Now().Add(3 * time.Minute)
	var ready time.Time
	for {
		got, err := a.Document(t.Context(), "calls", d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == store.StateReady {
			ready = got.UpdateTime
			break
		}
		if got.State == store.StateFailed || time.Now().After(deadline) {
			t.Fatalf("document %s: %s %s", d.ID, got.State, got.Error)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		rs, err := b.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if found(rs, d.ID) {
			t.Logf("found through B %v after the commit on A", time.Since(ready).Round(time.Millisecond))
			break
		}
		if time.Since(ready) > time.Second {
			t.Fatalf("a search through B did not find the document a second after its commit")
		}
		time.Sleep(20 * time.Millisecond)
	}
	got, err := b.Document(t.Context(), "calls", d.ID)
	if err != nil || got.Attempts != 1 || got.Chunks == 0 {
		t.Fatalf("document through B = %+v, %v; want READY after one attempt", got, err)
	}
	// Deleted through B: gone from A's searches too.
	if err := b.DeleteDocument(t.Context(), "calls", d.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if rs, err := a.Search(ctx, q); err != nil || found(rs, d.ID) {
		t.Fatalf("search through A after the delete on B = %v, %v", len(rs), err)
	}
}
