//go:build unix

package trainer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pdfqa/pdfqa/platform/s3test"
	"github.com/pdfqa/pdfqa/platform/testenv"
)

// Two replicas whose only shared state is PostgreSQL and a bucket on a
// real S3 server (SeaweedFS): a job cancelled through B is resumed on B
// from the checkpoint A's worker uploaded, and A evaluates the adapter B
// uploaded. The bucket then holds the dataset, the second claim's
// checkpoints and the adapter, under the keys shared.go documents.
func TestReplicasShareCheckpointsAndAdaptersOnS3(t *testing.T) {
	u := s3test.BucketURL(t)
	ds, job := cancelResumeEvaluate(t, u)
	keys := s3test.BucketKeys(t, u)
	has := func(prefix string) bool {
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) {
				return true
			}
		}
		return false
	}
	for _, want := range []string{
		"trainer/datasets/" + ds + "/train-",
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

// Publishing uploads the adapter's bytes to the shared bucket (a
// directory, and a real S3 server) and hands inference the object's key,
// not the trainer's file path; the object reads back byte for byte and is
// the bucket's only one.
func TestBlobAdaptersPublishThroughTheBucket(t *testing.T) {
	buckets := map[string]func(t *testing.T) (url string, keys func() []string){
		"file": func(t *testing.T) (string, func() []string) {
			dir := t.TempDir()
			return "file://" + filepath.ToSlash(dir) + "?metadata=skip", func() []string {
				var keys []string
				for _, f := range testenv.Files(t, dir) {
					rel, _ := filepath.Rel(dir, f)
					keys = append(keys, filepath.ToSlash(rel))
				}
				return keys
			}
		},
		"s3": func(t *testing.T) (string, func() []string) {
			u := s3test.BucketURL(t)
			return u, func() []string { return s3test.BucketKeys(t, u) }
		},
	}
	for name, bucket := range buckets {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			file := filepath.Join(t.TempDir(), "adapter.gguf")
			want := bytes.Repeat([]byte("GGUF adapter bytes "), 1<<16)
			if err := os.WriteFile(file, want, 0o644); err != nil {
				t.Fatal(err)
			}
			u, keys := bucket(t)
			rec := &loadRecorder{}
			a, err := NewBlobAdapters(ctx, rec, u)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Bucket.Close()
			if err := a.Load(ctx, "ft-1", file); err != nil {
				t.Fatal(err)
			}
			key := rec.req.GetPath()
			if !strings.HasPrefix(key, "adapters/ft-1/") || !strings.HasSuffix(key, ".gguf") || strings.Contains(key, file) || rec.req.GetName() != "ft-1" {
				t.Fatalf("LoadAdapter got %v", rec.req)
			}
			got, err := a.Bucket.ReadAll(ctx, key)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("object %s = %d bytes, %v; want the adapter's %d", key, len(got), err, len(want))
			}
			if keys := keys(); len(keys) != 1 || keys[0] != key {
				t.Fatalf("bucket holds %v, want only %s", keys, key)
			}
		})
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
