package retrieval

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/platform/s3test"
	"github.com/pdfqa/pdfqa/platform/testenv"
)

// s3Config is the shared store on PostgreSQL with its blobs in a fresh
// bucket on a real S3 server (SeaweedFS, platform/s3test); it returns the
// bucket's name too.
func s3Config(t *testing.T, dsn, blobs string) Config {
	cfg := testConfig(t.TempDir())
	cfg.StoreURL, cfg.BlobsURL = dsn, blobs
	return cfg
}

// A PDF streamed to one replica is stored in the S3 bucket under its
// content hash (and nothing else: no temporary object), becomes READY and
// searchable; another replica on the same PostgreSQL and bucket reads the
// same bytes back; deleting it removes the object.
func TestS3UploadReadBackAndDelete(t *testing.T) {
	data := testenv.ReadData(t, "dev", "earnings-calls", snowQ1)
	dsn, blobs := pgtest.DSN(t), s3test.BucketURL(t)
	_, a := serve(t, s3Config(t, dsn, blobs))
	_, b := serve(t, s3Config(t, dsn, blobs))
	ctx := context.Background()
	up, err := streamUpload(ctx, a, "calls", snowQ1, data, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	d := up.GetDocument()
	if got, want := s3test.BucketKeys(t, blobs), []string{d.Sha256[:2] + "/" + d.Sha256}; !slices.Equal(got, want) {
		t.Fatalf("bucket after the upload holds %v, want %v", got, want)
	}
	// Watched through A whichever replica ingests it (the shared queue
	// picks): progress from B is seen through the store.
	waitReady(t, a, "calls", d.Id, "the document")
	res, err := b.Search(ctx, &retrievalv1.SearchRequest{Collection: "calls", Query: "product revenue Q1 fiscal 2023", TopK: 3})
	if err != nil || len(res.Passages) == 0 || res.Passages[0].DocumentId != d.Id {
		t.Fatalf("search through the other replica = %v, %v", res, err)
	}
	for name, c := range map[string]retrievalv1.RetrievalServiceClient{"uploading replica": a, "other replica": b} {
		got, err := c.GetDocumentContent(ctx, &retrievalv1.GetDocumentContentRequest{Collection: "calls", DocumentId: d.Id})
		if err != nil || !bytes.Equal(got.GetContent(), data) || got.GetName() != snowQ1 {
			t.Fatalf("%s: content %d bytes (%q), %v; want the %d uploaded", name, len(got.GetContent()), got.GetName(), err, len(data))
		}
	}
	if _, err := b.DeleteDocument(ctx, &retrievalv1.DeleteDocumentRequest{Collection: "calls", DocumentId: d.Id}); err != nil {
		t.Fatal(err)
	}
	if keys := s3test.BucketKeys(t, blobs); len(keys) != 0 {
		t.Fatalf("bucket after the delete holds %v", keys)
	}
	if _, err := a.GetDocumentContent(ctx, &retrievalv1.GetDocumentContentRequest{Collection: "calls", DocumentId: d.Id}); status.Code(err) != codes.NotFound {
		t.Fatalf("content after the delete: %v, want NotFound", err)
	}
}

// A stream past the upload limit is refused and leaves no object in the S3
// bucket: the temporary upload is aborted, not committed.
func TestS3RefusedStreamLeavesNoObject(t *testing.T) {
	blobs := s3test.BucketURL(t)
	cfg := s3Config(t, pgtest.DSN(t), blobs)
	cfg.MaxUploadBytes = 1 << 20
	_, c := serve(t, cfg)
	data := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("x"), 8<<20)...)
	_, err := streamUpload(context.Background(), c, "big", "big.pdf", data, 256<<10)
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "exceeds the size limit") {
		t.Fatalf("over-limit stream: %v, want ResourceExhausted", err)
	}
	if keys := s3test.BucketKeys(t, blobs); len(keys) != 0 {
		t.Fatalf("bucket after a refused upload holds %v", keys)
	}
}
