package retrieval

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
)

// gatedRefiner is a second embedder (hashed, 64-d: another space than the
// 384-d fast one) that holds chunk batches until opened and records the
// texts it embedded (unit tests only).
type gatedRefiner struct {
	embed.Hash
	open chan struct{}
	mu   sync.Mutex
	seen map[string]int
	name string // "" : "refined-model"
}

func (g *gatedRefiner) ModelName() string {
	if g.name != "" {
		return g.name
	}
	return "refined-model"
}
func (g *gatedRefiner) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	g.mu.Lock()
	for _, t := range texts {
		g.seen[t]++
	}
	g.mu.Unlock()
	if len(texts) > 1 { // chunk batches wait; queries do not
		select {
		case <-g.open:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Hash.Embed(ctx, texts)
}

func (g *gatedRefiner) count(t string) int { g.mu.Lock(); defer g.mu.Unlock(); return g.seen[t] }
func (g *gatedRefiner) distinct() int      { g.mu.Lock(); defer g.mu.Unlock(); return len(g.seen) }

func TestBackgroundRefinement(t *testing.T) {
	data := testenv.ReadData(t, "dev", "earnings-calls", snowQ1)
	dir := t.TempDir()
	ref := &gatedRefiner{Hash: embed.Hash{Dim: 64}, open: make(chan struct{}), seen: map[string]int{}}
	fast := &gatedRefiner{Hash: embed.Hash{Dim: 384}, open: make(chan struct{}), seen: map[string]int{}, name: "fast-model"}
	close(fast.open)
	open := func() *Engine {
		cfg := testConfig(dir)
		cfg.Embedder = fast
		cfg.Refiner = ref
		e, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	ctx := context.Background()
	e := open()
	d, _, err := e.Upload("c", "q1.pdf", data, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Watch(ctx, "c", d.ID, func(Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	const query = "product revenue guidance for the quarter"
	q := Query{Collection: "c", Text: query, TopK: 5, Mode: ModeVector}
	// READY at once with the fast vectors; the refiner is still held.
	if res, err := e.Search(ctx, q); err != nil || len(res) == 0 {
		t.Fatalf("search before refinement: %d results, %v", len(res), err)
	}
	if n := ref.count(query); n != 0 {
		t.Fatalf("query embedded by the refiner before the collection was refined (%d)", n)
	}
	close(ref.open)
	deadline := time.Now().Add(time.Minute)
	for {
		got, _ := e.Document(t.Context(), "c", d.ID)
		if got.RefinedModel == "refined-model" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("document never refined: %+v", got.RefinedModel)
		}
		time.Sleep(50 * time.Millisecond)
	}
	res, err := e.Search(ctx, q)
	if err != nil || len(res) == 0 || ref.count(query) != 1 {
		t.Fatalf("search after refinement: %d results, %v, refiner saw the query %d times", len(res), err, ref.count(query))
	}
	// Hybrid search over the refined collection fuses BM25 with the refined
	// vectors only: the query is not embedded by the fast model.
	before := fast.count(query)
	hq := q
	hq.Mode = ModeHybrid
	if res, err := e.Search(ctx, hq); err != nil || len(res) == 0 || ref.count(query) != 2 || fast.count(query) != before {
		t.Fatalf("hybrid after refinement: %d results, %v, refiner saw the query %d times, fast model %d (was %d)", len(res), err, ref.count(query), fast.count(query), before)
	}
	e.Close()

	// Refined vectors are durable: after a restart the collection is
	// searched with them at once, and nothing is embedded again.
	chunkCalls := ref.distinct()
	e = open()
	defer e.Close()
	res, err = e.Search(ctx, q)
	if err != nil || len(res) == 0 || ref.count(query) != 3 {
		t.Fatalf("after restart: %d results, %v, query seen %d times", len(res), err, ref.count(query))
	}
	time.Sleep(200 * time.Millisecond)
	if n := ref.distinct(); n != chunkCalls {
		t.Errorf("refined again after restart: %d distinct texts, was %d", n, chunkCalls)
	}
	// Deleting the document removes its refined vectors too.
	if err := e.DeleteDocument(t.Context(), "c", d.ID); err != nil {
		t.Fatal(err)
	}
	if res, _ := e.Search(ctx, q); len(res) != 0 {
		t.Errorf("%d results after delete", len(res))
	}
}

func TestRefinerNameIsNeverEmpty(t *testing.T) {
	e := &Engine{cfg: Config{Refiner: embed.Hash{Dim: 8}}}
	if n := e.refinerName(); n != "contextual" {
		t.Errorf("unnamed refiner: %q", n)
	}
}
