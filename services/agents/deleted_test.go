package agents

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/agents/ask"
	"github.com/pdfqa/pdfqa/services/agents/remote"
	"github.com/pdfqa/pdfqa/services/agents/runstore"
)

// listingRetrieval is fakeRetrieval (the retrieval service is another
// module and process; its own tests cover it) whose ListDocuments answers
// what the test sets: the collection's documents, or an error.
type listingRetrieval struct {
	fakeRetrieval
	mu   sync.Mutex
	docs []*retrievalv1.Document
	err  error
}

func (l *listingRetrieval) set(docs []*retrievalv1.Document, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.docs, l.err = docs, err
}

func (l *listingRetrieval) ListDocuments(context.Context, *retrievalv1.ListDocumentsRequest) (*retrievalv1.ListDocumentsResponse, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return nil, l.err
	}
	return &retrievalv1.ListDocumentsResponse{Documents: l.docs}, nil
}

// A run that cited a document still reads after the document is deleted,
// with its references (document, page) and its citations marked deleted,
// but no longer the quote: GetRun scrubs it from the store first. While
// the document exists, or when retrieval cannot tell, the run is as it
// was.
func TestGetRunSaysACitedDocumentWasDeleted(t *testing.T) {
	ret := &listingRetrieval{}
	ret.set(nil, status.Error(codes.Unimplemented, "not listed while asking"))
	c, _ := meshWith(t, upInference{}, ret, t.TempDir())
	run, _, err := askAll(t, c, &agentsv1.AskRequest{Collection: "c", Question: "What was free cash flow?"})
	if err != nil || run == nil || len(run.Citations) == 0 || run.Citations[0].DocumentId != "d1" {
		t.Fatalf("ask: %v, %v; want a run citing d1", run, err)
	}
	get := func() *agentsv1.Run {
		t.Helper()
		r, err := c.GetRun(context.Background(), &agentsv1.GetRunRequest{RunId: run.Id})
		if err != nil {
			t.Fatal(err)
		}
		return r.Run
	}
	for _, state := range []struct {
		name        string
		docs        []*retrievalv1.Document
		err         error
		wantDeleted bool
	}{
		{name: "document exists", docs: []*retrievalv1.Document{{Id: "d1"}, {Id: "d2"}}},
		{name: "retrieval unavailable", err: status.Error(codes.Unavailable, "down")},
		{name: "document deleted", docs: []*retrievalv1.Document{{Id: "d2"}}, wantDeleted: true},
		{name: "collection deleted too", err: status.Error(codes.NotFound, `collection "c": not found`), wantDeleted: true},
	} {
		ret.set(state.docs, state.err)
		r := get()
		for _, ct := range r.Citations {
			if ct.DocumentDeleted != state.wantDeleted || (ct.Quote == "") != state.wantDeleted || ct.Page != 3 || ct.DocumentId != "d1" {
				t.Errorf("%s: citation %v, want document_deleted=%v, its page and a quote only while it exists", state.name, ct, state.wantDeleted)
			}
		}
		if held := strings.Contains(r.Answer+r.Passages[0].GetText(), "$181 million"); held == state.wantDeleted {
			t.Errorf("%s: the run's answer %q and passage %q", state.name, r.Answer, r.Passages[0].GetText())
		}
	}
}

// The service scrubs a deleted document's text from the runs on its own
// (ScrubDeleted), on both run stores, without anyone reading them: after
// the delete, no byte of the document's passage is left in the bbolt file
// or the PostgreSQL table.
func TestServiceScrubsDeletedDocumentsFromRuns(t *testing.T) {
	const text = "Free cash flow was $181 million"
	stores := map[string]func(t *testing.T) (runstore.Runs, func() bool){
		"bbolt": func(t *testing.T) (runstore.Runs, func() bool) {
			dir := t.TempDir()
			runs, err := runstore.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			return runs, func() bool {
				b, err := os.ReadFile(filepath.Join(dir, "runs.db"))
				if err != nil {
					t.Fatal(err)
				}
				return bytes.Contains(b, []byte(text)) || bytes.Contains(b, []byte("Operating margin was 5%"))
			}
		},
		"postgres": func(t *testing.T) (runstore.Runs, func() bool) {
			dsn := pgtest.DSN(t)
			runs, err := runstore.OpenRuns(context.Background(), "", dsn, nil)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := pgx.Connect(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = conn.Close(context.Background()) })
			return runs, func() bool {
				var n int
				if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM agents.runs WHERE position($1::bytea in run) > 0 OR position($2::bytea in run) > 0`,
					[]byte(text), []byte("Operating margin was 5%")).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n > 0
			}
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ret := &listingRetrieval{}
			ret.set([]*retrievalv1.Document{{Id: "d1"}}, nil)
			ic, rc := downstreams(t, upInference{}, ret)
			runs, holds := open(t)
			svc := NewWithRuns(nil, &ask.Engine{LLM: remote.NewLLM(ic), Search: remote.NewSearcher(rc)}, runs)
			t.Cleanup(func() { _ = svc.Close() })
			c := agentsv1.NewAgentsServiceClient(testenv.GRPC(t, svc.Register))
			if _, _, err := askAll(t, c, &agentsv1.AskRequest{Collection: "c", Question: "What was free cash flow?"}); err != nil {
				t.Fatal(err)
			}
			svc.ScrubDeleted(20 * time.Millisecond)
			time.Sleep(200 * time.Millisecond) // rounds while d1 exists
			if !holds() {
				t.Fatal("the run store does not hold the passage before the delete: the check cannot fail")
			}
			ret.set(nil, nil) // d1 deleted
			deadline := time.Now().Add(time.Minute)
			for holds() {
				if time.Now().After(deadline) {
					t.Fatal("the deleted document's text is still in the run store a minute after the delete")
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
