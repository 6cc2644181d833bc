package inference

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gocloud.dev/blob"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/etcdtest"
)

// recordingBackend keeps the adapter set the service hands its engine, and
// the bytes of each file at the time, so a test can see what a replica
// would serve.
type recordingBackend struct {
	Backend
	mu    sync.Mutex
	files map[string][]byte // adapter file → content, in the current set
	order []string
}

func (r *recordingBackend) SetAdapters(_ context.Context, paths []string) error {
	files := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[p] = b
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files, r.order = files, paths
	return nil
}

func (r *recordingBackend) contents() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]byte
	for _, p := range r.order {
		out = append(out, r.files[p])
	}
	return out
}

func (r *recordingBackend) Models() []*inferencev1.Model {
	return []*inferencev1.Model{{Name: "base", Kind: inferencev1.ModelKind_MODEL_KIND_CHAT, ContextWindow: 2048, Ready: true}}
}

func (r *recordingBackend) Close(context.Context) error { return nil }

// sharedReplica is one inference replica over the shared adapter set.
func sharedReplica(t *testing.T, endpoints []string, bucket string) (inferencev1.InferenceServiceClient, *recordingBackend) {
	t.Helper()
	cli := etcdtest.Client(t, endpoints, nil)
	fb := &recordingBackend{}
	svc := newService(fb, &adapters{file: filepath.Join(t.TempDir(), "adapters.json")}, Options{Config: Config{MaxConcurrent: 1}}, nil)
	if err := svc.share(SharedAdapters{Etcd: cli, BlobsURL: bucket, CacheDir: t.TempDir(), Prefix: "/t/adapters/"}); err != nil {
		t.Fatal(err)
	}
	c, stop := serve(svc)
	t.Cleanup(func() { stop(); _ = svc.Close() })
	return c, fb
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < d {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v", what, d)
	return 0
}

// LoadAdapter on one replica: every replica serves the adapter's bytes
// (fetched from the bucket) within seconds, one started later too; an
// unload through another replica reaches them all; an object that is not
// in the bucket is refused and never published.
func TestSharedAdapterSetConverges(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	dir := t.TempDir()
	bucket := "file://" + filepath.ToSlash(dir) + "?metadata=skip"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := blob.OpenBucket(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	lora := []byte("GGUF lora bytes v1")
	if err := b.WriteAll(ctx, "adapters/job-1.gguf", lora, nil); err != nil {
		t.Fatal(err)
	}
	a, fa := sharedReplica(t, etcd.Endpoints(), bucket)
	bcli, fb := sharedReplica(t, etcd.Endpoints(), bucket)

	if _, err := a.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Path: "adapters/missing.gguf"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("an object not in the bucket: %v, want InvalidArgument", err)
	}
	res, err := a.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Path: "adapters/job-1.gguf"})
	if err != nil {
		t.Fatal(err)
	}
	if res.GetAdapter().GetScale() != 1 || res.GetAdapter().GetBaseModel() != "base" {
		t.Fatalf("loaded %v", res.GetAdapter())
	}
	serves := func(f *recordingBackend, want ...[]byte) func() bool {
		return func() bool {
			got := f.contents()
			if len(got) != len(want) {
				return false
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					return false
				}
			}
			return true
		}
	}
	took := waitUntil(t, "replica B serves the adapter", 10*time.Second, serves(fb, lora))
	t.Logf("replica B converged %v after LoadAdapter returned on A", took)
	if !serves(fa, lora)() {
		t.Fatal("replica A does not serve the adapter it loaded")
	}
	la, err := bcli.ListAdapters(ctx, &inferencev1.ListAdaptersRequest{})
	if err != nil || len(la.GetAdapters()) != 1 || la.GetAdapters()[0].GetName() != "ft" {
		t.Fatalf("ListAdapters through B = %v, %v", la, err)
	}
	// A replica started afterwards converges at start.
	_, fc := sharedReplica(t, etcd.Endpoints(), bucket)
	waitUntil(t, "a late replica serves the adapter", 10*time.Second, serves(fc, lora))

	// A new version under the same name replaces it everywhere.
	lora2 := []byte("GGUF lora bytes v2")
	if err := b.WriteAll(ctx, "adapters/job-2.gguf", lora2, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := bcli.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Path: "adapters/job-2.gguf", Scale: 0.5}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*recordingBackend{fa, fb, fc} {
		waitUntil(t, "every replica serves v2", 10*time.Second, serves(f, lora2))
	}

	if _, err := bcli.UnloadAdapter(ctx, &inferencev1.UnloadAdapterRequest{Name: "ft"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*recordingBackend{fa, fb, fc} {
		waitUntil(t, "every replica drops the adapter", 10*time.Second, serves(f))
	}
	if _, err := a.UnloadAdapter(ctx, &inferencev1.UnloadAdapterRequest{Name: "ft"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unloading it again: %v, want NotFound", err)
	}
}
