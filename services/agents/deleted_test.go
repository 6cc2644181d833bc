package agents

import (
	"context"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
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

// A run that cited a document still reads after the document is deleted —
// its quote is the run's own copy — and says the document was deleted;
// while the document exists, or when retrieval cannot tell, it says
// nothing of the kind.
func TestGetRunSaysACitedDocumentWasDeleted(t *testing.T) {
	ret := &listingRetrieval{}
	ret.set(nil, status.Error(codes.Unimplemented, "not listed while asking"))
	c, _ := meshWith(t, upInference{}, ret, t.TempDir())
	run, _, err := askAll(t, c, &agentsv1.AskRequest{Collection: "c", Question: "What was free cash flow?"})
	if err != nil || run == nil || len(run.Citations) == 0 || run.Citations[0].DocumentId != "d1" {
		t.Fatalf("ask: %v, %v; want a run citing d1", run, err)
	}
	get := func() []*agentsv1.Citation {
		t.Helper()
		r, err := c.GetRun(context.Background(), &agentsv1.GetRunRequest{RunId: run.Id})
		if err != nil {
			t.Fatal(err)
		}
		return r.Run.Citations
	}
	for name, state := range map[string]struct {
		docs        []*retrievalv1.Document
		err         error
		wantDeleted bool
	}{
		"document exists":       {docs: []*retrievalv1.Document{{Id: "d1"}, {Id: "d2"}}},
		"document deleted":      {docs: []*retrievalv1.Document{{Id: "d2"}}, wantDeleted: true},
		"collection deleted":    {err: status.Error(codes.NotFound, `collection "c": not found`), wantDeleted: true},
		"retrieval unavailable": {err: status.Error(codes.Unavailable, "down")},
	} {
		ret.set(state.docs, state.err)
		for _, ct := range get() {
			if ct.DocumentDeleted != state.wantDeleted || ct.Quote == "" {
				t.Errorf("%s: citation %v, want document_deleted=%v and its quote", name, ct, state.wantDeleted)
			}
		}
	}
}
