package inference

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// MaxAdapterBytes bounds an uploaded adapter (LoadAdapterRequest.content);
// a LoRA adapter of a 7B model at rank 16 is about 80 MB.
const MaxAdapterBytes = 192 << 20

// ggufMagic opens every GGUF file.
var ggufMagic = []byte("GGUF")

// uploadsDir is where uploaded adapters are kept under the root, by digest.
const uploadsDir = "uploads"

// adapterRoot is the one directory local adapters are read from and
// uploaded into. Paths are resolved through os.Root, so none leaves it: not
// an absolute path, not "..", not a symlink pointing out of it. A caller
// never names a file elsewhere on the server (issue: `{"path":"/etc/shadow"}`
// probed server files and handed any GGUF on the host to the engine).
type adapterRoot struct {
	dir  string // absolute, symlinks resolved
	root *os.Root
}

// openAdapterRoot creates dir when missing and opens it as the root.
func openAdapterRoot(dir string) (*adapterRoot, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("inference: adapter root: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return nil, fmt.Errorf("inference: adapter root: %w", err)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("inference: adapter root: %w", err)
	}
	return &adapterRoot{dir: abs, root: r}, nil
}

func (r *adapterRoot) close() error { return r.root.Close() }

// checkAdapterPath refuses what can never name a file under a root or an
// object in the bucket, before anything is opened: an absolute path, a
// ".." step, a backslash or NUL. (Nothing outside the root is ever stat'ed,
// so the answer says nothing about the server's other files.)
func checkAdapterPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: adapter path is required (or upload the adapter's bytes as content)", ErrInvalid)
	case filepath.IsAbs(p) || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`):
		return fmt.Errorf("%w: adapter path %q is absolute: name a published adapter relative to the adapter root, or upload its bytes as content", ErrInvalid, clip(p))
	case strings.ContainsAny(p, "\\\x00") || !filepath.IsLocal(p) || !fs.ValidPath(path.Clean(p)):
		return fmt.Errorf("%w: adapter path %q leaves the adapter root", ErrInvalid, clip(p))
	}
	return nil
}

// clip bounds a caller's path quoted back in an error.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// resolve returns the absolute file the engine loads for rel, a path under
// the root: a regular file that opens with the GGUF magic.
func (r *adapterRoot) resolve(rel string) (string, error) {
	if err := checkAdapterPath(rel); err != nil {
		return "", err
	}
	f, err := r.root.Open(rel)
	if err != nil {
		return "", fmt.Errorf("%w: adapter %q under the adapter root: %v", ErrInvalid, clip(rel), rootErr(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("%w: adapter %q is not a regular file", ErrInvalid, clip(rel))
	}
	head := make([]byte, len(ggufMagic))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, ggufMagic) {
		return "", fmt.Errorf("%w: adapter %q is not a GGUF file", ErrInvalid, clip(rel))
	}
	// The engine opens the file by name: hand it the resolved one, which
	// os.Root has just shown to lie under the root.
	abs, err := filepath.EvalSymlinks(filepath.Join(r.dir, rel))
	if err != nil || !within(r.dir, abs) {
		return "", fmt.Errorf("%w: adapter %q leaves the adapter root", ErrInvalid, clip(rel))
	}
	return abs, nil
}

// rootErr words os.Root's errors without the server's directory names.
func rootErr(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case strings.Contains(err.Error(), "escapes"):
		return "the path leaves the adapter root"
	}
	return "cannot be opened"
}

// within reports whether p is dir or lies under it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && filepath.IsLocal(rel)
}

// checkAdapterBytes checks an upload's size and GGUF magic.
func checkAdapterBytes(b []byte) error {
	switch {
	case len(b) > MaxAdapterBytes:
		return fmt.Errorf("%w: adapter is %d bytes > %d", ErrInvalid, len(b), MaxAdapterBytes)
	case !bytes.HasPrefix(b, ggufMagic):
		return fmt.Errorf("%w: the uploaded adapter is not a GGUF file", ErrInvalid)
	}
	return nil
}

// adapterDigest is the hex SHA-256 uploads are named by.
func adapterDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// store keeps uploaded adapter bytes under the root as
// uploads/<sha256>.gguf (written whole, then renamed into place) and
// returns that relative path.
func (r *adapterRoot) store(b []byte) (string, error) {
	if err := checkAdapterBytes(b); err != nil {
		return "", err
	}
	rel := path.Join(uploadsDir, adapterDigest(b)+".gguf")
	if st, err := r.root.Stat(rel); err == nil && st.Mode().IsRegular() && st.Size() == int64(len(b)) {
		return rel, nil
	}
	if err := r.root.MkdirAll(uploadsDir, 0o755); err != nil {
		return "", fmt.Errorf("adapter upload: %w", err)
	}
	tmp := path.Join(uploadsDir, ".upload-"+rand.Text())
	if err := r.root.WriteFile(tmp, b, 0o644); err != nil {
		return "", fmt.Errorf("adapter upload: %w", err)
	}
	if err := r.root.Rename(tmp, rel); err != nil {
		_ = r.root.Remove(tmp)
		return "", fmt.Errorf("adapter upload: %w", err)
	}
	return rel, nil
}
