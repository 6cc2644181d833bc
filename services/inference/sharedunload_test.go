package inference

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/etcdtest"
)

// badDigests are UnloadAdapter preconditions that can never be a digest.
var badDigests = []string{"abc", strings.Repeat("A", 64), strings.Repeat("a", 63), strings.Repeat("a", 65), strings.Repeat("g", 64), " " + strings.Repeat("a", 63)}

// listed is the digest ListAdapters shows for name through c ("" when
// name is not listed).
func listed(t *testing.T, ctx context.Context, c inferencev1.InferenceServiceClient, name string) string {
	t.Helper()
	la, err := c.ListAdapters(ctx, &inferencev1.ListAdaptersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range la.GetAdapters() {
		if a.GetName() == name {
			return a.GetSha256()
		}
	}
	return ""
}

// wantStale checks err is the refusal of an unload whose digest is stale:
// Aborted, naming the digest now under the name.
func wantStale(t *testing.T, err error, current string) {
	t.Helper()
	if status.Code(err) != codes.Aborted || !strings.Contains(err.Error(), current) || !strings.Contains(err.Error(), "nothing was unloaded") {
		t.Fatalf("an unload with a stale digest: %v, want Aborted naming the current digest %s", err, current)
	}
}

// The shared set on a 3-member etcd, two replicas. A caller lists the
// adapters, decides to unload "ft" (version v1) and meanwhile a trainer
// publishes a new "ft" (v2) through the other replica: the unload naming
// v1 fails with Aborted naming v2's digest, deletes nothing, and v2 stays
// served everywhere. An unload naming v2 removes it on every replica.
// Without a digest an unload removes whatever version the name has, as
// before. A malformed digest is InvalidArgument and removes nothing.
func TestConditionalUnloadShared(t *testing.T) {
	etcd := etcdtest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bucket, content := adapterBucket(t, ctx, "adapters/v1.gguf", "adapters/v2.gguf", "adapters/v3.gguf")
	v1, v2, v3 := content["adapters/v1.gguf"], content["adapters/v2.gguf"], content["adapters/v3.gguf"]
	fa, fb := &recordingBackend{}, &recordingBackend{}
	a := sharedReplicaOn(t, etcd.Endpoints(), bucket, fa)
	b := sharedReplicaOn(t, etcd.Endpoints(), bucket, fb)

	res, err := a.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Path: "adapters/v1.gguf"})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.GetAdapter().GetSha256(); got != adapterDigest(v1) {
		t.Fatalf("LoadAdapter returned sha256 %q, want the file's %s", got, adapterDigest(v1))
	}
	waitUntil(t, "replica B serves v1", 10*time.Second, serving(fb, v1))
	seen := listed(t, ctx, b, "ft") // the caller's read, through B
	if seen != adapterDigest(v1) {
		t.Fatalf("ListAdapters through B shows sha256 %q, want v1's %s", seen, adapterDigest(v1))
	}

	for _, d := range badDigests {
		_, err := b.UnloadAdapter(ctx, &inferencev1.UnloadAdapterRequest{Name: "ft", Sha256: d})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "64 lowercase hex digits") {
			t.Fatalf("unload with sha256 %q: %v, want InvalidArgument", d, err)
		}
	}

	// The trainer's publish of a new version, through A.
	if _, err := a.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Path: "adapters/v2.gguf"}); err != nil {
		t.Fatal(err)
	}
	_, err = b.UnloadAdapter(ctx, &inferencev1.UnloadAdapterRequest{Name: "ft", Sha256: seen})
	wantStale(t, err, adapterDigest(v2))
	cli := etcdtest.Client(t, etcd.Endpoints(), nil)
	r, err := cli.Get(ctx, "/t/adapters/ft")
	if err != nil || len(r.Kvs) != 1 {
		t.Fatalf("after the refused unload the set's entry is %v (%v), want v2's", r, err)
	}
	var rec adapterRecord
	if err := json.Unmarshal(r.Kvs[0].Value, &rec); err != nil || rec.SHA256 != adapterDigest(v2) {
		t.Fatalf("the set holds %+v (%v), want v2", rec, err)
	}
	for name, f := range map[string]*recordingBackend{"A": fa, "B": fb} {
		waitUntil(t, "replica "+name+" serves v2", 10*time.Second, serving(f, v2))
	}
	time.Sleep(300 * time.Millisecond) // a wrongly applied removal would reach the engines by now
	for name, f := range map[string]*recordingBackend{"A": fa, "B": fb} {
		if !serving(f, v2)() {
			t.Fatalf("replica %s stopped serving v2 after a refused unload", name)
		}
	}

	// The right digest: removed on every replica; then NotFound.
	if got := listed(t, ctx, b, "ft"); got != adapterDigest(v2) {
		t.Fatalf("ListAdapters through B shows %q, want v2's digest", got)
	}
	if _, err := b.UnloadAdapter(ctx, &inferencev1.UnloadAdapterRequest{Name: "ft", Sha256: adapterDigest(v2)}); err != nil {
		t.Fatalf("unload with the current digest: %v", err)
	}
	for name, f := range map[string]*recordingBackend{"A": fa, "B": fb} {
		waitUntil(t, "replica "+name+" drops ft", 10*time.Second, serving(f))
	}
	if _, err := a.UnloadAdapter(ctx, &inferencev1.UnloadAdapterRequest{Name: "ft", Sha256: adapterDigest(v2)}); status.Code(err) != codes.NotFound {
		t.Fatalf("unloading it again with its digest: %v, want NotFound", err)
	}

	// No digest: whatever version is there goes, as before.
	if _, err := b.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Path: "adapters/v3.gguf"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "replica A serves v3", 10*time.Second, serving(fa, v3))
	if _, err := a.UnloadAdapter(ctx, &inferencev1.UnloadAdapterRequest{Name: "ft"}); err != nil {
		t.Fatalf("unload without a digest: %v", err)
	}
	for name, f := range map[string]*recordingBackend{"A": fa, "B": fb} {
		waitUntil(t, "replica "+name+" drops v3", 10*time.Second, serving(f))
	}
}

// The window inside a conditional unload: the record was read with the
// wanted digest, then (before the delete's transaction) the name changed.
// The transaction compares the ModRevision that was read, so a new
// version published in that window is not deleted (Aborted naming it),
// while a re-load of the same file (same digest, another scale) still
// matches and is deleted.
func TestConditionalRemoveRechecksAfterTheRead(t *testing.T) {
	etcd := etcdtest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bucket, _ := adapterBucket(t, ctx)
	cli := etcdtest.Client(t, etcd.Endpoints(), nil)
	s, err := openShared(SharedAdapters{Etcd: cli, BlobsURL: bucket, CacheDir: t.TempDir(), Prefix: "/t/adapters/"}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	d1, d2 := strings.Repeat("1", 64), strings.Repeat("2", 64)
	put := func(rec adapterRecord) {
		t.Helper()
		b, _ := json.Marshal(rec)
		if _, err := cli.Put(ctx, "/t/adapters/"+rec.Name, string(b)); err != nil {
			t.Fatal(err)
		}
	}
	put(adapterRecord{Name: "ft", Blob: "adapters/ft/1.gguf", SHA256: d1, Scale: 1})
	s.beforeRemove = func() { put(adapterRecord{Name: "ft", Blob: "adapters/ft/2.gguf", SHA256: d2, Scale: 1}) }
	err = s.remove(ctx, "ft", d1)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), d2) {
		t.Fatalf("a version published after the read: %v, want ErrConflict naming %s", err, d2)
	}
	if rec, _, err := s.current(ctx, "ft"); err != nil || rec.digest() != d2 {
		t.Fatalf("the set holds %+v (%v), want the version published in the window", rec, err)
	}

	s.beforeRemove = func() { put(adapterRecord{Name: "ft", Blob: "adapters/ft/2.gguf", SHA256: d2, Scale: 0.5}) }
	if err := s.remove(ctx, "ft", d2); err != nil {
		t.Fatalf("a re-load of the same file in the window: %v, want it removed", err)
	}
	if _, rev, err := s.current(ctx, "ft"); err != nil || rev != 0 {
		t.Fatalf("ft is still in the set (rev %d, %v)", rev, err)
	}

	put(adapterRecord{Name: "ft", Blob: "adapters/ft/1.gguf", SHA256: d1, Scale: 1})
	s.beforeRemove = func() {
		if _, err := cli.Delete(ctx, "/t/adapters/ft"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.remove(ctx, "ft", d1); !errors.Is(err, ErrAdapterNotFound) {
		t.Fatalf("unloaded by another call in the window: %v, want ErrAdapterNotFound", err)
	}
}

// Conditional unloads racing loads of one name through two replicas
// (3-member etcd): every version is a distinct file, loaded at most once,
// and every unload names one version. Each delete in the name's etcd
// history removed a version that one successful unload named, and every
// successful unload is one such delete: no unload ever removed a version
// it did not name.
func TestConditionalUnloadsRacingLoads(t *testing.T) {
	etcd := etcdtest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const versions = 8
	var objs []string
	for i := range versions {
		objs = append(objs, fmt.Sprintf("adapters/v%d.gguf", i))
	}
	bucket, content := adapterBucket(t, ctx, objs...)
	cs := []inferencev1.InferenceServiceClient{sharedReplicaOn(t, etcd.Endpoints(), bucket, &recordingBackend{}), sharedReplicaOn(t, etcd.Endpoints(), bucket, &recordingBackend{})}
	cli := etcdtest.Client(t, etcd.Endpoints(), nil)
	start, err := cli.Get(ctx, "/t/adapters/ft")
	if err != nil {
		t.Fatal(err)
	}

	// Calls 0..versions-1 load v_i; calls versions.. unload naming v_(i-versions), several times each.
	const rounds = 3
	errs := atOnce(versions*(1+rounds), func(i int) error {
		c := cs[i%2]
		if i < versions {
			_, err := c.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Path: objs[i]})
			return err
		}
		v := (i - versions) % versions
		time.Sleep(time.Duration(i%5) * 5 * time.Millisecond)
		_, err := c.UnloadAdapter(ctx, &inferencev1.UnloadAdapterRequest{Name: "ft", Sha256: adapterDigest(content[objs[v]])})
		return err
	})
	var unloaded []string
	for i, err := range errs {
		switch {
		case i < versions && err != nil && status.Code(err) != codes.Aborted:
			t.Fatalf("load %d: %v, want OK or Aborted", i, err)
		case i >= versions && err == nil:
			unloaded = append(unloaded, adapterDigest(content[objs[(i-versions)%versions]]))
		case i >= versions && status.Code(err) != codes.Aborted && status.Code(err) != codes.NotFound:
			t.Fatalf("unload %d: %v, want OK, Aborted or NotFound", i, err)
		}
	}
	now, err := cli.Get(ctx, "/t/adapters/ft")
	if err != nil {
		t.Fatal(err)
	}
	var deleted []string
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	wch := cli.Watch(wctx, "/t/adapters/ft", clientv3.WithRev(start.Header.Revision+1), clientv3.WithPrevKV())
	for rev := start.Header.Revision; rev < now.Header.Revision; {
		w, ok := <-wch
		if !ok || w.Err() != nil {
			t.Fatalf("the name's history: %v", w.Err())
		}
		for _, ev := range w.Events {
			rev = ev.Kv.ModRevision
			if ev.Type != clientv3.EventTypeDelete {
				continue
			}
			var rec adapterRecord
			if ev.PrevKv == nil || json.Unmarshal(ev.PrevKv.Value, &rec) != nil {
				t.Fatalf("a delete without the version it removed: %v", ev)
			}
			deleted = append(deleted, rec.SHA256)
		}
		if w.Header.Revision >= now.Header.Revision {
			break
		}
	}
	slices.Sort(deleted)
	slices.Sort(unloaded)
	if !slices.Equal(deleted, unloaded) {
		t.Fatalf("the versions deleted %v, want exactly those the successful unloads named %v", deleted, unloaded)
	}
	t.Logf("%d unloads: %d removed the version they named", versions*rounds, len(unloaded))
}

// The embedded registry (no etcd) honours the same precondition: a load
// and its listing carry the file's digest; an unload naming a version that
// was replaced is Aborted naming the current one and removes nothing; the
// current digest removes it; no digest removes whatever is there; a
// malformed digest is InvalidArgument. A registry file written before
// adapters carried digests gets them from the files at open.
func TestConditionalUnloadEmbedded(t *testing.T) {
	root := t.TempDir()
	c, fb := localReplica(t, root)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v1, v2 := []byte("GGUF lora one"), []byte("GGUF lora two")
	res, err := c.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Content: v1})
	if err != nil || res.GetAdapter().GetSha256() != adapterDigest(v1) {
		t.Fatalf("LoadAdapter of uploaded bytes: %v, %v, want sha256 %s", res, err, adapterDigest(v1))
	}
	seen := listed(t, ctx, c, "ft")
	if seen != adapterDigest(v1) {
		t.Fatalf("listed sha256 %q, want %s", seen, adapterDigest(v1))
	}
	for _, d := range badDigests {
		if _, err := c.UnloadAdapter(ctx, &inferencev1.UnloadAdapterRequest{Name: "ft", Sha256: d}); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("unload with sha256 %q: %v, want InvalidArgument", d, err)
		}
	}
	// A published file under the root, by path: its digest too.
	if err := os.MkdirAll(filepath.Join(root, "published"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "published", "ft.gguf"), v2, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = c.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Path: "published/ft.gguf"})
	if err != nil || res.GetAdapter().GetSha256() != adapterDigest(v2) {
		t.Fatalf("LoadAdapter by path: %v, %v, want sha256 %s", res, err, adapterDigest(v2))
	}
	_, err = c.UnloadAdapter(ctx, &inferencev1.UnloadAdapterRequest{Name: "ft", Sha256: seen})
	wantStale(t, err, adapterDigest(v2))
	if !serving(fb, v2)() || listed(t, ctx, c, "ft") != adapterDigest(v2) {
		t.Fatalf("after a refused unload the engine serves %q, want v2", fb.contents())
	}
	if _, err := c.UnloadAdapter(ctx, &inferencev1.UnloadAdapterRequest{Name: "ft", Sha256: adapterDigest(v2)}); err != nil {
		t.Fatal(err)
	}
	if !serving(fb)() || listed(t, ctx, c, "ft") != "" {
		t.Fatalf("after the unload the engine serves %q", fb.contents())
	}
	if _, err := c.UnloadAdapter(ctx, &inferencev1.UnloadAdapterRequest{Name: "ft", Sha256: adapterDigest(v2)}); status.Code(err) != codes.NotFound {
		t.Fatalf("again: %v, want NotFound", err)
	}
	if _, err := c.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Content: v1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UnloadAdapter(ctx, &inferencev1.UnloadAdapterRequest{Name: "ft"}); err != nil || !serving(fb)() {
		t.Fatalf("unload without a digest: %v, engine serves %q", err, fb.contents())
	}

	// A registry written before digests: filled in from the files at open.
	file := filepath.Join(t.TempDir(), "adapters.json")
	old := filepath.Join(root, "published", "ft.gguf")
	if err := os.WriteFile(file, fmt.Appendf(nil, `[{"name":"ft","path":%q,"scale":1}]`, old), 0o644); err != nil {
		t.Fatal(err)
	}
	reg, err := loadAdapters(file)
	if err != nil || len(reg.list) != 1 || reg.list[0].GetSha256() != adapterDigest(v2) {
		t.Fatalf("an old registry: %v, %v, want ft with sha256 %s", reg.list, err, adapterDigest(v2))
	}
}

// REST through the gateway's generated handler: the precondition is the
// query parameter sha256 of DELETE /v1/adapters/{name}; a stale one is
// 409 (Aborted) and a malformed one 400, both removing nothing.
func TestConditionalUnloadREST(t *testing.T) {
	fb := &recordingBackend{}
	svc := newService(fb, &adapters{file: filepath.Join(t.TempDir(), "adapters.json")}, Options{Config: Config{MaxConcurrent: 1}}, nil)
	r, err := openAdapterRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc.core.root = r
	t.Cleanup(func() { _ = svc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mux := runtime.NewServeMux()
	if err := inferencev1.RegisterInferenceServiceHandlerServer(ctx, mux, svc); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(mux)
	defer hs.Close()
	v1, v2 := []byte("GGUF rest one"), []byte("GGUF rest two")
	for _, b := range [][]byte{v1, v2} {
		if _, err := svc.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Content: b}); err != nil {
			t.Fatal(err)
		}
	}
	del := func(query string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, hs.URL+"/v1/adapters/ft"+query, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := del("?sha256=nothex"); got != http.StatusBadRequest {
		t.Fatalf("a malformed digest: HTTP %d, want 400", got)
	}
	if got := del("?sha256=" + adapterDigest(v1)); got != http.StatusConflict || !serving(fb, v2)() {
		t.Fatalf("a stale digest: HTTP %d, engine serves %q; want 409 and v2 kept", got, fb.contents())
	}
	if got := del("?sha256=" + adapterDigest(v2)); got != http.StatusOK || !serving(fb)() {
		t.Fatalf("the current digest: HTTP %d, engine serves %q; want 200 and nothing", got, fb.contents())
	}
}
