package retrieval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
)

// pagePDF is a minimal one-page PDF saying text.
func pagePDF(text string) []byte {
	content := fmt.Sprintf("BT /F1 12 Tf 72 720 Td (%s) Tj ET", text)
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// stuckEmbedder holds every ingestion at its embed stage until released.
type stuckEmbedder struct{ release chan struct{} }

func (s stuckEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = make([]float32, 8)
	}
	return out, nil
}

func TestQueueSizeIsEnforced(t *testing.T) {
	cfg := testConfig(t.TempDir())
	stuck := stuckEmbedder{release: make(chan struct{})}
	cfg.Embedder, cfg.QueueSize, cfg.Workers = stuck, 2, 1
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	defer close(stuck.release)
	for i := 0; i < 2; i++ {
		if _, _, err := e.Upload("q", fmt.Sprintf("d%d.pdf", i), pagePDF(fmt.Sprintf("document %d", i)), ""); err != nil {
			t.Fatalf("upload %d within the bound: %v", i, err)
		}
	}
	_, _, err = e.Upload("q", "over.pdf", pagePDF("one too many"), "")
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third upload with QueueSize 2: got %v, want ErrQueueFull", err)
	}
	if got := errTable.Status(err).Error(); !bytes.Contains([]byte(got), []byte("ResourceExhausted")) {
		t.Errorf("status %q, want ResourceExhausted", got)
	}
}

func TestUploadSizeLimit(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.MaxUploadBytes = 1000
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	_, _, err = e.Upload("q", "big.pdf", append(pagePDF("x"), make([]byte, 1000)...), "")
	if !errors.Is(err, ErrUploadLarge) {
		t.Fatalf("got %v, want ErrUploadLarge", err)
	}
}
