//go:build unix

package trainer

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/s3test"
)

// s3Keys lists the objects of the s3test bucket behind u.
func s3Keys(t *testing.T, u string) []string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys, err := s3test.Shared(t).Keys(ctx, p.Host)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// Two replicas whose only shared state is PostgreSQL and a bucket on a
// real S3 server (SeaweedFS): a job cancelled through B is resumed on B
// from the checkpoint A's worker uploaded, and A evaluates the adapter B
// uploaded. The bucket then holds the dataset, the second claim's
// checkpoints and the adapter, under the keys shared.go documents.
func TestReplicasShareCheckpointsAndAdaptersOnS3(t *testing.T) {
	u := s3test.BucketURL(t)
	ds, job := cancelResumeEvaluate(t, u)
	keys := s3Keys(t, u)
	has := func(prefix string) bool {
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) {
				return true
			}
		}
		return false
	}
	for _, want := range []string{
		"trainer/datasets/" + ds + "/train.jsonl",
		"trainer/jobs/" + job + "/e2/checkpoints/step-",
	} {
		if !has(want) {
			t.Errorf("no object under %s in the bucket: %v", want, keys)
		}
	}
	// The first claim's checkpoints (A's, which B resumed from) are pruned
	// from the bucket once B's newer ones are recorded: listed and deleted
	// through S3.
	if has("trainer/jobs/" + job + "/e1/") {
		t.Errorf("the superseded claim's checkpoints were not pruned: %v", keys)
	}
	adapter := false
	for _, k := range keys {
		adapter = adapter || (strings.HasPrefix(k, "trainer/jobs/"+job+"/") && strings.Contains(k, "/adapter/"))
		if strings.Contains(k, "tmp") {
			t.Errorf("a temporary object was left in the bucket: %s", k)
		}
	}
	if !adapter {
		t.Errorf("no adapter object for job %s: %v", job, keys)
	}
}

// Publishing uploads the adapter to the S3 bucket and hands inference the
// object's key; the object reads back byte for byte.
func TestBlobAdaptersPublishToS3(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "adapter.gguf")
	want := bytes.Repeat([]byte("GGUF adapter bytes "), 1<<16)
	if err := os.WriteFile(file, want, 0o644); err != nil {
		t.Fatal(err)
	}
	u := s3test.BucketURL(t)
	rec := &loadRecorder{}
	a, err := NewBlobAdapters(ctx, rec, u)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Bucket.Close()
	if err := a.Load(ctx, "ft-s3", file); err != nil {
		t.Fatal(err)
	}
	key := rec.req.GetPath()
	if !strings.HasPrefix(key, "adapters/ft-s3/") || !strings.HasSuffix(key, ".gguf") {
		t.Fatalf("LoadAdapter got %v", rec.req)
	}
	got, err := a.Bucket.ReadAll(ctx, key)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("object %s = %d bytes, %v; want the adapter's %d", key, len(got), err, len(want))
	}
	if keys := s3Keys(t, u); len(keys) != 1 || keys[0] != key {
		t.Fatalf("bucket holds %v, want only %s", keys, key)
	}
}

// A checkpoint copy that fails halfway leaves no object on S3 either (the
// multipart upload is aborted, not completed).
func TestWriteBlobAbortsOnS3(t *testing.T) {
	ctx := context.Background()
	b, err := openBlobs(ctx, s3test.BucketURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.b.Close()
	if err := writeBlob(ctx, b.b, "ckpt/a", failingReader{strings.NewReader(strings.Repeat("x", 12<<20))}); err == nil {
		t.Fatal("a failed copy was not an error")
	}
	if ok, err := b.b.Exists(ctx, "ckpt/a"); err != nil || ok {
		t.Fatalf("object after a failed copy: exists %v, %v", ok, err)
	}
	src := filepath.Join(t.TempDir(), "ck")
	if err := os.WriteFile(src, []byte("whole checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := b.putFile(ctx, "ckpt/b", src); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "back")
	if err := b.getFile(ctx, "ckpt/b", dst); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(dst); err != nil || string(got) != "whole checkpoint" {
		t.Fatalf("checkpoint read back %q, %v", got, err)
	}
}
