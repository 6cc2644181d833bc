package retrieval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/pdfqa/pdfqa/services/retrieval/parse/pdftest"
)

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
	e := openEngine(t, cfg)
	defer close(stuck.release)
	for i := 0; i < 2; i++ {
		if _, _, err := e.Upload("q", fmt.Sprintf("d%d.pdf", i), pdftest.OnePage(fmt.Sprintf("document %d", i)), ""); err != nil {
			t.Fatalf("upload %d within the bound: %v", i, err)
		}
	}
	_, _, err := e.Upload("q", "over.pdf", pdftest.OnePage("one too many"), "")
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
	e := openEngine(t, cfg)
	_, _, err := e.Upload("q", "big.pdf", append(pdftest.OnePage("x"), make([]byte, 1000)...), "")
	if !errors.Is(err, ErrUploadLarge) {
		t.Fatalf("got %v, want ErrUploadLarge", err)
	}
}
