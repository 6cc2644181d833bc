package ask

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// fakeLLM answers Generate from a queue of replies (or fails with err) and
// counts tokens as one per word.
type fakeLLM struct {
	mu      sync.Mutex
	replies []string
	err     error
	calls   []GenerateRequest
	window  int
	noCount bool
}

func (f *fakeLLM) Generate(_ context.Context, req GenerateRequest, onDelta func(string)) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, req)
	if f.err != nil {
		return "", f.err
	}
	out := ""
	if len(f.replies) > 0 {
		out, f.replies = f.replies[0], f.replies[1:]
	}
	if onDelta != nil {
		for _, w := range strings.SplitAfter(out, " ") {
			onDelta(w)
		}
	}
	return out, nil
}

func (f *fakeLLM) CountTokens(_ context.Context, text string) (int, int, error) {
	if f.noCount || f.err != nil {
		return 0, 0, status.Error(codes.Unavailable, "inference down")
	}
	return len(strings.Fields(text)), f.window, nil
}

// fakeSearch returns passages whose text shares a word with the query,
// of the requested documents only, and records the requests.
type fakeSearch struct {
	passages []*retrievalv1.Passage
	err      error
	failOn   string // queries containing this fail
	rank     bool   // best term overlap with the query first (else corpus order)

	mu   sync.Mutex
	reqs []SearchRequest
}

func (f *fakeSearch) Search(_ context.Context, req SearchRequest) ([]*retrievalv1.Passage, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if f.failOn != "" && strings.Contains(strings.ToLower(req.Query), f.failOn) {
		return nil, status.Error(codes.Unavailable, "shard down")
	}
	qt := terms(req.Query)
	var out []*retrievalv1.Passage
	perDoc := map[string]int{}
	for _, p := range f.passages {
		if len(req.DocumentIDs) > 0 && !slices.Contains(req.DocumentIDs, p.DocumentId) {
			continue
		}
		if req.MaxPerDocument > 0 && perDoc[p.DocumentId] >= req.MaxPerDocument {
			continue
		}
		if overlap(qt, terms(p.Text)) > 0 {
			perDoc[p.DocumentId]++
			out = append(out, p)
		}
	}
	if f.rank {
		sort.SliceStable(out, func(i, j int) bool { return overlap(qt, terms(out[i].Text)) > overlap(qt, terms(out[j].Text)) })
	}
	if req.TopK > 0 && len(out) > req.TopK {
		out = out[:req.TopK]
	}
	return out, nil
}

// requests returns the recorded search requests.
func (f *fakeSearch) requests() []SearchRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SearchRequest(nil), f.reqs...)
}

// fakeLister is a fakeSearch that also lists the collection's documents.
type fakeLister struct {
	*fakeSearch
	docs    []*retrievalv1.Document
	listErr error
}

func (f *fakeLister) ListDocuments(context.Context, string) ([]*retrievalv1.Document, error) {
	return f.docs, f.listErr
}

func corpus() []*retrievalv1.Passage {
	return []*retrievalv1.Passage{
		{ChunkId: "c1", DocumentId: "d1", DocumentName: "acme-q1.pdf", Page: 2, Text: "Welcome to the call. Product revenue grew 84% year-on-year to $394 million in the first quarter. We thank our customers."},
		{ChunkId: "c2", DocumentId: "d1", DocumentName: "acme-q1.pdf", Page: 3, Text: "Operating margin was 5% in the quarter. Free cash flow was $181 million."},
		{ChunkId: "c3", DocumentId: "d2", DocumentName: "acme-q2.pdf", Page: 4, Text: "Product revenue grew 79% year-on-year to $466 million in the second quarter."},
		{ChunkId: "c4", DocumentId: "d2", DocumentName: "acme-q2.pdf", Page: 4, Text: "Product revenue grew 79% year-on-year to $466 million in the second quarter."},
	}
}
