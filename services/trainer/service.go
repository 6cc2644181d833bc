// Package trainer is the trainer service: LoRA fine-tuning jobs from a
// collection's documents to a served adapter.
package trainer

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/grpcerr"
)

// Service implements trainerv1.TrainerServiceServer.
type Service struct {
	trainerv1.UnimplementedTrainerServiceServer
	log *slog.Logger
}

// New returns the service.
func New(log *slog.Logger) *Service { return &Service{log: log} }

// Register adds the service to g.
func (s *Service) Register(g *grpc.Server) { trainerv1.RegisterTrainerServiceServer(g, s) }

// Close releases the service's resources.
func (s *Service) Close() error { return nil }

const later = "fine-tuning arrives with the trainer issue (#6)"

// WatchJob streams job progress.
func (s *Service) WatchJob(*trainerv1.WatchJobRequest, grpc.ServerStreamingServer[trainerv1.WatchJobResponse]) error {
	return grpcerr.Later("WatchJob", later)
}

// BuildDataset is not implemented yet.
func (s *Service) BuildDataset(context.Context, *trainerv1.BuildDatasetRequest) (*trainerv1.BuildDatasetResponse, error) {
	return nil, grpcerr.Later("BuildDataset", later)
}

// ImportDataset is not implemented yet.
func (s *Service) ImportDataset(context.Context, *trainerv1.ImportDatasetRequest) (*trainerv1.ImportDatasetResponse, error) {
	return nil, grpcerr.Later("ImportDataset", later)
}

// GetDataset is not implemented yet.
func (s *Service) GetDataset(context.Context, *trainerv1.GetDatasetRequest) (*trainerv1.GetDatasetResponse, error) {
	return nil, grpcerr.Later("GetDataset", later)
}

// ListDatasets is not implemented yet.
func (s *Service) ListDatasets(context.Context, *trainerv1.ListDatasetsRequest) (*trainerv1.ListDatasetsResponse, error) {
	return nil, grpcerr.Later("ListDatasets", later)
}

// StartJob is not implemented yet.
func (s *Service) StartJob(context.Context, *trainerv1.StartJobRequest) (*trainerv1.StartJobResponse, error) {
	return nil, grpcerr.Later("StartJob", later)
}

// CancelJob is not implemented yet.
func (s *Service) CancelJob(context.Context, *trainerv1.CancelJobRequest) (*trainerv1.CancelJobResponse, error) {
	return nil, grpcerr.Later("CancelJob", later)
}

// ResumeJob is not implemented yet.
func (s *Service) ResumeJob(context.Context, *trainerv1.ResumeJobRequest) (*trainerv1.ResumeJobResponse, error) {
	return nil, grpcerr.Later("ResumeJob", later)
}

// GetJob is not implemented yet.
func (s *Service) GetJob(context.Context, *trainerv1.GetJobRequest) (*trainerv1.GetJobResponse, error) {
	return nil, grpcerr.Later("GetJob", later)
}

// ListJobs is not implemented yet.
func (s *Service) ListJobs(context.Context, *trainerv1.ListJobsRequest) (*trainerv1.ListJobsResponse, error) {
	return nil, grpcerr.Later("ListJobs", later)
}

// EvaluateAdapter is not implemented yet.
func (s *Service) EvaluateAdapter(context.Context, *trainerv1.EvaluateAdapterRequest) (*trainerv1.EvaluateAdapterResponse, error) {
	return nil, grpcerr.Later("EvaluateAdapter", later)
}

// PublishAdapter is not implemented yet.
func (s *Service) PublishAdapter(context.Context, *trainerv1.PublishAdapterRequest) (*trainerv1.PublishAdapterResponse, error) {
	return nil, grpcerr.Later("PublishAdapter", later)
}
