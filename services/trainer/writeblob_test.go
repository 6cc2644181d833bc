package trainer

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"gocloud.dev/blob/fileblob"
)

type failingReader struct{ r io.Reader }

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errors.New("disk read error")
	}
	return n, err
}

// A copy that fails halfway leaves no object under the key: a resumed job
// never restores half a checkpoint.
func TestWriteBlobAbortsOnAFailedCopy(t *testing.T) {
	ctx := context.Background()
	b, err := fileblob.OpenBucket(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := writeBlob(ctx, b, "ckpt/a", failingReader{strings.NewReader(strings.Repeat("x", 1<<20))}); err == nil {
		t.Fatal("a failed copy was not an error")
	}
	if ok, err := b.Exists(ctx, "ckpt/a"); err != nil || ok {
		t.Fatalf("object after a failed copy: exists %v, %v", ok, err)
	}
	if err := writeBlob(ctx, b, "ckpt/b", strings.NewReader("whole")); err != nil {
		t.Fatal(err)
	}
	if got, err := b.ReadAll(ctx, "ckpt/b"); err != nil || string(got) != "whole" {
		t.Fatalf("object %q, %v", got, err)
	}
}
