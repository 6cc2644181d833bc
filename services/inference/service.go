// Package inference is the inference service: the mesh's only door to neural
// models (chat generation, embeddings, LoRA adapters).
package inference

import (
	"context"
	"log/slog"
	"sync"

	"google.golang.org/grpc"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/grpcerr"
)

// Service implements inferencev1.InferenceServiceServer.
type Service struct {
	inferencev1.UnimplementedInferenceServiceServer
	log *slog.Logger

	mu       sync.Mutex
	adapters map[string]*inferencev1.Adapter
}

// New returns the service.
func New(log *slog.Logger) *Service {
	return &Service{log: log, adapters: map[string]*inferencev1.Adapter{}}
}

// Register adds the service to g.
func (s *Service) Register(g *grpc.Server) { inferencev1.RegisterInferenceServiceServer(g, s) }

// Close releases the service's resources.
func (s *Service) Close() error { return nil }

const engineLater = "the llama.cpp engine arrives with the inference issue (#3)"

// Generate streams a completion.
func (s *Service) Generate(*inferencev1.GenerateRequest, grpc.ServerStreamingServer[inferencev1.GenerateResponse]) error {
	return grpcerr.Later("Generate", engineLater)
}

// Embed embeds texts.
func (s *Service) Embed(context.Context, *inferencev1.EmbedRequest) (*inferencev1.EmbedResponse, error) {
	return nil, grpcerr.Later("Embed", engineLater)
}

// CountTokens counts tokens.
func (s *Service) CountTokens(context.Context, *inferencev1.CountTokensRequest) (*inferencev1.CountTokensResponse, error) {
	return nil, grpcerr.Later("CountTokens", engineLater)
}

// ApplyChatTemplate renders a chat template.
func (s *Service) ApplyChatTemplate(context.Context, *inferencev1.ApplyChatTemplateRequest) (*inferencev1.ApplyChatTemplateResponse, error) {
	return nil, grpcerr.Later("ApplyChatTemplate", engineLater)
}

// ListModels lists served models.
func (s *Service) ListModels(context.Context, *inferencev1.ListModelsRequest) (*inferencev1.ListModelsResponse, error) {
	return nil, grpcerr.Later("ListModels", engineLater)
}

// LoadAdapter loads a LoRA adapter.
func (s *Service) LoadAdapter(context.Context, *inferencev1.LoadAdapterRequest) (*inferencev1.LoadAdapterResponse, error) {
	return nil, grpcerr.Later("LoadAdapter", engineLater)
}

// UnloadAdapter unloads a LoRA adapter.
func (s *Service) UnloadAdapter(context.Context, *inferencev1.UnloadAdapterRequest) (*inferencev1.UnloadAdapterResponse, error) {
	return nil, grpcerr.Later("UnloadAdapter", engineLater)
}

// ListAdapters lists LoRA adapters (none until LoadAdapter lands).
func (s *Service) ListAdapters(context.Context, *inferencev1.ListAdaptersRequest) (*inferencev1.ListAdaptersResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*inferencev1.Adapter, 0, len(s.adapters))
	for _, a := range s.adapters {
		out = append(out, a)
	}
	return &inferencev1.ListAdaptersResponse{Adapters: out}, nil
}
