package trainer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
)

// loadRecorder is inference's LoadAdapter as the trainer sees it.
type loadRecorder struct {
	inferencev1.InferenceServiceClient
	req *inferencev1.LoadAdapterRequest
}

func (l *loadRecorder) LoadAdapter(_ context.Context, r *inferencev1.LoadAdapterRequest, _ ...grpc.CallOption) (*inferencev1.LoadAdapterResponse, error) {
	l.req = r
	return &inferencev1.LoadAdapterResponse{Adapter: &inferencev1.Adapter{Name: r.Name, Path: r.Path}}, nil
}

// Publishing uploads the adapter's bytes to the shared bucket and hands
// inference the object's key, not the trainer's file path.
func TestBlobAdaptersPublishThroughTheBucket(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "adapter.gguf")
	want := []byte("GGUF adapter bytes")
	if err := os.WriteFile(file, want, 0o644); err != nil {
		t.Fatal(err)
	}
	rec := &loadRecorder{}
	a, err := NewBlobAdapters(ctx, rec, "file://"+filepath.ToSlash(t.TempDir())+"?metadata=skip")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Bucket.Close()
	if err := a.Load(ctx, "ft-1", file); err != nil {
		t.Fatal(err)
	}
	key := rec.req.GetPath()
	if !strings.HasPrefix(key, "adapters/ft-1/") || strings.Contains(key, file) || rec.req.GetName() != "ft-1" {
		t.Fatalf("LoadAdapter got %v", rec.req)
	}
	got, err := a.Bucket.ReadAll(ctx, key)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("object %s = %q, %v; want the adapter's bytes", key, got, err)
	}
}
