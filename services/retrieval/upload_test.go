package retrieval

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// storeConfigs are the two persistence setups the upload and deletion
// tests run over: the embedded store (bbolt + blob files) and a real
// PostgreSQL with a gocloud.dev file bucket.
var storeConfigs = []struct {
	name string
	cfg  func(t *testing.T) Config
}{
	{"embedded", func(t *testing.T) Config { return testConfig(t.TempDir()) }},
	{"postgres", func(t *testing.T) Config {
		cfg := testConfig(t.TempDir())
		u, err := store.FileBucketURL(filepath.Join(cfg.Dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.StoreURL, cfg.BlobsURL = pgtest.DSN(t), u
		return cfg
	}},
}

func eachStoreConfig(t *testing.T, fn func(t *testing.T, cfg Config)) {
	for _, sc := range storeConfigs {
		t.Run(sc.name, func(t *testing.T) { fn(t, sc.cfg(t)) })
	}
}

// blobFiles lists the files under the engine's blob directory (the bucket
// of both setups), temporary ones included.
func blobFiles(t *testing.T, dir string) []string {
	return testenv.Files(t, filepath.Join(dir, "blobs"))
}

// streamUpload sends data over UploadDocumentStream in chunks of size n.
func streamUpload(ctx context.Context, c retrievalv1.RetrievalServiceClient, coll, name string, data []byte, n int) (*retrievalv1.UploadDocumentStreamResponse, error) {
	st, err := c.UploadDocumentStream(ctx)
	if err != nil {
		return nil, err
	}
	if err := st.Send(&retrievalv1.UploadDocumentStreamRequest{Part: &retrievalv1.UploadDocumentStreamRequest_Header{
		Header: &retrievalv1.UploadDocumentHeader{Collection: coll, Name: name}}}); err != nil {
		return nil, err
	}
	for i := 0; i < len(data); i += n {
		if err := st.Send(&retrievalv1.UploadDocumentStreamRequest{Part: &retrievalv1.UploadDocumentStreamRequest_Chunk{Chunk: data[i:min(i+n, len(data))]}}); err != nil {
			break // the server ended the stream: CloseAndRecv says why
		}
	}
	return st.CloseAndRecv()
}

// A real PDF streamed in 64 KiB chunks is stored under its content hash,
// becomes READY and is searchable; the same bytes uploaded whole are a
// duplicate of it.
func TestStreamedUploadIsReadyAndSearchable(t *testing.T) {
	data := testenv.ReadData(t, "dev", "earnings-calls", snowQ1)
	eachStoreConfig(t, func(t *testing.T, cfg Config) {
		_, c := serve(t, cfg)
		ctx := context.Background()
		up, err := streamUpload(ctx, c, "calls", snowQ1, data, 64<<10)
		if err != nil {
			t.Fatal(err)
		}
		d := up.GetDocument()
		if up.Duplicate || d.State != retrievalv1.DocumentState_DOCUMENT_STATE_PENDING || d.SizeBytes != int64(len(data)) || d.Name != snowQ1 {
			t.Fatalf("streamed upload = %v", up)
		}
		waitReady(t, c, "calls", d.Id, "the streamed document")
		res, err := c.Search(ctx, &retrievalv1.SearchRequest{Collection: "calls", Query: "product revenue Q1 fiscal 2023", TopK: 3})
		if err != nil || len(res.Passages) == 0 || res.Passages[0].DocumentId != d.Id {
			t.Fatalf("search after a streamed upload = %v, %v", res, err)
		}
		whole, err := c.UploadDocument(ctx, &retrievalv1.UploadDocumentRequest{Collection: "calls", Name: "again.pdf", Content: data})
		if err != nil || !whole.Duplicate || whole.Document.Id != d.Id || whole.Document.Sha256 != d.Sha256 {
			t.Fatalf("the same bytes uploaded whole = %v, %v; want a duplicate of %s", whole, err, d.Id)
		}
	})
}

// endless yields n 'x' bytes after a PDF header, in Read-sized pieces,
// counting what was read.
type endless struct{ left, read int }

func (e *endless) next(n int) []byte {
	k := min(n, e.left)
	e.left -= k
	e.read += k
	return []byte(strings.Repeat("x", k))
}

// A stream past the upload limit is refused with ResourceExhausted as soon
// as it passes the limit — long before the client is done sending — and
// leaves no blob (not even a temporary file), no document and no job.
func TestOverLimitStreamIsRefusedEarlyAndLeavesNothing(t *testing.T) {
	eachStoreConfig(t, func(t *testing.T, cfg Config) {
		cfg.MaxUploadBytes = 1 << 20
		svc, c := serve(t, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := c.UploadDocumentStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(&retrievalv1.UploadDocumentStreamRequest{Part: &retrievalv1.UploadDocumentStreamRequest_Header{
			Header: &retrievalv1.UploadDocumentHeader{Collection: "big", Name: "big.pdf"}}}); err != nil {
			t.Fatal(err)
		}
		src := &endless{left: 512 << 20} // 512 MiB offered
		for src.left > 0 {
			if err := st.Send(&retrievalv1.UploadDocumentStreamRequest{Part: &retrievalv1.UploadDocumentStreamRequest_Chunk{Chunk: src.next(256 << 10)}}); err != nil {
				break
			}
		}
		_, err = st.CloseAndRecv()
		if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "exceeds the size limit") {
			t.Fatalf("over-limit stream: %v, want ResourceExhausted (size limit)", err)
		}
		// gRPC's flow-control windows let the client run ahead of the
		// server by a few MiB at most; 512 MiB means nothing stopped it.
		if src.read > 64<<20 {
			t.Errorf("the client sent %d MiB before the refusal: the stream was not cut off early", src.read>>20)
		}
		if fs := blobFiles(t, cfg.Dir); len(fs) != 0 {
			t.Errorf("blob store after a refused upload: %v", fs)
		}
		if ds, err := svc.Engine().Documents(t.Context(), "big"); !errors.Is(err, store.ErrNotFound) || len(ds) != 0 {
			t.Errorf("documents after a refused upload: %v, %v; want no collection", ds, err)
		}
		if left, err := svc.Engine().st.Unfinished(t.Context()); err != nil || len(left) != 0 {
			t.Errorf("jobs after a refused upload: %v, %v", left, err)
		}
	})
}

// A stream must open with its header, carry one header only, and carry
// bytes; each mistake is InvalidArgument with nothing stored.
func TestUploadStreamBadInput(t *testing.T) {
	cfg := testConfig(t.TempDir())
	svc, c := serve(t, cfg)
	ctx := context.Background()
	send := func(msgs ...*retrievalv1.UploadDocumentStreamRequest) error {
		st, err := c.UploadDocumentStream(ctx)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if err := st.Send(m); err != nil {
				break
			}
		}
		_, err = st.CloseAndRecv()
		return err
	}
	header := &retrievalv1.UploadDocumentStreamRequest{Part: &retrievalv1.UploadDocumentStreamRequest_Header{Header: &retrievalv1.UploadDocumentHeader{Collection: "c", Name: "a.pdf"}}}
	chunk := &retrievalv1.UploadDocumentStreamRequest{Part: &retrievalv1.UploadDocumentStreamRequest_Chunk{Chunk: []byte("%PDF-1.7")}}
	for name, msgs := range map[string][]*retrievalv1.UploadDocumentStreamRequest{
		"no header":     {chunk},
		"nothing":       nil,
		"two headers":   {header, chunk, header, chunk},
		"no bytes":      {header},
		"bad coll name": {{Part: &retrievalv1.UploadDocumentStreamRequest_Header{Header: &retrievalv1.UploadDocumentHeader{Collection: "a/b"}}}, chunk},
	} {
		if err := send(msgs...); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if fs := blobFiles(t, cfg.Dir); len(fs) != 0 {
		t.Errorf("blob store after refused uploads: %v", fs)
	}
	if cs, _ := svc.Engine().ListCollections(t.Context()); len(cs) != 0 {
		t.Errorf("collections after refused uploads: %v", cs)
	}
}

var _ io.Reader = (*chunkReader)(nil)
