package agents

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// visionInference is upInference serving a chat model with or without
// vision; it records the Generate requests it gets.
type visionInference struct {
	upInference
	vision bool
	mu     sync.Mutex
	reqs   []*inferencev1.GenerateRequest
}

func (v *visionInference) ListModels(context.Context, *inferencev1.ListModelsRequest) (*inferencev1.ListModelsResponse, error) {
	return &inferencev1.ListModelsResponse{Models: []*inferencev1.Model{
		{Name: "chat", Kind: inferencev1.ModelKind_MODEL_KIND_CHAT, ContextWindow: 2048, Engine: "openai", Vision: v.vision, Ready: true},
		{Name: "embed", Kind: inferencev1.ModelKind_MODEL_KIND_EMBEDDING, Engine: "openai", Ready: true},
	}}, nil
}

func (v *visionInference) Generate(r *inferencev1.GenerateRequest, s grpc.ServerStreamingServer[inferencev1.GenerateResponse]) error {
	v.mu.Lock()
	v.reqs = append(v.reqs, r)
	v.mu.Unlock()
	return v.upInference.Generate(r, s)
}

func (v *visionInference) requests() []*inferencev1.GenerateRequest {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]*inferencev1.GenerateRequest(nil), v.reqs...)
}

// figureRetrieval finds the answer on an OCR'd page (a scan or a figure)
// and renders pages, counting the RenderPage calls.
type figureRetrieval struct {
	fakeRetrieval
	png     []byte
	fail    bool
	mu      sync.Mutex
	renders []*retrievalv1.RenderPageRequest
}

func (f *figureRetrieval) Search(context.Context, *retrievalv1.SearchRequest) (*retrievalv1.SearchResponse, error) {
	return &retrievalv1.SearchResponse{Passages: []*retrievalv1.Passage{
		{ChunkId: "c2", DocumentId: "d1", DocumentName: "acme.pdf", Page: 3, PageEnd: 3, Kind: retrievalv1.PassageKind_PASSAGE_KIND_OCR,
			Text: "Operating margin was 5% in the quarter. Free cash flow was $181 million."},
	}}, nil
}

func (f *figureRetrieval) RenderPage(_ context.Context, r *retrievalv1.RenderPageRequest) (*retrievalv1.RenderPageResponse, error) {
	f.mu.Lock()
	f.renders = append(f.renders, r)
	f.mu.Unlock()
	if f.fail {
		return nil, status.Error(codes.Unavailable, "renderer down")
	}
	return &retrievalv1.RenderPageResponse{Png: f.png, Width: 850, Height: 1100}, nil
}

func (f *figureRetrieval) renderCalls() []*retrievalv1.RenderPageRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*retrievalv1.RenderPageRequest(nil), f.renders...)
}

// imagesSent lists the images of every message of every Generate request.
func imagesSent(reqs []*inferencev1.GenerateRequest) (imgs []*inferencev1.Image, roles []inferencev1.Role) {
	for _, r := range reqs {
		for _, m := range r.GetMessages() {
			for _, im := range m.GetImages() {
				imgs, roles = append(imgs, im), append(roles, m.GetRole())
			}
		}
	}
	return imgs, roles
}

// With a vision model the answerer's question carries the rendered evidence
// page; with a text-only model nothing is rendered or sent; a page that
// fails to render leaves a text-only answer, not a failed one.
func TestAskVisionAttachesEvidencePage(t *testing.T) {
	page := []byte("\x89PNG\r\n\x1a\npage 3 of acme.pdf")
	cases := []struct {
		name        string
		vision      bool
		renderFails bool
		wantRenders int // -1: at least one (the client retries Unavailable)
		wantImage   bool
	}{
		{"vision model", true, false, 1, true},
		{"text-only model", false, false, 0, false},
		{"vision model, render fails", true, true, -1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inf := &visionInference{vision: c.vision}
			ret := &figureRetrieval{png: page, fail: c.renderFails}
			cl, _ := meshWith(t, inf, ret, t.TempDir())
			run, streamed, err := askAll(t, cl, &agentsv1.AskRequest{Collection: "c", Question: "What was free cash flow?", IncludeScratchpad: true})
			if err != nil {
				t.Fatal(err)
			}
			if run.GetStatus() != agentsv1.RunStatus_RUN_STATUS_SUCCEEDED || run.GetDegraded() || !strings.Contains(streamed, "$181 million [acme.pdf p.3]") {
				t.Fatalf("run %v degraded %v answer %q", run.GetStatus(), run.GetDegraded(), streamed)
			}
			renders := ret.renderCalls()
			if len(renders) != c.wantRenders && (c.wantRenders >= 0 || len(renders) == 0) {
				t.Fatalf("RenderPage called %d times, want %d", len(renders), c.wantRenders)
			}
			for _, r := range renders {
				if r.GetCollection() != "c" || r.GetDocumentId() != "d1" || r.GetPage() != 3 {
					t.Errorf("RenderPage(%v), want collection c, document d1, page 3", r)
				}
			}
			reqs := inf.requests()
			if len(reqs) == 0 {
				t.Fatal("no Generate request")
			}
			imgs, roles := imagesSent(reqs)
			if !c.wantImage {
				if len(imgs) != 0 {
					t.Fatalf("%d images sent, want none", len(imgs))
				}
				if c.renderFails && !strings.Contains(run.GetScratchpad(), "not rendered") {
					t.Errorf("scratchpad does not note the failed render:\n%s", run.GetScratchpad())
				}
				return
			}
			if len(imgs) != 1 || roles[0] != inferencev1.Role_ROLE_USER || !bytes.Equal(imgs[0].GetData(), page) || imgs[0].GetMimeType() != "image/png" {
				t.Fatalf("images sent %v (roles %v), want the rendered page once with the question", imgs, roles)
			}
			last := reqs[len(reqs)-1]
			// The page's label names a file: it goes with the images in the
			// user message, never in the system message.
			if user := last.GetMessages()[1].GetContent(); !strings.Contains(user, "Images of these pages come with the question, in order: [acme.pdf p.3]") {
				t.Errorf("answerer user message does not name the attached page:\n%s", user)
			}
			if sys := last.GetMessages()[0].GetContent(); strings.Contains(sys, "acme.pdf p.3") {
				t.Errorf("answerer system message names a document:\n%s", sys)
			}
		})
	}
}
