package retrieval

import (
	"bytes"
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/testenv"
)

// TestGetDocumentContentReturnsTheUploadedBytes: the viewer draws the PDF
// it gets back, so the bytes must be the ones uploaded.
func TestGetDocumentContentReturnsTheUploadedBytes(t *testing.T) {
	pdf := testenv.ReadData(t, "pdf-samples", "001-trivial", "minimal-document.pdf")
	_, c := serve(t, testConfig(t.TempDir()))
	ctx := context.Background()
	up, err := c.UploadDocument(ctx, &retrievalv1.UploadDocumentRequest{Collection: "docs", Name: "minimal.pdf", Content: pdf})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetDocumentContent(ctx, &retrievalv1.GetDocumentContentRequest{Collection: "docs", DocumentId: up.Document.Id})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Content, pdf) || got.Name != "minimal.pdf" {
		t.Errorf("content: %d bytes named %q, want the %d uploaded bytes named minimal.pdf", len(got.Content), got.Name, len(pdf))
	}
	_, err = c.GetDocumentContent(ctx, &retrievalv1.GetDocumentContentRequest{Collection: "docs", DocumentId: "nope"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("unknown document: %v, want NotFound", err)
	}
}
