// Package remote implements the agents' LLM, Searcher and PageRenderer ports with the
// inference and retrieval gRPC clients (connections come from the platform
// client factory, which adds breakers, deadlines and retries).
package remote

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/services/agents/ask"
)

// countTimeout bounds one CountTokens call: packing needs many and falls
// back to an estimate rather than wait.
const countTimeout = 5 * time.Second

// LLM calls the inference service.
type LLM struct {
	C inferencev1.InferenceServiceClient
}

// NewLLM returns an LLM over conn.
func NewLLM(conn grpc.ClientConnInterface) LLM {
	return LLM{C: inferencev1.NewInferenceServiceClient(conn)}
}

var roles = map[ask.Role]inferencev1.Role{
	ask.System: inferencev1.Role_ROLE_SYSTEM, ask.User: inferencev1.Role_ROLE_USER, ask.Assistant: inferencev1.Role_ROLE_ASSISTANT,
}

// Generate streams a greedy completion under req.Timeout.
func (l LLM) Generate(ctx context.Context, req ask.GenerateRequest, onDelta func(string)) (string, error) {
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}
	greedy := float32(0)
	seed := int64(1)
	in := &inferencev1.GenerateRequest{
		Temperature: &greedy, Seed: &seed, MaxTokens: int32(req.MaxTokens), Stop: req.Stop,
		JsonSchema: req.JSONSchema, Adapter: req.Adapter,
	}
	for _, m := range req.Messages {
		cm := &inferencev1.ChatMessage{Role: roles[m.Role], Content: m.Content}
		for _, im := range m.Images {
			cm.Images = append(cm.Images, &inferencev1.Image{Data: im.Data, MimeType: im.MIMEType})
		}
		in.Messages = append(in.Messages, cm)
	}
	st, err := l.C.Generate(ctx, in)
	if err != nil {
		return "", err
	}
	return client.Text(st, func(r *inferencev1.GenerateResponse) {
		if d := r.GetDelta(); d != "" && onDelta != nil {
			onDelta(d)
		}
	})
}

// CountTokens counts text with the chat model's tokenizer.
func (l LLM) CountTokens(ctx context.Context, text string) (int, int, error) {
	ctx, cancel := context.WithTimeout(ctx, countTimeout)
	defer cancel()
	r, err := l.C.CountTokens(ctx, &inferencev1.CountTokensRequest{Text: text})
	if err != nil {
		return 0, 0, err
	}
	return int(r.GetCount()), int(r.GetContextWindow()), nil
}

// Vision reports whether the served chat model accepts images.
func (l LLM) Vision(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, countTimeout)
	defer cancel()
	r, err := l.C.ListModels(ctx, &inferencev1.ListModelsRequest{})
	if err != nil {
		return false, err
	}
	for _, m := range r.GetModels() {
		if m.GetKind() == inferencev1.ModelKind_MODEL_KIND_CHAT {
			return m.GetVision(), nil
		}
	}
	return false, nil
}

// Searcher calls the retrieval service's hybrid search.
type Searcher struct {
	C retrievalv1.RetrievalServiceClient
}

// NewSearcher returns a Searcher over conn.
func NewSearcher(conn grpc.ClientConnInterface) Searcher {
	return Searcher{C: retrievalv1.NewRetrievalServiceClient(conn)}
}

// Search runs one hybrid query.
func (s Searcher) Search(ctx context.Context, req ask.SearchRequest) ([]*retrievalv1.Passage, error) {
	r, err := s.C.Search(ctx, &retrievalv1.SearchRequest{
		Collection: req.Collection, Query: req.Query, TopK: int32(req.TopK), DocumentIds: req.DocumentIDs,
		Mode: retrievalv1.SearchMode_SEARCH_MODE_HYBRID, MaxPerDocument: int32(req.MaxPerDocument),
	})
	if status.Code(err) == codes.NotFound {
		return nil, fmt.Errorf("%w: %v", ask.ErrNotFound, status.Convert(err).Message())
	}
	if err != nil {
		return nil, err
	}
	return r.GetPassages(), nil
}

// ListDocuments lists a collection's documents with their cards.
func (s Searcher) ListDocuments(ctx context.Context, collection string) ([]*retrievalv1.Document, error) {
	r, err := s.C.ListDocuments(ctx, &retrievalv1.ListDocumentsRequest{Collection: collection})
	if err != nil {
		return nil, err
	}
	return r.GetDocuments(), nil
}

// RenderPage renders one page as a PNG at the service's default resolution.
func (s Searcher) RenderPage(ctx context.Context, collection, documentID string, page int) ([]byte, error) {
	r, err := s.C.RenderPage(ctx, &retrievalv1.RenderPageRequest{Collection: collection, DocumentId: documentID, Page: int32(page)})
	if err != nil {
		return nil, err
	}
	return r.GetPng(), nil
}

var (
	_ ask.VisionLLM      = LLM{}
	_ ask.PageRenderer   = Searcher{}
	_ ask.DocumentLister = Searcher{}
)
