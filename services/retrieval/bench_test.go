package retrieval

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/index"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

var benchWords = []string{"revenue", "growth", "product", "customer", "margin", "cash", "flow", "guidance", "quarter", "fiscal",
	"billion", "million", "operating", "expense", "consumption", "storage", "compute", "retention", "obligation", "share"}

// benchEngineOn fills a collection with n synthetic chunks (random text,
// hashed 384-dim vectors) through the same CommitIndex path as ingestion,
// on the store at storeURL ("": embedded).
func benchEngineOn(b *testing.B, n int, storeURL string) *Engine {
	e, err := Open(Config{Dir: b.TempDir(), Parser: sharedParser, Embedder: embed.Hash{Dim: 384}, Log: quietLog(), Workers: 1, StoreURL: storeURL})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	r := rand.New(rand.NewPCG(1, 1))
	const perDoc = 1000
	for d := 0; d < n/perDoc; d++ {
		id := fmt.Sprintf("doc%04d", d)
		doc, _, err := e.st.AddDocument(b.Context(), store.Document{ID: id, Collection: "bench", Name: id + ".pdf", SHA256: id}, "")
		if err != nil {
			b.Fatal(err)
		}
		chunks := make([]store.Chunk, perDoc)
		texts := make([]string, perDoc)
		for i := range chunks {
			var t []byte
			for range 60 {
				t = append(t, benchWords[r.IntN(len(benchWords))]...)
				t = append(t, ' ')
				t = append(t, fmt.Sprint(r.IntN(500))...)
				t = append(t, ' ')
			}
			texts[i] = string(t)
			c := store.Chunk{DocID: id, Seq: i, DocName: id, Page: 1, PageEnd: 1, Text: texts[i], Kind: store.KindText, Terms: map[string]int{}}
			for _, w := range index.Terms(texts[i]) {
				c.Terms[w]++
				c.Len++
			}
			chunks[i] = c
		}
		vecs, _ := embed.Hash{Dim: 384}.Embed(context.Background(), texts)
		if _, err := e.st.CommitIndex(b.Context(), "bench", doc.ID, chunks, vecs, func(x *store.Document) { x.State = store.StateReady }); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

func benchSearch(b *testing.B, n int) { benchSearchOn(b, n, "") }

// benchSearchOn is benchSearch on the store at storeURL ("": embedded).
func benchSearchOn(b *testing.B, n int, storeURL string) {
	e := benchEngineOn(b, n, storeURL)
	ctx := context.Background()
	e.cache.fast("bench")
	_, _ = e.Search(ctx, Query{Collection: "bench", Text: "warm up", TopK: 10}) // builds HNSW when above threshold
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		q := benchWords[i%len(benchWords)] + " " + benchWords[(i*7)%len(benchWords)] + " growth 42"
		t := time.Now()
		if _, err := e.Search(ctx, Query{Collection: "bench", Text: q, TopK: 10}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func BenchmarkSearch10k(b *testing.B)  { benchSearch(b, 10_000) }
func BenchmarkSearch100k(b *testing.B) { benchSearch(b, 100_000) }

// The same searches on the PostgreSQL store (pgvector HNSW, BM25 postings
// in a table): go test -run '^$' -bench SearchPostgres ./services/retrieval/
func BenchmarkSearchPostgres10k(b *testing.B)  { benchSearchOn(b, 10_000, pgtest.DSN(b)) }
func BenchmarkSearchPostgres100k(b *testing.B) { benchSearchOn(b, 100_000, pgtest.DSN(b)) }

// BenchmarkIngest measures parse+OCR+chunk+embed(test embedder)+index of the dev PDFs.
func BenchmarkIngest(b *testing.B) {
	files := testenv.GlobData(b, "dev", "earnings-calls", "*.pdf")
	var datas [][]byte
	for _, f := range files {
		d, _ := os.ReadFile(f)
		datas = append(datas, d)
	}
	pages := 0
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		e, err := Open(Config{Dir: b.TempDir(), Parser: sharedParser, Embedder: embed.Hash{Dim: 384}, Log: quietLog(), Workers: 2})
		if err != nil {
			b.Fatal(err)
		}
		var ids []string
		for j, d := range datas {
			doc, _, err := e.Upload("bench", fmt.Sprint(j, ".pdf"), d, "")
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, doc.ID)
		}
		for _, id := range ids {
			_ = e.Watch(context.Background(), "bench", id, func(Event) error { return nil })
			d, _ := e.Document(b.Context(), "bench", id)
			pages += d.Pages
		}
		e.Close()
	}
	b.ReportMetric(float64(pages)/time.Since(start).Seconds(), "pages/s")
}
