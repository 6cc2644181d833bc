package retrieval

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
	"github.com/pdfqa/pdfqa/services/retrieval/parse/pdftest"
)

// Hostile documents through the ingestion pipeline: each ends with a clear,
// bounded reason or warning, never an engine trace.

// lastEvent uploads content and returns its final ingestion event.
func lastEvent(t *testing.T, c retrievalv1.RetrievalServiceClient, coll, name string, content []byte) *retrievalv1.WatchIngestionResponse {
	t.Helper()
	up, err := c.UploadDocument(context.Background(), &retrievalv1.UploadDocumentRequest{Collection: coll, Name: name, Content: content})
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	evs := watchAll(t, c, coll, up.Document.Id)
	return evs[len(evs)-1]
}

func TestTooManyPagesFailsClearly(t *testing.T) {
	cfg := testConfig(t.TempDir())
	readSettings(map[string]string{"PDFQA_MAX_PAGES": "5000"}).Apply(&cfg)
	_, c := serve(t, cfg)
	start := time.Now()
	last := lastEvent(t, c, "hostile", "long.pdf", pdftest.ManyPages(200_000, pdftest.TextPage))
	want := "too many pages: 200000 > 5000 (the per-document page limit, PDFQA_MAX_PAGES)"
	if last.State != retrievalv1.DocumentState_DOCUMENT_STATE_FAILED || last.Message != want {
		t.Fatalf("got %v %q, want FAILED %q", last.State, last.Message, want)
	}
	if took := time.Since(start); took > time.Minute {
		t.Errorf("refusing a 200,000-page document took %v", took)
	}
	// A lower configured limit applies to a short document too.
	cfg = testConfig(t.TempDir())
	readSettings(map[string]string{"PDFQA_MAX_PAGES": "3"}).Apply(&cfg)
	_, c = serve(t, cfg)
	last = lastEvent(t, c, "hostile", "four.pdf", pdftest.ManyPages(4, pdftest.TextPage))
	if last.State != retrievalv1.DocumentState_DOCUMENT_STATE_FAILED || !strings.HasPrefix(last.Message, "too many pages: 4 > 3") {
		t.Fatalf("MaxPages 3: got %v %q", last.State, last.Message)
	}
}

func TestDecompressionBombFailsWithoutTrace(t *testing.T) {
	// A 64 MiB sandbox and a 512 MiB stream stand for the default 1 GiB
	// sandbox and a stream of several GiB, in a second.
	p, err := parse.New(parse.Config{Instances: 1, MemoryLimitBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cfg := testConfig(t.TempDir())
	cfg.Parser = p
	_, c := serve(t, cfg)
	last := lastEvent(t, c, "hostile", "bomb.pdf", pdftest.Bomb(512))
	if last.State != retrievalv1.DocumentState_DOCUMENT_STATE_FAILED || !strings.HasPrefix(last.Message, "the PDF engine failed on this file") {
		t.Fatalf("got %v %q", last.State, last.Message)
	}
	for _, bad := range []string{"wasm", "stack trace", "\n", "$"} {
		if strings.Contains(last.Message, bad) {
			t.Fatalf("reason %q contains %q", last.Message, bad)
		}
	}
	d, err := c.GetDocument(context.Background(), &retrievalv1.GetDocumentRequest{Collection: "hostile", DocumentId: last.DocumentId})
	if err != nil {
		t.Fatal(err)
	}
	if d.Document.Error != last.Message {
		t.Errorf("stored reason %q, event %q", d.Document.Error, last.Message)
	}

	// Rendering the bomb's page fails the same way: one line, no trace.
	_, err = c.RenderPage(context.Background(), &retrievalv1.RenderPageRequest{Collection: "hostile", DocumentId: last.DocumentId, Page: 1})
	st, _ := status.FromError(err)
	if err == nil || strings.Contains(st.Message(), "stack trace") || strings.Contains(st.Message(), "\n") || len(st.Message()) > parse.MaxBrief {
		t.Fatalf("render: %v", err)
	}
	if st.Code() != codes.Internal {
		t.Errorf("render code %v", st.Code())
	}
}

func TestOCRLimitWarnsOnce(t *testing.T) {
	if !sharedParser.TesseractAvailable() {
		testenv.Missing(t, "tesseract not installed (scripts/setup/system.sh installs tesseract-ocr tesseract-ocr-eng)")
	}
	cfg := testConfig(t.TempDir())
	readSettings(map[string]string{"PDFQA_MAX_OCR_PAGES": "1"}).Apply(&cfg)
	_, c := serve(t, cfg)
	last := lastEvent(t, c, "hostile", "scans.pdf", pdftest.ManyPages(40, pdftest.ImagePage))
	if last.State != retrievalv1.DocumentState_DOCUMENT_STATE_READY {
		t.Fatalf("got %v %q", last.State, last.Message)
	}
	d, err := c.GetDocument(context.Background(), &retrievalv1.GetDocumentRequest{Collection: "hostile", DocumentId: last.DocumentId})
	if err != nil {
		t.Fatal(err)
	}
	want := "39 pages need OCR past the per-document OCR limit of 1 and have no text (pages 2-40)"
	var found bool
	for _, w := range d.Document.Warnings {
		found = found || w == want
		if strings.Contains(w, "OCR limit") && w != want {
			t.Errorf("extra OCR-limit warning %q", w)
		}
	}
	if !found || len(d.Document.Warnings) > 3 {
		t.Fatalf("warnings %q, want one naming pages 2-40", d.Document.Warnings)
	}
}
