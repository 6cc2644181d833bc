package inference

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"gocloud.dev/blob"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/etcdtest"
)

// gatedBackend is a recording engine that, the first time it is handed a
// set holding a file with the bytes hold, signals entered and waits for
// release before accepting it: a LoadAdapter stopped half way.
type gatedBackend struct {
	*recordingBackend
	hold             []byte
	once             sync.Once
	entered, release chan struct{}
}

func (g *gatedBackend) SetAdapters(ctx context.Context, paths []string) error {
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && bytes.Equal(b, g.hold) {
			first := false
			g.once.Do(func() { first = true })
			if first {
				close(g.entered)
				<-g.release
			}
		}
	}
	return g.recordingBackend.SetAdapters(ctx, paths)
}

// sharedReplicaOn is sharedReplica with the engine b.
func sharedReplicaOn(t *testing.T, endpoints []string, bucket string, b Backend) inferencev1.InferenceServiceClient {
	t.Helper()
	cli := etcdtest.Client(t, endpoints, nil)
	svc := newService(b, &adapters{file: filepath.Join(t.TempDir(), "adapters.json")}, Options{Config: Config{MaxConcurrent: 1}}, nil)
	if err := svc.share(SharedAdapters{Etcd: cli, BlobsURL: bucket, CacheDir: t.TempDir(), Prefix: "/t/adapters/"}); err != nil {
		t.Fatal(err)
	}
	c, stop := serve(svc)
	t.Cleanup(func() { stop(); _ = svc.Close() })
	return c
}

// adapterBucket is a bucket directory holding one GGUF object per name
// in objs (the object's key), with distinct bytes each.
func adapterBucket(t *testing.T, ctx context.Context, objs ...string) (url string, content map[string][]byte) {
	t.Helper()
	url = "file://" + filepath.ToSlash(t.TempDir()) + "?metadata=skip"
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	content = map[string][]byte{}
	for _, k := range objs {
		content[k] = []byte("GGUF lora " + k)
		if err := b.WriteAll(ctx, k, content[k], nil); err != nil {
			t.Fatal(err)
		}
	}
	return url, content
}

func serving(f *recordingBackend, want ...[]byte) func() bool {
	return func() bool { return slices.EqualFunc(f.contents(), want, bytes.Equal) }
}

// A LoadAdapter overtaken by another load of its name (which began later
// and committed while the first was still having its engine accept the
// file) publishes nothing and fails with Aborted, instead of replacing the
// later one: the set holds the winner's adapter, written once, and both
// replicas serve it, the loser's too.
func TestOvertakenLoadIsRefused(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bucket, content := adapterBucket(t, ctx, "adapters/first.gguf", "adapters/second.gguf")
	ga := &gatedBackend{recordingBackend: &recordingBackend{}, hold: content["adapters/first.gguf"], entered: make(chan struct{}), release: make(chan struct{})}
	a := sharedReplicaOn(t, etcd.Endpoints(), bucket, ga)
	fb := &recordingBackend{}
	b := sharedReplicaOn(t, etcd.Endpoints(), bucket, fb)

	first := make(chan error, 1)
	go func() {
		_, err := a.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Path: "adapters/first.gguf"})
		first <- err
	}()
	select {
	case <-ga.entered:
	case <-ctx.Done():
		t.Fatal("the first load never reached A's engine")
	}
	if _, err := b.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Path: "adapters/second.gguf"}); err != nil {
		t.Fatalf("the second load, through B: %v", err)
	}
	close(ga.release)
	err := <-first
	if status.Code(err) != codes.Aborted || !strings.Contains(err.Error(), "by another call") {
		t.Fatalf("the overtaken load: %v, want Aborted", err)
	}
	r, err := etcdtest.Client(t, etcd.Endpoints(), nil).Get(ctx, "/t/adapters/ft")
	if err != nil || len(r.Kvs) != 1 {
		t.Fatalf("the set's entry: %v %v", r, err)
	}
	var rec adapterRecord
	if err := json.Unmarshal(r.Kvs[0].Value, &rec); err != nil || rec.Blob != "adapters/second.gguf" || r.Kvs[0].Version != 1 {
		t.Fatalf("the set holds %+v written %d times (%v), want the second load's, once", rec, r.Kvs[0].Version, err)
	}
	for name, f := range map[string]*recordingBackend{"A": ga.recordingBackend, "B": fb} {
		waitUntil(t, "replica "+name+" serves the second load's adapter", 10*time.Second, serving(f, content["adapters/second.gguf"]))
	}
}

// Many LoadAdapter calls of one name at once, through two replicas: each
// is published (applied in etcd's order) or refused with Aborted; the
// name's history in etcd is exactly the published ones, each once; the
// set holds the last, and every replica serves it.
func TestConcurrentLoadsOfOneName(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const calls = 12
	var objs []string
	for i := range calls {
		objs = append(objs, fmt.Sprintf("adapters/v%d.gguf", i))
	}
	bucket, content := adapterBucket(t, ctx, objs...)
	fa, fb := &recordingBackend{}, &recordingBackend{}
	cs := []inferencev1.InferenceServiceClient{sharedReplicaOn(t, etcd.Endpoints(), bucket, fa), sharedReplicaOn(t, etcd.Endpoints(), bucket, fb)}

	errs := atOnce(calls, func(i int) error {
		_, err := cs[i%2].LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Path: objs[i]})
		return err
	})
	var published []string
	refused := 0
	for i, err := range errs {
		switch {
		case err == nil:
			published = append(published, objs[i])
		case status.Code(err) == codes.Aborted:
			refused++
		default:
			t.Fatalf("load %d: %v, want OK or Aborted", i, err)
		}
	}
	if len(published) == 0 {
		t.Fatal("no load was published")
	}
	cli := etcdtest.Client(t, etcd.Endpoints(), nil)
	r, err := cli.Get(ctx, "/t/adapters/ft")
	if err != nil || len(r.Kvs) != 1 {
		t.Fatalf("the set's entry: %v %v", r, err)
	}
	kv := r.Kvs[0]
	if int(kv.Version) != len(published) {
		t.Fatalf("the name was written %d times for %d published loads (%d refused)", kv.Version, len(published), refused)
	}
	var history []string
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	for w := range cli.Watch(wctx, "/t/adapters/ft", clientv3.WithRev(kv.CreateRevision)) {
		for _, ev := range w.Events {
			var rec adapterRecord
			if err := json.Unmarshal(ev.Kv.Value, &rec); err != nil {
				t.Fatal(err)
			}
			history = append(history, rec.Blob)
		}
		if len(history) >= int(kv.Version) {
			break
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(history)), slices.Sorted(slices.Values(published))) {
		t.Fatalf("the name's history %v, want the published loads %v, each once", history, published)
	}
	last := history[len(history)-1]
	var rec adapterRecord
	if err := json.Unmarshal(kv.Value, &rec); err != nil || rec.Blob != last {
		t.Fatalf("the set holds %+v, want the last published, %s", rec, last)
	}
	for name, f := range map[string]*recordingBackend{"A": fa, "B": fb} {
		waitUntil(t, "replica "+name+" serves the last published adapter", 10*time.Second, serving(f, content[last]))
	}
	t.Logf("%d loads: %d published, %d refused (Aborted)", calls, len(published), refused)
}

// The embedded registry (one process, adapters.json): concurrent loads of
// one name are applied one at a time, each a whole step (the engine told,
// then the registry written, under the registry's lock), so every one
// succeeds and the engine serves exactly what the registry lists: the
// last one applied.
func TestConcurrentLoadsOfOneNameEmbedded(t *testing.T) {
	c, fb := localReplica(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const calls = 12
	errs := atOnce(calls, func(i int) error {
		_, err := c.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "ft", Content: fmt.Appendf(nil, "GGUF lora v%d", i)})
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("load %d: %v", i, err)
		}
	}
	la, err := c.ListAdapters(ctx, &inferencev1.ListAdaptersRequest{})
	if err != nil || len(la.GetAdapters()) != 1 || la.GetAdapters()[0].GetName() != "ft" {
		t.Fatalf("ListAdapters = %v, %v", la, err)
	}
	listed, err := os.ReadFile(la.GetAdapters()[0].GetPath())
	if err != nil {
		t.Fatal(err)
	}
	if got := fb.contents(); len(got) != 1 || !bytes.Equal(got[0], listed) {
		t.Fatalf("the engine serves %q, the registry lists %q", got, listed)
	}
}

// atOnce makes the calls call(0) … call(n-1), each in a goroutine of its
// own, all released together, and returns their errors by index.
func atOnce(n int, call func(i int) error) []error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = call(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}
