package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/pdfqa/pdfqa/platform/blobstore"
)

// Bucket is Blobs over a gocloud.dev/blob bucket, opened by URL through
// platform/blobstore (file:///dir, mem://, s3://bucket?endpoint=…). Keys are <first two hex digits>/<sha256>, the layout of Files,
// so a file bucket on an embedded store's blob directory reads its blobs.
type Bucket struct {
	b       *blob.Bucket
	timeout time.Duration
}

var _ Blobs = (*Bucket)(nil)

// FileBucketURL is the file:// URL of the blob directory dir, without
// sidecar metadata files.
func FileBucketURL(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: "create_dir=1&metadata=skip&no_tmp_dir=1"}
	return u.String(), nil
}

// OpenBucket opens the bucket at url; each call's deadline is the
// context's, else timeout (default 1m).
func OpenBucket(ctx context.Context, url string, timeout time.Duration) (*Bucket, error) {
	b, err := blobstore.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("store: blobs: %w", err)
	}
	if timeout <= 0 {
		timeout = time.Minute
	}
	return &Bucket{b: b, timeout: timeout}, nil
}

func (b *Bucket) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, b.timeout)
}

func blobKey(sha string) string { return sha[:2] + "/" + sha }

// Put implements Blobs.
func (b *Bucket) Put(ctx context.Context, data []byte) (string, error) {
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	if a, err := b.b.Attributes(ctx, blobKey(sha)); err == nil && a.Size == int64(len(data)) {
		return sha, nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := b.b.WriteAll(ctx, blobKey(sha), data, &blob.WriterOptions{ContentType: "application/pdf"}); err != nil {
		return "", fmt.Errorf("store: blob put: %w", err)
	}
	return sha, nil
}

// PutReader implements Blobs: r streams through a gocloud.dev blob writer
// to a temporary key while it is hashed, then is copied to its sha256 key
// and the temporary one deleted. When r or ctx fails the writer is aborted
// (its context cancelled before Close), so the bucket keeps nothing.
func (b *Bucket) PutReader(ctx context.Context, r io.Reader) (string, int64, error) {
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", 0, err
	}
	tmp := tmpPrefix + hex.EncodeToString(rnd[:])
	wctx, abort := context.WithCancel(ctx)
	defer abort()
	w, err := b.b.NewWriter(wctx, tmp, &blob.WriterOptions{ContentType: "application/pdf"})
	if err != nil {
		return "", 0, fmt.Errorf("store: blob put: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), ctxReader{ctx, r})
	if err != nil {
		abort()
		_ = w.Close()
		return "", n, fmt.Errorf("store: blob put: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", n, fmt.Errorf("store: blob put: %w", err)
	}
	defer func() { _ = b.b.Delete(context.WithoutCancel(ctx), tmp) }()
	sha := hex.EncodeToString(h.Sum(nil))
	if a, err := b.b.Attributes(ctx, blobKey(sha)); err == nil && a.Size == n {
		return sha, n, nil
	}
	if err := b.b.Copy(ctx, blobKey(sha), tmp, nil); err != nil {
		return "", n, fmt.Errorf("store: blob put: %w", err)
	}
	return sha, n, nil
}

// tmpPrefix holds uploads still streaming (never a blob's key, which
// starts with two hex digits and a slash).
const tmpPrefix = "upload-tmp/"

// Get implements Blobs.
func (b *Bucket) Get(ctx context.Context, sha string) ([]byte, error) {
	if !validSHA(sha) {
		return nil, fmt.Errorf("blob %q: %w", sha, ErrNotFound)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	data, err := b.b.ReadAll(ctx, blobKey(sha))
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, fmt.Errorf("blob %s: %w", sha, ErrNotFound)
	}
	return data, err
}

// Delete implements Blobs.
func (b *Bucket) Delete(ctx context.Context, sha string) error {
	if !validSHA(sha) {
		return nil
	}
	ctx, cancel := b.ctx(ctx)
	defer cancel()
	if err := b.b.Delete(ctx, blobKey(sha)); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return err
	}
	return nil
}

// Close implements Blobs.
func (b *Bucket) Close() error { return b.b.Close() }
