package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFilesPutGetDelete(t *testing.T) { eachBlobs(t, testFilesPutGetDelete) }

func testFilesPutGetDelete(t *testing.T, open func(dir string) (Blobs, error)) {
	ctx := context.Background()
	dir := t.TempDir()
	f, err := open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := []byte("%PDF-1.7 not really")
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])

	sha, err := f.Put(ctx, data)
	if err != nil || sha != want {
		t.Fatalf("Put = %q, %v; want %q", sha, err, want)
	}
	// The layout the embedded store has always used: blobs/<2 hex>/<sha>.
	if _, err := os.Stat(filepath.Join(dir, "blobs", want[:2], want)); err != nil {
		t.Fatalf("blob file: %v", err)
	}
	if again, err := f.Put(ctx, data); err != nil || again != sha {
		t.Fatalf("second Put = %q, %v", again, err)
	}
	got, err := f.Get(ctx, sha)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get = %q, %v", got, err)
	}
	// No temporary files are left beside the blob.
	ents, _ := os.ReadDir(filepath.Join(dir, "blobs", want[:2]))
	if len(ents) != 1 {
		t.Errorf("%d entries in the blob's directory, want 1", len(ents))
	}

	if err := f.Delete(ctx, sha); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get(ctx, sha); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := f.Delete(ctx, sha); err != nil {
		t.Errorf("deleting a missing blob: %v", err)
	}
}

func TestFilesRejectsNamesOutsideTheStore(t *testing.T) {
	eachBlobs(t, testFilesRejectsNamesOutsideTheStore)
}

func testFilesRejectsNamesOutsideTheStore(t *testing.T, open func(dir string) (Blobs, error)) {
	ctx := context.Background()
	dir := t.TempDir()
	f, err := open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, sha := range []string{"", "abc", "../secret", strings.Repeat("A", 64), "../" + strings.Repeat("a", 61)} {
		if _, err := f.Get(ctx, sha); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", sha, err)
		}
		if err := f.Delete(ctx, sha); err != nil {
			t.Errorf("Delete(%q): %v", sha, err)
		}
	}
	if _, err := os.Stat(secret); err != nil {
		t.Errorf("a file outside the store was touched: %v", err)
	}
}

func TestFilesHonoursCancellation(t *testing.T) { eachBlobs(t, testFilesHonoursCancellation) }

func testFilesHonoursCancellation(t *testing.T, open func(dir string) (Blobs, error)) {
	f, err := open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Put(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put on a cancelled context: %v", err)
	}
	if _, err := f.Get(ctx, strings.Repeat("a", 64)); !errors.Is(err, context.Canceled) {
		t.Errorf("Get on a cancelled context: %v", err)
	}
}
