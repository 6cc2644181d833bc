package static

import (
	"context"
	"errors"
	"github.com/pdfqa/pdfqa/services/inference/internal/vectest"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// testVocab is a small BERT-style vocabulary: specials, characters, then
// whole words from firstWordID on (padded with unused slots).
func testVocab() []string {
	v := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	for len(v) < firstWordID {
		v = append(v, "[unused]")
	}
	return append(v, "the", "revenue", "sales", "grew", "increased", "weather", "sunny", "##s", "cloud")
}

// topicEmbed is a contextual model in miniature: words of a topic share a
// direction, every vector carries a large common component (as real token
// embeddings do), plus a little word-specific noise.
func topicEmbed(_ context.Context, texts []string) ([][]float32, error) {
	topic := map[string]int{"revenue": 0, "sales": 0, "grew": 1, "increased": 1, "weather": 2, "sunny": 2, "cloud": 2, "s": 3, "the": 3}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, 8)
		v[7] = 5 // shared by every token
		v[topic[t]] += 1
		h := fnv.New32a()
		h.Write([]byte(t))
		v[4+int(h.Sum32()%3)] += 0.3
		out[i] = v
	}
	return out, nil
}

func TestDistillSaveLoadEmbed(t *testing.T) {
	vocab := testVocab()
	var calls, lastDone, lastTotal int
	dim, table, err := Distill(context.Background(), vocab, func(ctx context.Context, texts []string) ([][]float32, error) {
		calls++
		for _, tx := range texts {
			if tx == "[PAD]" || tx == "##s" {
				t.Errorf("embedded %q: specials are skipped and continuation pieces lose ##", tx)
			}
		}
		return topicEmbed(ctx, texts)
	}, 4, func(d, n int) { lastDone, lastTotal = d, n })
	if err != nil {
		t.Fatal(err)
	}
	if dim != 8 || len(table) != len(vocab)*8 || calls != 3 || lastDone != 9 || lastTotal != 9 {
		t.Fatalf("dim %d, table %d, calls %d, progress %d/%d", dim, len(table), calls, lastDone, lastTotal)
	}
	for k := 0; k < dim; k++ {
		if table[1*dim+k] != 0 {
			t.Fatalf("[UNK] has a vector")
		}
	}
	path := filepath.Join(t.TempDir(), "m.static-v1.bin")
	if err := Save(path, vocab, dim, table); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path, "test-static", vocab)
	if err != nil {
		t.Fatal(err)
	}
	vs := m.Embed([]string{"Revenue grew", "sales increased", "sunny weather", "", "the"})
	if len(vs) != 5 || len(vs[0]) != 8 {
		t.Fatalf("vectors %d x %d", len(vs), len(vs[0]))
	}
	// Centring removed the shared component, so topics separate.
	if a, b := vectest.Cosine(vs[0], vs[1]), vectest.Cosine(vs[0], vs[2]); a < 0.8 || b > 0.3 {
		t.Errorf("cos(revenue grew, sales increased) = %.2f, cos(revenue grew, sunny weather) = %.2f", a, b)
	}
	for _, x := range vs[3] {
		if x != 0 {
			t.Fatalf("empty text has a non-zero vector %v", vs[3])
		}
	}
	var n float64
	for _, x := range vs[0] {
		n += float64(x) * float64(x)
	}
	if math.Abs(n-1) > 1e-5 {
		t.Errorf("norm² = %f", n)
	}

	// Another vocabulary, a truncated file or a missing one is stale.
	other := append(append([]string(nil), vocab...), "extra")
	if _, err := Load(path, "x", other); !errors.Is(err, ErrStale) {
		t.Errorf("other vocabulary: %v", err)
	}
	raw, _ := os.ReadFile(path)
	cut := filepath.Join(t.TempDir(), "cut.bin")
	_ = os.WriteFile(cut, raw[:len(raw)/2], 0o644)
	if _, err := Load(cut, "x", vocab); !errors.Is(err, ErrStale) {
		t.Errorf("truncated file: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.bin"), "x", vocab); !errors.Is(err, ErrStale) {
		t.Errorf("missing file: %v", err)
	}
}

func TestDistillPropagatesEngineErrors(t *testing.T) {
	boom := errors.New("engine down")
	_, _, err := Distill(context.Background(), testVocab(), func(context.Context, []string) ([][]float32, error) { return nil, boom }, 4, nil)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	_, _, err = Distill(context.Background(), testVocab(), func(_ context.Context, texts []string) ([][]float32, error) {
		return make([][]float32, len(texts)-1), nil
	}, 4, nil)
	if err == nil {
		t.Fatal("short reply accepted")
	}
}
