package retrieval

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/auth"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// indexOf is what the store itself holds of document doc of coll: its
// chunks, whether it has postings for terms, fast and refined vectors.
type indexOf struct {
	chunks             int
	postings, vectors  bool
	refined, collFound bool
}

func storeIndexOf(t *testing.T, st store.Store, coll, doc string, terms []string) indexOf {
	t.Helper()
	var x indexOf
	if _, err := st.GetCollection(t.Context(), coll); err == nil {
		x.collFound = true
	} else if !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	cs, _, err := st.ListChunks(t.Context(), coll, doc, "", 100000)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	x.chunks = len(cs)
	err = st.Postings(t.Context(), coll, terms, func(_ string, _ int64, ps []store.Posting) {
		for _, p := range ps {
			x.postings = x.postings || p.DocID == doc
		}
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	for _, load := range []struct {
		f   func(context.Context, string, func(string, []int, [][]float32)) error
		out *bool
	}{{st.Vectors, &x.vectors}, {st.RefinedVectors, &x.refined}} {
		err := load.f(t.Context(), coll, func(d string, _ []int, _ [][]float32) { *load.out = *load.out || d == doc })
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	return x
}

func searchDocs(t *testing.T, c retrievalv1.RetrievalServiceClient, coll, q string) []string {
	t.Helper()
	res, err := c.Search(context.Background(), &retrievalv1.SearchRequest{Collection: coll, Query: q, TopK: 10})
	if status.Code(err) == codes.NotFound {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range res.Passages {
		if !slices.Contains(out, p.DocumentId) {
			out = append(out, p.DocumentId)
		}
	}
	return out
}

// Deleting a document removes its chunks, postings, vectors (fast and
// refined), blob and cached vectors — asserted on the store's own listing
// and on the blob directory — and leaves the other document whole; another
// tenant cannot delete it; deleting again is NotFound and changes nothing.
// Deleting the collection then removes the rest.
func TestDeleteRemovesEverything(t *testing.T) {
	snow := testenv.ReadData(t, "dev", "earnings-calls", snowQ1)
	report := testenv.Sample(t, "northwind-annual-report-2025.pdf")
	eachStoreConfig(t, func(t *testing.T, cfg Config) {
		svc, c := serve(t, cfg)
		e := svc.Engine()
		ctx := context.Background()
		var docs []*retrievalv1.Document
		for name, data := range map[string][]byte{"snow.pdf": snow, "northwind.pdf": report} {
			up, err := streamUpload(ctx, c, "calls", name, data, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			waitReady(t, c, "calls", up.Document.Id, name)
			got, err := c.GetDocument(ctx, &retrievalv1.GetDocumentRequest{Collection: "calls", DocumentId: up.Document.Id})
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, got.Document)
		}
		slices.SortFunc(docs, func(a, b *retrievalv1.Document) int { return strings.Compare(a.Name, b.Name) })
		kept, gone := docs[0], docs[1] // northwind.pdf, snow.pdf
		terms := []string{"snowflak", "snowflake", "product", "revenu", "revenue"}
		// Refined vectors too, as the background refiner writes them.
		n := int(gone.ChunkCount)
		seqs, vecs := make([]int, n), make([][]float32, n)
		for i := range n {
			seqs[i], vecs[i] = i, make([]float32, 384)
			vecs[i][i%384] = 1
		}
		if _, err := e.st.PutRefinedVectors(t.Context(), "calls", gone.Id, n, seqs, vecs, "m"); err != nil {
			t.Fatal(err)
		}
		before := storeIndexOf(t, e.st, "calls", gone.Id, terms)
		if before.chunks != n || !before.postings || !before.vectors || !before.refined {
			t.Fatalf("the index before the delete: %+v", before)
		}
		if got := searchDocs(t, c, "calls", "Snowflake product revenue"); !slices.Contains(got, gone.Id) {
			t.Fatalf("search before the delete: %v", got)
		}

		other := auth.WithPrincipal(ctx, auth.Principal{Tenant: "other", Role: auth.Writer, KeyID: "k"})
		if _, err := svc.DeleteDocument(other, &retrievalv1.DeleteDocumentRequest{Collection: "calls", DocumentId: gone.Id}); status.Code(err) != codes.NotFound {
			t.Fatalf("another tenant's delete: %v, want NotFound", err)
		}
		if _, err := svc.DeleteCollection(other, &retrievalv1.DeleteCollectionRequest{Name: "calls"}); status.Code(err) != codes.NotFound {
			t.Fatalf("another tenant's collection delete: %v, want NotFound", err)
		}
		if x := storeIndexOf(t, e.st, "calls", gone.Id, terms); x != before {
			t.Fatalf("another tenant's delete changed the index: %+v, was %+v", x, before)
		}

		if _, err := c.DeleteDocument(ctx, &retrievalv1.DeleteDocumentRequest{Collection: "calls", DocumentId: gone.Id}); err != nil {
			t.Fatal(err)
		}
		if x := storeIndexOf(t, e.st, "calls", gone.Id, terms); x.chunks != 0 || x.postings || x.vectors || x.refined {
			t.Errorf("the store after the delete still holds %+v of it", x)
		}
		if fs := blobFiles(t, cfg.Dir); len(fs) != 1 || filepath.Base(fs[0]) != kept.Sha256 {
			t.Errorf("blobs after the delete: %v, want only %s", fs, kept.Sha256)
		}
		if got := searchDocs(t, c, "calls", "Snowflake product revenue"); slices.Contains(got, gone.Id) || !slices.Contains(got, kept.Id) {
			t.Errorf("search after the delete: %v (deleted %s, kept %s)", got, gone.Id, kept.Id)
		}
		if _, err := c.GetDocument(ctx, &retrievalv1.GetDocumentRequest{Collection: "calls", DocumentId: gone.Id}); status.Code(err) != codes.NotFound {
			t.Errorf("GetDocument after the delete: %v", err)
		}
		if _, err := c.DeleteDocument(ctx, &retrievalv1.DeleteDocumentRequest{Collection: "calls", DocumentId: gone.Id}); status.Code(err) != codes.NotFound {
			t.Errorf("second delete: %v, want NotFound", err)
		}
		if x := storeIndexOf(t, e.st, "calls", kept.Id, terms); x.chunks != int(kept.ChunkCount) || !x.vectors {
			t.Errorf("the kept document's index after the deletes: %+v, want %d chunks", x, kept.ChunkCount)
		}

		if _, err := c.DeleteCollection(ctx, &retrievalv1.DeleteCollectionRequest{Name: "calls"}); err != nil {
			t.Fatal(err)
		}
		if x := storeIndexOf(t, e.st, "calls", kept.Id, terms); x != (indexOf{}) {
			t.Errorf("the store after the collection's delete still holds %+v", x)
		}
		if fs := blobFiles(t, cfg.Dir); len(fs) != 0 {
			t.Errorf("blobs after the collection's delete: %v", fs)
		}
		if got := searchDocs(t, c, "calls", "Snowflake product revenue"); len(got) != 0 {
			t.Errorf("search after the collection's delete: %v", got)
		}
		if _, err := c.DeleteCollection(ctx, &retrievalv1.DeleteCollectionRequest{Name: "calls"}); status.Code(err) != codes.NotFound {
			t.Errorf("second collection delete: %v, want NotFound", err)
		}
	})
}

// gateEmbedder holds an ingestion at its embed stage until its context
// ends (the inference service stand-in, as embed.Hash is elsewhere).
type gateEmbedder struct {
	entered chan struct{}
	ended   chan error
}

func (g gateEmbedder) Embed(ctx context.Context, _ []string) ([][]float32, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	g.ended <- context.Cause(ctx)
	return nil, ctx.Err()
}

// waitEntered waits (2 minutes at most) until an ingestion reaches Embed.
func (g gateEmbedder) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(2 * time.Minute):
		t.Fatal("the ingestion never reached its embed stage")
	}
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Deleting a document while it is being ingested cancels its ingestion
// (the embed call sees errDeleted as its context's cause), ends its
// watchers with NotFound, and leaves neither the document nor its blob nor
// an error in the log.
func TestDeleteCancelsIngestionInFlight(t *testing.T) {
	data := testenv.ReadData(t, "dev", "earnings-calls", snowQ1)
	eachStoreConfig(t, func(t *testing.T, cfg Config) {
		gate := gateEmbedder{entered: make(chan struct{}, 1), ended: make(chan error, 1)}
		var logs syncBuffer
		cfg.Embedder = gate
		cfg.Log = slog.New(slog.NewJSONHandler(&logs, nil))
		svc, c := serve(t, cfg)
		ctx := context.Background()
		up, err := streamUpload(ctx, c, "calls", "snow.pdf", data, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		gate.waitEntered(t)
		wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
		defer wcancel()
		watched := make(chan error, 1)
		watchEnd(wctx, t, c, "calls", up.Document.Id, watched)

		if _, err := c.DeleteDocument(ctx, &retrievalv1.DeleteDocumentRequest{Collection: "calls", DocumentId: up.Document.Id}); err != nil {
			t.Fatal(err)
		}
		select {
		case cause := <-gate.ended:
			if !errors.Is(cause, errDeleted) {
				t.Errorf("the ingestion ended with cause %v, want errDeleted", cause)
			}
		case <-time.After(time.Minute):
			t.Fatal("deleting the document did not cancel its ingestion")
		}
		if err := <-watched; status.Code(err) != codes.NotFound {
			t.Errorf("the watcher ended with %v, want NotFound", err)
		}
		// The pipeline logs the cancellation once it has returned.
		deadline := time.Now().Add(time.Minute)
		for !strings.Contains(logs.String(), "ingestion cancelled: the document was deleted") && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if l := logs.String(); !strings.Contains(l, "ingestion cancelled: the document was deleted") || strings.Contains(l, `"level":"ERROR"`) || strings.Contains(l, "ingestion failed") {
			t.Errorf("log of a cancelled ingestion:\n%s", l)
		}
		if _, err := svc.Engine().Document(t.Context(), "calls", up.Document.Id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the document after the delete: %v", err)
		}
		if fs := blobFiles(t, cfg.Dir); len(fs) != 0 {
			t.Errorf("blobs after the delete: %v", fs)
		}
	})
}

// Deleting a collection ends the watchers of its documents, here one in
// ingestion and one waiting in the queue, with NotFound (before, they
// waited for an outcome that never came).
func TestDeleteCollectionEndsItsWatchers(t *testing.T) {
	data := testenv.ReadData(t, "dev", "earnings-calls", snowQ1)
	eachStoreConfig(t, func(t *testing.T, cfg Config) {
		gate := gateEmbedder{entered: make(chan struct{}, 1), ended: make(chan error, 2)}
		cfg.Embedder = gate
		cfg.Workers = 1
		_, c := serve(t, cfg)
		ctx := context.Background()
		first, err := streamUpload(ctx, c, "calls", "snow.pdf", data, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		gate.waitEntered(t)
		// The same text under other bytes: a second document, queued
		// behind the first (one worker).
		second, err := streamUpload(ctx, c, "calls", "snow-copy.pdf", append(bytes.Clone(data), "\n%copy\n"...), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(ctx, time.Minute)
		defer wcancel()
		ended := make(chan error, 2)
		for _, id := range []string{first.Document.Id, second.Document.Id} {
			watchEnd(wctx, t, c, "calls", id, ended)
		}
		if _, err := c.DeleteCollection(ctx, &retrievalv1.DeleteCollectionRequest{Name: "calls"}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			err := <-ended
			if status.Code(err) != codes.NotFound {
				t.Errorf("a watcher of the deleted collection ended with %v, want NotFound", err)
			} else {
				t.Logf("watcher ended: %v", err)
			}
		}
	})
}

// watchEnd watches doc's ingestion, reads its current state, then sends
// the error that ends the watch to ended (in the background).
func watchEnd(ctx context.Context, t *testing.T, c retrievalv1.RetrievalServiceClient, coll, doc string, ended chan<- error) {
	t.Helper()
	st, err := c.WatchIngestion(ctx, &retrievalv1.WatchIngestionRequest{Collection: coll, DocumentId: doc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil { // the current state
		t.Fatal(err)
	}
	go func() {
		for {
			if _, err := st.Recv(); err != nil {
				ended <- err
				return
			}
		}
	}()
}
