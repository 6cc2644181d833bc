package retrieval

import (
	"context"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// DocumentContent returns a document's PDF bytes as uploaded and its name.
func (e *Engine) DocumentContent(ctx context.Context, coll, id string) ([]byte, string, error) {
	d, err := e.st.GetDocument(ctx, coll, id)
	if err != nil {
		return nil, "", err
	}
	data, err := e.blobs.Get(context.Background(), d.SHA256)
	if err != nil {
		return nil, "", err
	}
	return data, d.Name, nil
}

// GetDocumentContent returns a document's PDF bytes (the web UI's viewer
// draws its pages with PDF.js).
func (s *Service) GetDocumentContent(ctx context.Context, r *retrievalv1.GetDocumentContentRequest) (*retrievalv1.GetDocumentContentResponse, error) {
	c, err := coll(ctx, r.GetCollection())
	if err != nil {
		return nil, errTable.Status(err)
	}
	data, name, err := s.e.DocumentContent(ctx, c, r.GetDocumentId())
	if err != nil {
		return nil, errTable.Status(err)
	}
	return &retrievalv1.GetDocumentContentResponse{Content: data, Name: name}, nil
}
