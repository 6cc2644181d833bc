package blobstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/pdfqa/pdfqa/platform/s3test"
)

func TestMain(m *testing.M) { s3test.Main(m) }

// Bad URLs are refused with ErrBadURL and a message that names the
// problem; the schemes linked here open.
func TestCheckURLs(t *testing.T) {
	for raw, want := range map[string]string{
		"":                      "empty",
		"   ":                   "empty",
		"gs://bucket":           `scheme "gs"`,
		"/var/lib/blobs":        `scheme ""`,
		"s3://?endpoint=x":      "names no bucket",
		"s3://user:pw@":         "names no bucket",
		"%zz://x":               "bad bucket URL",
		"azblob://container/x":  `scheme "azblob"`,
		"http://example/bucket": `scheme "http"`,
	} {
		err := Check(raw)
		if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), want) {
			t.Errorf("Check(%q) = %v; want ErrBadURL saying %q", raw, err, want)
		}
		if strings.Contains(raw, "pw") && err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("Check(%q) printed the password: %v", raw, err)
		}
		if b, err := Open(context.Background(), raw); b != nil || !errors.Is(err, ErrBadURL) {
			t.Errorf("Open(%q) = %v, %v; want ErrBadURL", raw, b, err)
		}
	}
	for _, raw := range []string{"mem://", "file:///tmp/x?create_dir=1", "s3://bucket?endpoint=http://127.0.0.1:1&region=us-east-1"} {
		if err := Check(raw); err != nil {
			t.Errorf("Check(%q) = %v", raw, err)
		}
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func openS3(t *testing.T) *blob.Bucket {
	t.Helper()
	b, err := Open(context.Background(), s3test.BucketURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// Objects written through s3blob to a real S3 server read back byte for
// byte — a small one and one large enough for a multipart upload — are
// listed, copied, and deleted; a missing key is NotFound.
func TestS3RoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := openS3(t)
	small, large := []byte("%PDF-1.7 small"), randomBytes(t, 12<<20)
	if err := b.WriteAll(ctx, "ab/small", small, &blob.WriterOptions{ContentType: "application/pdf"}); err != nil {
		t.Fatal(err)
	}
	w, err := b.NewWriter(ctx, "ab/large", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, bytes.NewReader(large)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string][]byte{"ab/small": small, "ab/large": large} {
		got, err := b.ReadAll(ctx, key)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s read back %d bytes, %v; want %d", key, len(got), err, len(want))
		}
		a, err := b.Attributes(ctx, key)
		if err != nil || a.Size != int64(len(want)) {
			t.Fatalf("%s attributes %+v, %v", key, a, err)
		}
	}
	if a, _ := b.Attributes(ctx, "ab/small"); a.ContentType != "application/pdf" {
		t.Errorf("content type %q", a.ContentType)
	}
	// A range read: what a reader resuming a download asks for.
	r, err := b.NewRangeReader(ctx, "ab/large", 5<<20, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	part, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(part, large[5<<20:5<<20+100]) {
		t.Fatalf("range read %d bytes, %v", len(part), err)
	}
	if err := b.Copy(ctx, "cd/copy", "ab/small", nil); err != nil {
		t.Fatal(err)
	}
	var keys []string
	it := b.List(&blob.ListOptions{})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, o.Key)
	}
	if strings.Join(keys, ",") != "ab/large,ab/small,cd/copy" {
		t.Fatalf("listed %v", keys)
	}
	if err := b.Delete(ctx, "ab/small"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadAll(ctx, "ab/small"); gcerrors.Code(err) != gcerrors.NotFound {
		t.Fatalf("deleted object read: %v; want NotFound", err)
	}
	if got, err := b.ReadAll(ctx, "cd/copy"); err != nil || !bytes.Equal(got, small) {
		t.Fatalf("copy = %q, %v", got, err)
	}
}

// A writer whose context is cancelled before Close commits nothing — the
// abort the trainer's checkpoints and retrieval's streamed uploads rely on
// — also for an upload already past its first multipart part.
func TestS3AbortedWriteLeavesNothing(t *testing.T) {
	b := openS3(t)
	ctx := context.Background()
	for _, n := range []int{1 << 10, 12 << 20} {
		wctx, abort := context.WithCancel(ctx)
		w, err := b.NewWriter(wctx, "ckpt/partial", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(randomBytes(t, n)); err != nil {
			t.Fatal(err)
		}
		abort()
		if err := w.Close(); err == nil {
			t.Fatalf("%d bytes: Close after the abort succeeded", n)
		}
		if ok, err := b.Exists(ctx, "ckpt/partial"); err != nil || ok {
			t.Fatalf("%d bytes: object after an aborted write: exists %v, %v", n, ok, err)
		}
	}
}

// The server checks signatures: a write signed with a wrong secret key is
// refused and stores nothing; a bucket that does not exist is
// NotFound.
func TestS3RefusesBadCredentialsAndMissingBuckets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u := s3test.BucketURL(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	b, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.WriteAll(ctx, "k", []byte("x"), nil); err == nil || !strings.Contains(err.Error(), "Signature") {
		t.Fatalf("write with a wrong secret: %v; want the server's signature error", err)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	good, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if ok, err := good.Exists(ctx, "k"); err != nil || ok {
		t.Fatalf("object written with a wrong secret: exists %v, %v", ok, err)
	}
	missing, err := Open(ctx, s3test.Shared(t).URL("no-such-bucket"))
	if err != nil {
		t.Fatal(err)
	}
	defer missing.Close()
	if _, err := missing.ReadAll(ctx, "k"); gcerrors.Code(err) != gcerrors.NotFound {
		t.Fatalf("read from a missing bucket: %v; want NotFound", err)
	}
}
