package retrieval

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/platform/s3test"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

var sharedParser *parse.PDFium

func TestMain(m *testing.M) {
	parse.RunWorkerIfRequested() // engines opened without Parser re-exec this binary
	p, err := parse.New(parse.Config{Instances: 2})
	if err != nil {
		panic(err)
	}
	sharedParser = p
	code := m.Run()
	p.Close()
	pgtest.Cleanup()
	s3test.Cleanup()
	os.Exit(code)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testConfig(dir string) Config {
	// embed.Hash stands in for the inference service in unit tests only.
	return Config{Dir: dir, Parser: sharedParser, Embedder: embed.Hash{Dim: 384}, Log: quietLog(), Workers: 2}
}

// openEngine opens an engine with cfg, closed when the test ends.
func openEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// serve starts the service on a bufconn listener and returns a client.
func serve(t *testing.T, cfg Config) (*Service, retrievalv1.RetrievalServiceClient) {
	t.Helper()
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() }) // after the server stops
	lis := testenv.ServeGRPC(t, svc.Register, grpc.MaxRecvMsgSize(64<<20))
	conn := testenv.DialGRPC(t, lis, grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	return svc, retrievalv1.NewRetrievalServiceClient(conn)
}

// waitReady follows id's ingestion to its end and fails the test, naming
// the document as what, unless it ended READY.
func waitReady(t *testing.T, c retrievalv1.RetrievalServiceClient, coll, id, what string) {
	t.Helper()
	evs := watchAll(t, c, coll, id)
	if last := evs[len(evs)-1]; last.State != retrievalv1.DocumentState_DOCUMENT_STATE_READY {
		t.Fatalf("%s ended %v, want READY", what, last)
	}
}

func watchAll(t *testing.T, c retrievalv1.RetrievalServiceClient, coll, id string) []*retrievalv1.WatchIngestionResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := c.WatchIngestion(ctx, &retrievalv1.WatchIngestionRequest{Collection: coll, DocumentId: id})
	if err != nil {
		t.Fatal(err)
	}
	var evs []*retrievalv1.WatchIngestionResponse
	for {
		ev, err := st.Recv()
		if err == io.EOF {
			return evs
		}
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		evs = append(evs, ev)
	}
}

const snowQ1 = "Q1 2023 Snowflake Inc. Earnings Call - Snowflake Inc - BamSEC.pdf"

func TestIngestSearchDeleteEndToEnd(t *testing.T) {
	data := testenv.ReadData(t, "dev", "earnings-calls", snowQ1)
	other := testenv.ReadData(t, "dev", "earnings-calls", "Q3 FY23 Microsoft Corp Earnings Call.pdf")
	_, c := serve(t, testConfig(t.TempDir()))
	ctx := context.Background()
	up, err := c.UploadDocument(ctx, &retrievalv1.UploadDocumentRequest{Collection: "calls", Name: snowQ1, Content: data})
	if err != nil {
		t.Fatal(err)
	}
	if up.Duplicate || up.Document.State != retrievalv1.DocumentState_DOCUMENT_STATE_PENDING {
		t.Fatalf("first upload: dup=%v state=%v", up.Duplicate, up.Document.State)
	}
	if _, err := c.UploadDocument(ctx, &retrievalv1.UploadDocumentRequest{Collection: "calls", Name: "msft.pdf", Content: other}); err != nil {
		t.Fatal(err)
	}
	evs := watchAll(t, c, "calls", up.Document.Id)
	last := evs[len(evs)-1]
	if last.Stage != retrievalv1.IngestionStage_INGESTION_STAGE_DONE || last.State != retrievalv1.DocumentState_DOCUMENT_STATE_READY {
		t.Fatalf("last event %v", last)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Stage < evs[i-1].Stage {
			t.Errorf("stage went back: %v after %v", evs[i].Stage, evs[i-1].Stage)
		}
	}
	// A late watcher gets the outcome at once and the stream ends.
	if late := watchAll(t, c, "calls", up.Document.Id); len(late) != 1 || late[0].State != retrievalv1.DocumentState_DOCUMENT_STATE_READY {
		t.Errorf("late watch: %v", late)
	}
	dup, err := c.UploadDocument(ctx, &retrievalv1.UploadDocumentRequest{Collection: "calls", Name: "again.pdf", Content: data})
	if err != nil || !dup.Duplicate || dup.Document.Id != up.Document.Id || dup.Document.State != retrievalv1.DocumentState_DOCUMENT_STATE_READY {
		t.Fatalf("duplicate upload: %v %v", dup, err)
	}
	if len(other) > 0 {
		ds, _ := c.ListDocuments(ctx, &retrievalv1.ListDocumentsRequest{Collection: "calls"})
		watchAll(t, c, "calls", ds.Documents[1].Id)
	}

	// From qna_data.csv: "How much did product revenue grow in Q1 Fiscal 2023?" -> Q1 2023 call, pg 2.
	for _, mode := range []retrievalv1.SearchMode{retrievalv1.SearchMode_SEARCH_MODE_HYBRID, retrievalv1.SearchMode_SEARCH_MODE_KEYWORD} {
		res, err := c.Search(ctx, &retrievalv1.SearchRequest{Collection: "calls", Query: "How much did product revenue grow in Q1 Fiscal 2023?", TopK: 5, Mode: mode, Rerank: true})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range res.Passages {
			// the CEO says it on page 2; the CFO repeats it on page 4
			if p.DocumentName == snowQ1 && strings.Contains(p.Text, "84%") && strings.Contains(p.Text, "$394 million") {
				found = true
			}
		}
		if !found {
			for _, p := range res.Passages {
				t.Logf("%s p%d-%d %.4f %q", p.DocumentName, p.Page, p.PageEnd, p.Score, trunc(p.Text))
			}
			t.Errorf("mode %v: no passage of the Q1 2023 call with the product revenue growth in top 5", mode)
		}
		if len(res.Passages) > 0 && len(res.Passages[0].Boxes) == 0 {
			t.Errorf("passage without boxes")
		}
	}
	page, err := c.RenderPage(ctx, &retrievalv1.RenderPageRequest{Collection: "calls", DocumentId: up.Document.Id, Page: 2, Dpi: 50})
	if err != nil || len(page.Png) < 100 || page.Width == 0 {
		t.Errorf("render: %v", err)
	}
	chunks, err := c.ListChunks(ctx, &retrievalv1.ListChunksRequest{Collection: "calls", DocumentId: up.Document.Id, PageSize: 5})
	if err != nil || len(chunks.Chunks) != 5 || chunks.NextPageToken == "" {
		t.Fatalf("list chunks: %v", err)
	}
	next, err := c.ListChunks(ctx, &retrievalv1.ListChunksRequest{Collection: "calls", DocumentId: up.Document.Id, PageSize: 5, PageToken: chunks.NextPageToken})
	if err != nil || len(next.Chunks) == 0 || next.Chunks[0].ChunkId == chunks.Chunks[4].ChunkId {
		t.Fatalf("list chunks page 2: %v", err)
	}

	if _, err := c.DeleteDocument(ctx, &retrievalv1.DeleteDocumentRequest{Collection: "calls", DocumentId: up.Document.Id}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Search(ctx, &retrievalv1.SearchRequest{Collection: "calls", Query: "product revenue grew 84% Snowflake", TopK: 50})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Passages {
		if p.DocumentId == up.Document.Id {
			t.Fatalf("deleted document still found: %v", p.ChunkId)
		}
	}
	if _, err := c.GetDocument(ctx, &retrievalv1.GetDocumentRequest{Collection: "calls", DocumentId: up.Document.Id}); err == nil {
		t.Error("deleted document still returned")
	}
}

func trunc(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}

func TestHostileInputFails(t *testing.T) {
	enc := testenv.ReadData(t, "pdf-samples", "005-libreoffice-writer-password", "libreoffice-writer-password.pdf")
	_, c := serve(t, testConfig(t.TempDir()))
	for i, tc := range []struct {
		name, password string
		content        []byte
		state          retrievalv1.DocumentState
		reason         string
	}{
		{"enc.pdf", "", enc, retrievalv1.DocumentState_DOCUMENT_STATE_FAILED, "password is needed"},
		{"enc-wrong.pdf", "nope", append(append([]byte{}, enc...), '\n'), retrievalv1.DocumentState_DOCUMENT_STATE_FAILED, "password given is wrong"},
		{"enc-ok.pdf", "openpassword", append(append([]byte{}, enc...), '\n', '\n'), retrievalv1.DocumentState_DOCUMENT_STATE_READY, ""},
		{"notes.pdf", "", []byte("just some text, not a PDF at all"), retrievalv1.DocumentState_DOCUMENT_STATE_FAILED, "not a PDF"},
		{"broken.pdf", "", []byte("%PDF-1.7\n1 0 obj garbage"), retrievalv1.DocumentState_DOCUMENT_STATE_FAILED, "cannot be opened"},
	} {
		up, err := c.UploadDocument(context.Background(), &retrievalv1.UploadDocumentRequest{Collection: "hostile", Name: tc.name, Content: tc.content, Password: tc.password})
		if err != nil {
			t.Fatalf("#%d upload: %v", i, err)
		}
		evs := watchAll(t, c, "hostile", up.Document.Id)
		last := evs[len(evs)-1]
		if last.State != tc.state || !strings.Contains(last.Message, tc.reason) {
			t.Errorf("#%d %s: got %v %q, want %v containing %q", i, tc.name, last.State, last.Message, tc.state, tc.reason)
		}
	}
	if _, err := c.UploadDocument(context.Background(), &retrievalv1.UploadDocumentRequest{Collection: "bad name!", Content: enc}); err == nil {
		t.Error("bad collection name accepted")
	}
}

func TestRestartRecovery(t *testing.T) {
	data := testenv.ReadData(t, "dev", "earnings-calls", snowQ1)
	dir := t.TempDir()
	// Simulate kill -9 mid-ingestion: a stored document left PROCESSING.
	st, blobs := openStores(t, dir)
	sha, err := blobs.Put(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := st.AddDocument(t.Context(), store.Document{ID: sha[:24], Collection: "c", Name: "q1.pdf", SHA256: sha, Size: int64(len(data))}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateDocument(t.Context(), "c", d.ID, func(x *store.Document) { x.State = store.StateProcessing; x.Attempts = 1 }); err != nil {
		t.Fatal(err)
	}
	st.Close()

	_, c := serve(t, testConfig(dir))
	waitReady(t, c, "c", d.ID, "the document after the restart")
	res, err := c.Search(context.Background(), &retrievalv1.SearchRequest{Collection: "c", Query: "product revenue", TopK: 3})
	if err != nil || len(res.Passages) == 0 {
		t.Fatalf("search after recovery: %v", err)
	}
}

func TestCloseMidIngestionResumes(t *testing.T) {
	data := testenv.ReadData(t, "dev", "earnings-calls", snowQ1)
	dir := t.TempDir()
	e, err := Open(testConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := e.Upload("c", "q1.pdf", data, "")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	e.Close()
	e, err = Open(testConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var last Event
	if err := e.Watch(context.Background(), "c", d.ID, func(ev Event) error { last = ev; return nil }); err != nil {
		t.Fatal(err)
	}
	if last.State != store.StateReady {
		t.Fatalf("after reopen: %+v", last)
	}
}
