package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Files is the embedded Blobs: one file per blob in dir, at
// dir/<first two hex digits>/<sha256>, written to a temporary file, fsynced
// and renamed into place.
type Files struct {
	dir string
}

var _ Blobs = (*Files)(nil)

// OpenFiles opens (creating) the blob directory dir.
func OpenFiles(dir string) (*Files, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: blobs: %w", err)
	}
	return &Files{dir: dir}, nil
}

// validSHA reports whether sha is a sha256 in lowercase hex (a blob name
// that cannot leave the directory).
func validSHA(sha string) bool {
	if len(sha) != 2*sha256.Size {
		return false
	}
	for _, c := range sha {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (f *Files) path(sha string) string { return filepath.Join(f.dir, sha[:2], sha) }

// Put implements Blobs: temp file, fsync, rename, fsync of the directory.
func (f *Files) Put(ctx context.Context, data []byte) (string, error) {
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	path := f.path(sha)
	if st, err := os.Stat(path); err == nil && st.Size() == int64(len(data)) {
		return sha, nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return sha, nil
}

// PutReader implements Blobs: r streams into a temporary file beside the
// blobs while it is hashed; the file is fsynced and renamed to its sha256,
// or removed when r or ctx fails.
func (f *Files) PutReader(ctx context.Context, r io.Reader) (string, int64, error) {
	tmp, err := os.CreateTemp(f.dir, ".upload-*")
	if err != nil {
		return "", 0, err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), ctxReader{ctx, r})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", n, fmt.Errorf("store: blob put: %w", err)
	}
	sha := hex.EncodeToString(h.Sum(nil))
	path := f.path(sha)
	if st, err := os.Stat(path); err == nil && st.Size() == n {
		return sha, n, nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", n, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", n, err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return sha, n, nil
}

// ctxReader stops reading once ctx ends (a cancelled upload).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Get implements Blobs.
func (f *Files) Get(ctx context.Context, sha string) ([]byte, error) {
	if !validSHA(sha) {
		return nil, fmt.Errorf("blob %q: %w", sha, ErrNotFound)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(f.path(sha))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", sha, ErrNotFound)
	}
	return b, err
}

// Delete implements Blobs.
func (f *Files) Delete(ctx context.Context, sha string) error {
	if !validSHA(sha) {
		return nil
	}
	if err := os.Remove(f.path(sha)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Close implements Blobs.
func (f *Files) Close() error { return nil }
