package trainer

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"gocloud.dev/blob"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/blobstore"
	"github.com/pdfqa/pdfqa/platform/breaker"
)

// BlobAdapters publishes adapters through the shared blob bucket: the
// converted file is uploaded as adapters/<name>/<sha256>.gguf and
// inference is asked to load that object, which every inference replica
// then fetches (inference.SharedAdapters), so publishing works when the
// trainer and inference run on different machines.
type BlobAdapters struct {
	Client inferencev1.InferenceServiceClient
	Bucket *blob.Bucket
	// Timeout bounds the upload (default 5m).
	Timeout time.Duration
	br      *breaker.Breaker
}

// NewBlobAdapters opens the bucket at url.
func NewBlobAdapters(ctx context.Context, c inferencev1.InferenceServiceClient, url string) (*BlobAdapters, error) {
	b, err := blobstore.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("trainer: adapter bucket: %w", err)
	}
	return &BlobAdapters{Client: c, Bucket: b, br: breaker.New("blobs-trainer", breaker.Settings{}, nil)}, nil
}

// Load implements AdapterLoader.
func (a *BlobAdapters) Load(ctx context.Context, name, path string) error {
	key, err := a.upload(ctx, name, path)
	if err != nil {
		return err
	}
	_, err = a.Client.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: name, Path: key})
	return err
}

func (a *BlobAdapters) upload(ctx context.Context, name, path string) (string, error) {
	sum, err := blobstore.FileSHA256(path)
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	key := fmt.Sprintf("adapters/%s/%s.gguf", name, sum)
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	uctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = a.br.Do(func() error {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		return writeBlob(uctx, a.Bucket, key, f)
	})
	if err != nil {
		return "", fmt.Errorf("%w: upload adapter: %v", ErrUnavailable, err)
	}
	return key, nil
}
