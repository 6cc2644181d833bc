package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/pdfqa/pdfqa/platform/testenv"
)

// PutReader streams a blob in: the same sha and layout as Put, and a
// second copy of the same bytes leaves one file.
func TestPutReaderStreams(t *testing.T) { eachBlobs(t, testPutReaderStreams) }

func testPutReaderStreams(t *testing.T, open func(dir string) (Blobs, error)) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "blobs")
	b, err := open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	data := bytes.Repeat([]byte("%PDF-1.7 streamed "), 100_000) // 1.8 MB, many reads
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	for range 2 {
		sha, n, err := b.PutReader(ctx, io.MultiReader(bytes.NewReader(data[:7]), bytes.NewReader(data[7:])))
		if err != nil || sha != want || n != int64(len(data)) {
			t.Fatalf("PutReader = %q, %d, %v; want %q, %d", sha, n, err, want, len(data))
		}
	}
	got, err := b.Get(ctx, want)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get after PutReader: %d bytes, %v", len(got), err)
	}
	if fs := testenv.Files(t, dir); len(fs) != 1 || filepath.Base(fs[0]) != want {
		t.Errorf("files after two PutReader of the same bytes: %v, want only the blob", fs)
	}
}

// failAfter yields n bytes, then fails with errBroken.
type failAfter struct{ n int }

var errBroken = errors.New("client went away")

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errBroken
	}
	k := min(len(p), f.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	f.n -= k
	return k, nil
}

// A stream that fails (an upload over the limit, a dropped client) or
// whose context ends leaves nothing in the store, and the reader's error
// comes back.
func TestPutReaderFailureLeavesNothing(t *testing.T) { eachBlobs(t, testPutReaderFailureLeavesNothing) }

func testPutReaderFailureLeavesNothing(t *testing.T, open func(dir string) (Blobs, error)) {
	dir := filepath.Join(t.TempDir(), "blobs")
	b, err := open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, _, err := b.PutReader(context.Background(), &failAfter{n: 3 << 20}); !errors.Is(err, errBroken) {
		t.Fatalf("PutReader of a failing reader: %v, want errBroken", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := b.PutReader(ctx, bytes.NewReader([]byte("%PDF-1.7"))); !errors.Is(err, context.Canceled) {
		t.Fatalf("PutReader with a cancelled context: %v, want context.Canceled", err)
	}
	if fs := testenv.Files(t, dir); len(fs) != 0 {
		t.Errorf("files left after failed uploads: %v", fs)
	}
}
