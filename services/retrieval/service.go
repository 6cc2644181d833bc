// Package retrieval is the retrieval service: PDF ingestion (parse, OCR,
// tables, chunk, embed, index) and hybrid cited search.
package retrieval

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/grpcerr"
)

// Service implements retrievalv1.RetrievalServiceServer.
type Service struct {
	retrievalv1.UnimplementedRetrievalServiceServer
	log *slog.Logger
}

// New returns the service.
func New(log *slog.Logger) *Service { return &Service{log: log} }

// Register adds the service to g.
func (s *Service) Register(g *grpc.Server) { retrievalv1.RegisterRetrievalServiceServer(g, s) }

// Close releases the service's resources.
func (s *Service) Close() error { return nil }

const later = "ingestion and search arrive with the retrieval issue (#4)"

// CreateCollection creates a collection.
func (s *Service) CreateCollection(context.Context, *retrievalv1.CreateCollectionRequest) (*retrievalv1.CreateCollectionResponse, error) {
	return nil, grpcerr.Later("CreateCollection", later)
}

// ListCollections lists collections.
func (s *Service) ListCollections(context.Context, *retrievalv1.ListCollectionsRequest) (*retrievalv1.ListCollectionsResponse, error) {
	return nil, grpcerr.Later("ListCollections", later)
}

// DeleteCollection deletes a collection.
func (s *Service) DeleteCollection(context.Context, *retrievalv1.DeleteCollectionRequest) (*retrievalv1.DeleteCollectionResponse, error) {
	return nil, grpcerr.Later("DeleteCollection", later)
}

// UploadDocument stores a PDF and starts ingestion.
func (s *Service) UploadDocument(context.Context, *retrievalv1.UploadDocumentRequest) (*retrievalv1.UploadDocumentResponse, error) {
	return nil, grpcerr.Later("UploadDocument", later)
}

// GetDocument returns a document.
func (s *Service) GetDocument(context.Context, *retrievalv1.GetDocumentRequest) (*retrievalv1.GetDocumentResponse, error) {
	return nil, grpcerr.Later("GetDocument", later)
}

// ListDocuments lists documents.
func (s *Service) ListDocuments(context.Context, *retrievalv1.ListDocumentsRequest) (*retrievalv1.ListDocumentsResponse, error) {
	return nil, grpcerr.Later("ListDocuments", later)
}

// DeleteDocument deletes a document.
func (s *Service) DeleteDocument(context.Context, *retrievalv1.DeleteDocumentRequest) (*retrievalv1.DeleteDocumentResponse, error) {
	return nil, grpcerr.Later("DeleteDocument", later)
}

// WatchIngestion streams ingestion progress.
func (s *Service) WatchIngestion(*retrievalv1.WatchIngestionRequest, grpc.ServerStreamingServer[retrievalv1.WatchIngestionResponse]) error {
	return grpcerr.Later("WatchIngestion", later)
}

// Search searches a collection.
func (s *Service) Search(context.Context, *retrievalv1.SearchRequest) (*retrievalv1.SearchResponse, error) {
	return nil, grpcerr.Later("Search", later)
}

// ListChunks pages through chunks.
func (s *Service) ListChunks(context.Context, *retrievalv1.ListChunksRequest) (*retrievalv1.ListChunksResponse, error) {
	return nil, grpcerr.Later("ListChunks", later)
}

// RenderPage renders a page.
func (s *Service) RenderPage(context.Context, *retrievalv1.RenderPageRequest) (*retrievalv1.RenderPageResponse, error) {
	return nil, grpcerr.Later("RenderPage", later)
}
