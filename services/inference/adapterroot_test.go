package inference

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/etcdtest"
)

// localReplica is a service over a recording engine whose adapters live
// under root.
func localReplica(t *testing.T, root string) (inferencev1.InferenceServiceClient, *recordingBackend) {
	t.Helper()
	fb := &recordingBackend{}
	svc := newService(fb, &adapters{file: filepath.Join(t.TempDir(), "adapters.json")}, Options{Config: Config{MaxConcurrent: 1}}, nil)
	r, err := openAdapterRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	svc.core.root = r
	c, stop := serve(svc)
	t.Cleanup(func() { stop(); _ = svc.Close() })
	return c, fb
}

// Adapters by id, never by path: a caller uploads the bytes or names a
// file under the adapter root; nothing else on the host is opened, and the
// engine is only ever handed files under the root.
func TestAdaptersOnlyUnderTheRoot(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.gguf")
	if err := os.WriteFile(secret, []byte("GGUF a file the caller must not reach"), 0o600); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "published"), 0o755))
	must(os.WriteFile(filepath.Join(root, "published", "fin.gguf"), []byte("GGUF published"), 0o644))
	must(os.WriteFile(filepath.Join(root, "notes.txt"), []byte("not an adapter"), 0o644))
	must(os.Symlink(secret, filepath.Join(root, "escape.gguf")))
	must(os.Symlink(outside, filepath.Join(root, "outdir")))
	must(os.Symlink("published/fin.gguf", filepath.Join(root, "alias.gguf")))
	c, fb := localReplica(t, root)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	for _, tc := range []struct{ path, says string }{
		{"/etc/shadow", "is absolute"},
		{secret, "is absolute"},
		{"/nonexistent/x.gguf", "is absolute"},
		{"../../../../etc/shadow", "leaves the adapter root"},
		{"published/../../x.gguf", "leaves the adapter root"},
		{"escape.gguf", "leaves the adapter root"},        // a symlink out
		{"outdir/secret.gguf", "leaves the adapter root"}, // through a symlinked directory
		{"notes.txt", "not a GGUF file"},
		{"published", "not a regular file"},
		{"missing.gguf", "no such file"},
	} {
		_, err := c.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "x", Path: tc.path})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("path %q: got %v, want InvalidArgument saying %q", tc.path, err, tc.says)
		}
		// Only the caller's own path is quoted back: never the root, nor
		// where a symlink leads.
		if strings.Contains(err.Error(), root) || (!strings.Contains(tc.path, outside) && strings.Contains(err.Error(), outside)) {
			t.Errorf("path %q: the error names server directories: %v", tc.path, err)
		}
	}
	if got := fb.contents(); len(got) != 0 {
		t.Fatalf("the engine was handed %q after refusals", got)
	}

	// A published adapter by its path under the root, through a symlink
	// that stays inside; then uploaded bytes.
	if _, err := c.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "fin", Path: "alias.gguf"}); err != nil {
		t.Fatal(err)
	}
	upload := []byte("GGUF uploaded adapter bytes")
	res, err := c.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "up", Content: upload})
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(root, "uploads", adapterDigest(upload)+".gguf")
	if res.GetAdapter().GetPath() != want {
		t.Errorf("upload stored at %q, want %q", res.GetAdapter().GetPath(), want)
	}
	if got := fb.contents(); len(got) != 2 || !bytes.Equal(got[0], []byte("GGUF published")) || !bytes.Equal(got[1], upload) {
		t.Fatalf("engine serves %q", got)
	}
	for p := range fb.files {
		if !within(root, p) {
			t.Errorf("engine handed %s, outside the root", p)
		}
	}
	// The same bytes again are the same file; bytes that are not GGUF are refused.
	if _, err := c.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "up2", Content: upload}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "bad", Content: []byte("root:x:0:0:root:/root:/bin/sh")}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("non-GGUF upload: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "uploads")); len(ents) != 1 {
		t.Errorf("uploads dir holds %d entries, want 1", len(ents))
	}
}

// A registry written before adapters were confined keeps only what lies
// under the root.
func TestRegistryKeepsOnlyAdaptersUnderTheRoot(t *testing.T) {
	root := t.TempDir()
	in := filepath.Join(root, "a.gguf")
	if err := os.WriteFile(in, []byte("GGUF"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &adapters{list: []*inferencev1.Adapter{{Name: "in", Path: in}, {Name: "host", Path: "/etc/passwd"}, {Name: "gone", Path: filepath.Join(root, "gone.gguf")}}}
	a.keepUnder(root, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if got := a.paths(); len(got) != 1 || got[0] != in {
		t.Fatalf("kept %v", got)
	}
}

// With the shared store an uploaded adapter goes to the bucket and every
// replica serves it; a key that is absolute or climbs out is refused.
func TestSharedAdapterUpload(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	dir := t.TempDir()
	bucket := "file://" + filepath.ToSlash(dir) + "?metadata=skip"
	a, fa := sharedReplica(t, etcd.Endpoints(), bucket)
	_, fb := sharedReplica(t, etcd.Endpoints(), bucket)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, p := range []string{"/etc/shadow", "../adapters/x.gguf", "adapters/../../x"} {
		if _, err := a.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Path: p}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("key %q: %v, want InvalidArgument", p, err)
		}
	}
	lora := []byte("GGUF uploaded to the mesh")
	if _, err := a.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Content: lora}); err != nil {
		t.Fatal(err)
	}
	b, err := blob.OpenBucket(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, err := b.ReadAll(ctx, "adapters/ft/"+adapterDigest(lora)+".gguf"); err != nil || !bytes.Equal(got, lora) {
		t.Fatalf("bucket object: %q, %v", got, err)
	}
	for _, f := range []*recordingBackend{fa, fb} {
		waitUntil(t, "replica serves the upload", 20*time.Second, func() bool {
			c := f.contents()
			return len(c) == 1 && bytes.Equal(c[0], lora)
		})
	}
}
