// Package agents is the agents service: the multi-agent coordinator that
// plans, researches, answers and verifies questions over a collection.
package agents

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/platform/grpcerr"
)

// Service implements agentsv1.AgentsServiceServer.
type Service struct {
	agentsv1.UnimplementedAgentsServiceServer
	log *slog.Logger
}

// New returns the service.
func New(log *slog.Logger) *Service { return &Service{log: log} }

// Register adds the service to g.
func (s *Service) Register(g *grpc.Server) { agentsv1.RegisterAgentsServiceServer(g, s) }

// Close releases the service's resources.
func (s *Service) Close() error { return nil }

const later = "question answering arrives with the agents issue (#5)"

// Ask answers a question.
func (s *Service) Ask(*agentsv1.AskRequest, grpc.ServerStreamingServer[agentsv1.AskResponse]) error {
	return grpcerr.Later("Ask", later)
}

// GetRun returns a run.
func (s *Service) GetRun(context.Context, *agentsv1.GetRunRequest) (*agentsv1.GetRunResponse, error) {
	return nil, grpcerr.Later("GetRun", later)
}

// ListRuns lists runs.
func (s *Service) ListRuns(context.Context, *agentsv1.ListRunsRequest) (*agentsv1.ListRunsResponse, error) {
	return nil, grpcerr.Later("ListRuns", later)
}
