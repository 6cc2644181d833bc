package retrieval

// This file reads what a collection stores of a document: its PDF bytes,
// its chunks, one table's rows and a rendered page.

import (
	"context"
	"fmt"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// DocumentContent returns a document's PDF bytes as uploaded and its name.
func (e *Engine) DocumentContent(ctx context.Context, coll, id string) ([]byte, string, error) {
	d, err := e.st.GetDocument(ctx, coll, id)
	if err != nil {
		return nil, "", err
	}
	data, err := e.blobs.Get(ctx, d.SHA256)
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

// ListChunks pages through a collection's chunks.
func (e *Engine) ListChunks(ctx context.Context, coll, doc, token string, size int) ([]store.Chunk, string, error) {
	if size <= 0 {
		size = 100
	}
	if size > 1000 {
		size = 1000
	}
	return e.st.ListChunks(ctx, coll, doc, token, size)
}

// maxTableChunks bounds the chunks TableChunks returns (a table is a few
// dozen chunks; a hostile document cannot make a caller page through more).
const maxTableChunks = 1000

// TableChunks returns the chunks of one table of a document, in order: a
// row's passage expanded to its whole table.
func (e *Engine) TableChunks(ctx context.Context, coll, doc, table string) ([]store.Chunk, error) {
	if doc == "" {
		return nil, fmt.Errorf("%w: table_id needs document_id", ErrInvalid)
	}
	if _, err := e.st.GetDocument(ctx, coll, doc); err != nil {
		return nil, err
	}
	var out []store.Chunk
	tok := ""
	for {
		cs, next, err := e.st.ListChunks(ctx, coll, doc, tok, 500)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if c.Table == table {
				out = append(out, c)
			}
		}
		if next == "" || len(out) >= maxTableChunks {
			break
		}
		tok = next
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: table %q in document %s", store.ErrNotFound, table, doc)
	}
	return out[:min(len(out), maxTableChunks)], nil
}

// RenderPage renders one page as PNG (dpi 0 means 100, at most parse.MaxRenderDPI).
func (e *Engine) RenderPage(ctx context.Context, coll, id string, page, dpi int) ([]byte, int, int, error) {
	if page < 1 {
		return nil, 0, 0, fmt.Errorf("%w: page must be >= 1", ErrInvalid)
	}
	if dpi < 0 || dpi > parse.MaxRenderDPI {
		return nil, 0, 0, fmt.Errorf("%w: dpi must be in 0..%d", ErrInvalid, parse.MaxRenderDPI)
	}
	if dpi == 0 {
		dpi = 100
	}
	d, err := e.st.GetDocument(ctx, coll, id)
	if err != nil {
		return nil, 0, 0, err
	}
	data, err := e.blobs.Get(ctx, d.SHA256)
	if err != nil {
		return nil, 0, 0, err
	}
	pw, _ := e.st.JobPassword(ctx, coll, id)
	return e.parser.RenderPNG(ctx, data, pw, page, dpi)
}
