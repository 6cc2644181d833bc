package mesh

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/testenv"
	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
)

// TestSDKOverRealMesh drives the Go SDK (sdk/go) against a whole mesh in
// this process, reached through its etcd the way a user's program would:
// ingest a bundled sample with progress, one question with its streamed
// events, and the typed errors of an unknown collection, a bad key and an
// invalid request. The SDK's own module cannot import the mesh, so the test
// lives here.
func TestSDKOverRealMesh(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole mesh and asks the embedded model")
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	sample := filepath.Join(root, "samples", "northwind-annual-report-2025.pdf")

	ctx := t.Context()
	m := StartForTest(t, UpOptions{Data: t.TempDir(), HTTPAddr: "127.0.0.1:0", LogLevel: "error"})
	if m.AdminKey == "" {
		t.Fatal("the mesh made no admin key")
	}
	// /healthz is 200 once every service answers (the inference engine
	// takes a while to load its model); before that the answer is extractive.
	if err := testenv.WaitHTTP("http://"+m.Gateway().HTTPAddr+"/healthz", 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	target := "etcd://" + m.Etcd.Endpoint()
	dial := func(key string) *pdfqa.Client {
		t.Helper()
		c, err := pdfqa.Dial(ctx, target, pdfqa.WithRegistry(Registry()), pdfqa.WithAPIKey(key))
		if err != nil {
			t.Fatalf("Dial %s: %v", target, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	c := dial(m.AdminKey)

	// Ingest: progress arrives stage by stage, and the document is READY.
	stageRank := map[string]int{"store": 0, "parse": 1, "ocr": 2, "chunk": 3, "embed": 4, "index": 5, "done": 6}
	var seen []string
	last := -1
	ictx, icancel := context.WithTimeout(ctx, 3*time.Minute)
	defer icancel()
	start := time.Now()
	got, err := c.Ingest(ictx, "sdk", func(p pdfqa.Progress) {
		r, ok := stageRank[p.Stage]
		if !ok {
			t.Errorf("progress with unknown stage %q: %+v", p.Stage, p)
			return
		}
		if r < last {
			t.Errorf("progress went back: stage %q after %v", p.Stage, seen)
		}
		if p.File != sample || p.DocumentID == "" || p.Files != 1 {
			t.Errorf("progress names the file %q doc %q of %d", p.File, p.DocumentID, p.Files)
		}
		if len(seen) == 0 || seen[len(seen)-1] != p.Stage {
			seen = append(seen, p.Stage)
		}
		last = r
	}, sample)
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	if len(got) != 1 || got[0].Document.GetState() != retrievalv1.DocumentState_DOCUMENT_STATE_READY {
		t.Fatalf("Ingest: %+v, want one READY document", got)
	}
	doc := got[0].Document
	if len(seen) < 3 || seen[len(seen)-1] != "done" {
		t.Errorf("progress stages %v: want at least three, ending in done", seen)
	}
	t.Logf("ingested %s (%d pages) in %v; stages %v", doc.GetId(), doc.GetPageCount(), time.Since(start).Round(time.Millisecond), seen)

	// Ask: the events stream in order and the run is cited.
	rank := func(ev pdfqa.Event) (int, string) {
		switch ev.(type) {
		case pdfqa.PlanMade:
			return 0, "plan"
		case pdfqa.SubAnswerChanged:
			return 1, "sub-answer"
		case pdfqa.EvidenceFound:
			return 1, "evidence"
		case pdfqa.AnswerDelta:
			return 2, "delta"
		case pdfqa.CitationsMade:
			return 3, "citations"
		case pdfqa.Verified:
			return 4, "verified"
		case pdfqa.RunDone:
			return 5, "run"
		}
		return -1, "?"
	}
	actx, acancel := context.WithTimeout(ctx, 5*time.Minute)
	defer acancel()
	start = time.Now()
	var (
		kinds    []string
		count    = map[string]int{}
		answer   strings.Builder
		cites    []*pdfqa.Citation
		run      *pdfqa.Run
		hi       = -1
		runID    string
		firstTok time.Duration
	)
	for ev, err := range c.Ask(actx, "sdk", "What was Northwind Ferries' total revenue in 2025?", pdfqa.WithMaxSubQuestions(1), pdfqa.WithScratchpad()) {
		if err != nil {
			t.Fatalf("Ask after %v: %v", kinds, err)
		}
		if run != nil {
			t.Fatalf("event %T after the run", ev)
		}
		r, kind := rank(ev)
		if r < 0 {
			t.Fatalf("unknown event %T", ev)
		}
		// Sub-answers may change status while the answer streams; every
		// other kind comes in the order of the run's phases.
		if kind != "sub-answer" {
			if r < hi {
				t.Errorf("%s after %v", kind, kinds)
			}
			hi = r
		}
		if len(kinds) == 0 || kinds[len(kinds)-1] != kind {
			kinds = append(kinds, kind)
		}
		count[kind]++
		switch ev := ev.(type) {
		case pdfqa.PlanMade:
			runID = ev.RunID
			if len(ev.Plan.GetSubQuestions()) == 0 {
				t.Error("a plan without sub-questions")
			}
		case pdfqa.AnswerDelta:
			if firstTok == 0 {
				firstTok = time.Since(start)
			}
			answer.WriteString(ev.Text)
		case pdfqa.CitationsMade:
			cites = ev.Citations
		case pdfqa.RunDone:
			run = ev.Run
		}
	}
	t.Logf("asked in %v (first token %v); events %v %v", time.Since(start).Round(time.Millisecond), firstTok.Round(time.Millisecond), kinds, count)
	if run == nil {
		t.Fatal("Ask ended without the run")
	}
	for _, k := range []string{"plan", "evidence", "delta", "citations"} {
		if count[k] == 0 {
			t.Errorf("no %s event; got %v", k, kinds)
		}
	}
	if count["run"] != 1 {
		t.Errorf("%d run events, want 1", count["run"])
	}
	if runID != "" && run.GetId() != runID {
		t.Errorf("run %q, but the plan was of run %q", run.GetId(), runID)
	}
	if strings.TrimSpace(run.GetAnswer()) == "" || !strings.Contains(run.GetAnswer(), strings.TrimSpace(answer.String())) {
		t.Errorf("run answer %q does not hold the streamed text %q", run.GetAnswer(), answer.String())
	}
	if len(run.GetCitations()) == 0 || len(cites) == 0 {
		t.Fatalf("an uncited run: %d citations in the run, %d streamed; answer %q", len(run.GetCitations()), len(cites), run.GetAnswer())
	}
	for _, ci := range run.GetCitations() {
		if ci.GetDocumentId() != doc.GetId() || ci.GetPage() < 1 {
			t.Errorf("citation %v: want document %s, a page", ci, doc.GetId())
		}
	}
	t.Logf("answer (status %v, degraded %v) %q", run.GetStatus(), run.GetDegraded(), run.GetAnswer())
	if run.GetDegraded() { // the model could not answer; the scratchpad says why
		for _, l := range strings.Split(run.GetScratchpad(), "\n") {
			if strings.Contains(l, "model") {
				t.Logf("scratchpad: %s", l)
			}
		}
	}

	// Typed errors.
	if _, err := c.Documents(ctx, "no-such-collection"); !errors.Is(err, pdfqa.ErrNotFound) {
		t.Errorf("Documents of an unknown collection: %v (code %v), want ErrNotFound", err, pdfqa.Code(err))
	}
	if _, err := c.Search(ctx, "no-such-collection", "revenue", nil); !errors.Is(err, pdfqa.ErrNotFound) {
		t.Errorf("Search of an unknown collection: %v (code %v), want ErrNotFound", err, pdfqa.Code(err))
	}
	bad := dial("pdfqa_not-a-key")
	if _, err := bad.Collections(ctx); !errors.Is(err, pdfqa.ErrUnauthenticated) {
		t.Errorf("Collections with a bad key: %v (code %v), want ErrUnauthenticated", err, pdfqa.Code(err))
	}
	if _, err := bad.Search(ctx, "sdk", "revenue", nil); !errors.Is(err, pdfqa.ErrUnauthenticated) {
		t.Errorf("Search with a bad key: %v (code %v), want ErrUnauthenticated", err, pdfqa.Code(err))
	}
	for ev, err := range c.Ask(ctx, "sdk", "  ") {
		if ev != nil || !errors.Is(err, pdfqa.ErrInvalidArgument) {
			t.Errorf("Ask with an empty question: %v %v, want ErrInvalidArgument", ev, err)
		}
	}
	// The server's own argument check, not only the SDK's.
	if _, err := c.Search(ctx, "sdk", "revenue", &pdfqa.SearchOptions{Mode: pdfqa.SearchMode(99)}); !errors.Is(err, pdfqa.ErrInvalidArgument) {
		t.Errorf("Search with a bad mode: %v (code %v), want ErrInvalidArgument", err, pdfqa.Code(err))
	}
}
