package pdfqa

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// streamRetrieval stands in for retrieval (its module is not the SDK's to
// import; the real one is TestSDKOverRealMesh's, on a whole mesh): it
// counts what UploadDocumentStream receives, refuses more than limit
// bytes as retrieval does, and reports the document READY.
type streamRetrieval struct {
	retrievalv1.UnimplementedRetrievalServiceServer
	limit    int64
	received atomic.Int64
	largest  atomic.Int64
	header   atomic.Pointer[retrievalv1.UploadDocumentHeader]
	unary    atomic.Int64
}

func (s *streamRetrieval) UploadDocument(context.Context, *retrievalv1.UploadDocumentRequest) (*retrievalv1.UploadDocumentResponse, error) {
	s.unary.Add(1)
	return nil, status.Error(codes.ResourceExhausted, "grpc: received message larger than max")
}

func (s *streamRetrieval) UploadDocumentStream(st grpc.ClientStreamingServer[retrievalv1.UploadDocumentStreamRequest, retrievalv1.UploadDocumentStreamResponse]) error {
	var n int64
	for {
		m, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if h := m.GetHeader(); h != nil {
			s.header.Store(h)
			continue
		}
		c := int64(len(m.GetChunk()))
		n += c
		s.received.Add(c)
		if c > s.largest.Load() {
			s.largest.Store(c)
		}
		if n > s.limit {
			return status.Errorf(codes.ResourceExhausted, "upload exceeds the size limit: more than %d bytes", s.limit)
		}
	}
	return st.SendAndClose(&retrievalv1.UploadDocumentStreamResponse{Document: &retrievalv1.Document{Id: "doc1", Name: s.header.Load().GetName()}})
}

func (s *streamRetrieval) WatchIngestion(_ *retrievalv1.WatchIngestionRequest, st grpc.ServerStreamingServer[retrievalv1.WatchIngestionResponse]) error {
	return st.Send(&retrievalv1.WatchIngestionResponse{DocumentId: "doc1", Stage: retrievalv1.IngestionStage_INGESTION_STAGE_DONE, State: retrievalv1.DocumentState_DOCUMENT_STATE_READY})
}

func (s *streamRetrieval) GetDocument(context.Context, *retrievalv1.GetDocumentRequest) (*retrievalv1.GetDocumentResponse, error) {
	return &retrievalv1.GetDocumentResponse{Document: &retrievalv1.Document{Id: "doc1", State: retrievalv1.DocumentState_DOCUMENT_STATE_READY}}, nil
}

// peakHeap samples the heap in use until stop is called, and returns the
// highest it saw.
func peakHeap() (stop func() uint64) {
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	return func() uint64 { close(done); wg.Wait(); return peak }
}

// Ingest streams a file (UploadDocumentStream): one of 300 MiB, above the
// unary upload's 256 MiB message cap, arrives whole in pieces of 256 KiB
// while the heap of this process (client and stand-in server both) stays
// under 64 MiB; the unary RPC is never called. Past the mesh's limit the
// upload is refused with ErrResourceExhausted.
func TestIngestStreamsALargeFileInBoundedMemory(t *testing.T) {
	const size = 300 << 20
	file := filepath.Join(t.TempDir(), "large.pdf")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("%PDF-1.7\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil { // sparse: no 300 MiB written to disk
		t.Fatal(err)
	}
	f.Close()

	ret := &streamRetrieval{limit: 512 << 20}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	retrievalv1.RegisterRetrievalServiceServer(srv, ret)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := Dial(ctx, lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	runtime.GC()
	stop := peakHeap()
	got, err := c.Ingest(ctx, "big", nil, file)
	peak := stop()
	if err != nil || len(got) != 1 || got[0].Document.GetState() != DocumentReady {
		t.Fatalf("Ingest: %+v, %v", got, err)
	}
	if n := ret.received.Load(); n != size {
		t.Errorf("retrieval received %d bytes, want %d", n, size)
	}
	if h := ret.header.Load(); h.GetName() != "large.pdf" || h.GetCollection() != "big" {
		t.Errorf("upload header %v", h)
	}
	if l := ret.largest.Load(); l > uploadChunk {
		t.Errorf("a piece of %d bytes, want at most %d", l, uploadChunk)
	}
	if ret.unary.Load() != 0 {
		t.Error("Ingest called the unary UploadDocument")
	}
	t.Logf("300 MiB streamed with a peak heap of %.1f MiB", float64(peak)/(1<<20))
	if peak > 64<<20 {
		t.Errorf("peak heap %.1f MiB while streaming a 300 MiB file, want under 64 MiB", float64(peak)/(1<<20))
	}

	// Past the limit: refused, with the SDK's error for it.
	ret.limit = 1 << 20
	if _, err := c.UploadStream(ctx, "big", "large.pdf", io.LimitReader(zeros{}, 8<<20), nil); !errors.Is(err, ErrResourceExhausted) {
		t.Errorf("an upload past the limit: %v, want ErrResourceExhausted", err)
	}
	// A reader that fails ends the upload with its error.
	if _, err := c.UploadStream(ctx, "big", "bad.pdf", io.MultiReader(io.LimitReader(zeros{}, 1<<20), failing{}), nil); err == nil || !errors.Is(err, errRead) {
		t.Errorf("an upload whose reader fails: %v, want the read error", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

var errRead = errors.New("disk on fire")

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errRead }
