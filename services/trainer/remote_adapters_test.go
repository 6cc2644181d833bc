package trainer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Publishing uploads the converted adapter's bytes: inference is never
// asked to open a path on its host.
func TestPublishUploadsAdapterBytes(t *testing.T) {
	f := filepath.Join(t.TempDir(), "adapter.gguf")
	lora := []byte("GGUF converted adapter")
	if err := os.WriteFile(f, lora, 0o644); err != nil {
		t.Fatal(err)
	}
	rec := &loadRecorder{}
	if err := (InferenceAdapters{Client: rec}).Load(context.Background(), "ft-1", f); err != nil {
		t.Fatal(err)
	}
	if rec.req.GetPath() != "" || !bytes.Equal(rec.req.GetContent(), lora) || rec.req.GetName() != "ft-1" {
		t.Fatalf("LoadAdapter got %v", rec.req)
	}
	rec.req = nil
	if err := (InferenceAdapters{Client: rec}).Load(context.Background(), "ft-2", filepath.Join(t.TempDir(), "missing.gguf")); !errors.Is(err, os.ErrNotExist) || rec.req != nil {
		t.Fatalf("missing file: %v (request %v)", err, rec.req)
	}
}
