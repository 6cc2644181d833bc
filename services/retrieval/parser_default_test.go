package retrieval

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// TestDefaultParserRunsInWorkers opens an engine without a Parser: it must
// parse in worker processes (this test binary re-exec'd, see TestMain),
// ingest a real document, report typed failures and render pages.
func TestDefaultParserRunsInWorkers(t *testing.T) {
	data := testenv.ReadData(t, "dev", "earnings-calls", snowQ1)
	enc := testenv.ReadData(t, "pdf-samples", "005-libreoffice-writer-password", "libreoffice-writer-password.pdf")
	e, err := Open(Config{Dir: t.TempDir(), Embedder: embed.Hash{Dim: 384}, Log: quietLog(), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, ok := e.parser.(*parse.Process); !ok {
		t.Fatalf("default parser is %T, want *parse.Process", e.parser)
	}
	wait := func(d store.Document) Event {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		var last Event
		if err := e.Watch(ctx, d.Collection, d.ID, func(ev Event) error { last = ev; return nil }); err != nil {
			t.Fatal(err)
		}
		return last
	}
	good, _, err := e.Upload("calls", snowQ1, data, "")
	if err != nil {
		t.Fatal(err)
	}
	bad, _, err := e.Upload("calls", "enc.pdf", enc, "")
	if err != nil {
		t.Fatal(err)
	}
	if ev := wait(good); ev.State != store.StateReady {
		t.Fatalf("good document: %+v", ev)
	}
	if ev := wait(bad); ev.State != store.StateFailed || !strings.Contains(ev.Message, "password is needed") {
		t.Fatalf("encrypted document: %+v", ev)
	}
	png, w, h, err := e.RenderPage(context.Background(), "calls", good.ID, 2, 50)
	if err != nil || len(png) < 100 || w == 0 || h == 0 {
		t.Fatalf("render: %d bytes %dx%d %v", len(png), w, h, err)
	}
	if _, _, _, err := e.RenderPage(context.Background(), "calls", good.ID, 999, 50); err == nil {
		t.Fatal("render of a missing page succeeded")
	}
}

func TestInProcessParseSwitch(t *testing.T) {
	e, err := Open(Config{Dir: t.TempDir(), Log: quietLog(), Workers: 1, InProcessParse: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, ok := e.parser.(*parse.PDFium); !ok {
		t.Fatalf("parser is %T, want *parse.PDFium", e.parser)
	}
}
