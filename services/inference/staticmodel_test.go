package inference

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/services/inference/engine"
)

// loadingBackend stands in for the embedding engine (a real distillation of
// MiniLM's 30k-token vocabulary takes minutes; bench/retrieval measures it):
// it answers Unavailable until opened, like an engine still loading.
type loadingBackend struct {
	Backend
	open  atomic.Bool
	calls atomic.Int32
}

func (b *loadingBackend) Embed(_ context.Context, texts []string) ([][]float32, error) {
	b.calls.Add(1)
	if !b.open.Load() {
		return nil, engine.ErrUnavailable
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, 4)
		v[len(t)%3] = 1
		v[3] = 2
		out[i] = v
	}
	return out, nil
}

func (b *loadingBackend) Models() []*inferencev1.Model {
	return []*inferencev1.Model{{Name: "mini", Kind: inferencev1.ModelKind_MODEL_KIND_EMBEDDING, Dimension: 4, Ready: b.open.Load()}}
}

func (b *loadingBackend) Ready() bool                     { return true }
func (b *loadingBackend) Close(ctx context.Context) error { return nil }

func TestStaticModelDistilledOnceThenServed(t *testing.T) {
	dir := t.TempDir()
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "revenue", "grew", "##s", "sunny"}
	vpath := filepath.Join(dir, "mini.vocab")
	if err := os.WriteFile(vpath, []byte(strings.Join(vocab, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{EmbedModel: vpath, MaxConcurrent: 1, MaxQueue: 1}
	start := func(b *loadingBackend) (inferencev1.InferenceServiceClient, func()) {
		svc := newService(b, &adapters{}, Options{Config: cfg}, nil)
		svc.core.startStatic(cfg)
		cli, stop := serve(svc)
		return cli, func() { stop(); _ = svc.Close() }
	}
	ctx := context.Background()
	b := &loadingBackend{}
	cli, stop := start(b)
	defer stop()

	_, err := cli.Embed(ctx, &inferencev1.EmbedRequest{Texts: []string{"revenue grew"}, Model: StaticAlias})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "distilled") {
		t.Fatalf("before the engine is up: %v, want Unavailable naming the distillation", err)
	}
	b.open.Store(true)
	var resp *inferencev1.EmbedResponse
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err = cli.Embed(ctx, &inferencev1.EmbedRequest{Texts: []string{"revenue grew", "sunny"}, Model: StaticAlias})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetModel() != "mini.vocab-static" || resp.GetDimension() != 4 || len(resp.GetEmbeddings()) != 2 {
		t.Fatalf("static reply: model %q dim %d, %d vectors", resp.GetModel(), resp.GetDimension(), len(resp.GetEmbeddings()))
	}
	// The contextual model is still what an unnamed request gets.
	ctxResp, err := cli.Embed(ctx, &inferencev1.EmbedRequest{Texts: []string{"revenue"}})
	if err != nil || ctxResp.GetModel() != "mini" {
		t.Fatalf("contextual reply: %v %v", ctxResp.GetModel(), err)
	}
	lm, err := cli.ListModels(ctx, &inferencev1.ListModelsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range lm.GetModels() {
		if m.GetName() == "mini.vocab-static" && m.GetReady() && m.GetEngine() == "static" && m.GetDimension() == 4 {
			found = true
		}
	}
	if !found {
		t.Errorf("ListModels: %v", lm.GetModels())
	}
	if _, err := os.Stat(StaticTablePath(vpath)); err != nil {
		t.Fatalf("table not cached: %v", err)
	}

	// A restart loads the cached table: no token is embedded again.
	b2 := &loadingBackend{}
	b2.open.Store(true)
	cli2, stop2 := start(b2)
	defer stop2()
	deadline = time.Now().Add(20 * time.Second)
	for {
		_, err = cli2.Embed(ctx, &inferencev1.EmbedRequest{Texts: []string{"revenue"}, Model: "mini.vocab-static"})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || b2.calls.Load() != 0 {
		t.Fatalf("after restart: %v, %d engine calls", err, b2.calls.Load())
	}
}
