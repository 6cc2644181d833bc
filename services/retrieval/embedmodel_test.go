package retrieval

import (
	"context"
	"testing"

	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
)

// namedHash is embed.Hash under a model name (unit tests only).
type namedHash struct {
	embed.Hash
	name string
}

func (n namedHash) ModelName() string { return n.name }

// Vectors live in their model's space: after the embedding model changes,
// a document's old vectors are not searched (keyword search still finds it)
// and the document records which model its vectors came from.
func TestVectorsOfAnotherModelAreNotLoaded(t *testing.T) {
	data := testenv.ReadData(t, "dev", "earnings-calls", snowQ1)
	dir := t.TempDir()
	open := func(model string) *Engine {
		cfg := testConfig(dir)
		cfg.Embedder = namedHash{embed.Hash{Dim: 384}, model}
		e, err := Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	ctx := context.Background()
	e := open("model-a")
	d, _, err := e.Upload("c", "q1.pdf", data, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Watch(ctx, "c", d.ID, func(Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.Document(t.Context(), "c", d.ID); got.EmbedModel != "model-a" {
		t.Fatalf("document records embed model %q", got.EmbedModel)
	}
	q := Query{Collection: "c", Text: "product revenue guidance", TopK: 5, Mode: ModeVector}
	if res, err := e.Search(ctx, q); err != nil || len(res) == 0 {
		t.Fatalf("vector search, same model: %d results, %v", len(res), err)
	}
	e.Close()

	e = open("model-b")
	defer e.Close()
	if res, err := e.Search(ctx, q); err != nil || len(res) != 0 {
		t.Fatalf("vector search after a model change: %d results, %v; want none", len(res), err)
	}
	q.Mode = ModeKeyword
	if res, err := e.Search(ctx, q); err != nil || len(res) == 0 {
		t.Fatalf("keyword search after a model change: %d results, %v", len(res), err)
	}
}
