package retrieval

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/services/retrieval/index"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// rankWords: a small vocabulary of common words, so that chunks share
// most query terms (long posting lists, many chunks with three or more
// query terms: their scores depend on the order the terms are added in,
// float addition not being associative), words the financial expansion
// adds terms for, and rare words (a chunk in twenty holds one), whose
// high bounds decide the first blocks scored.
var rankWords = strings.Fields("revenue growth margin cash flow quarter customer storage compute retention " +
	"obligation share profit income sales r&d expenses guidance billion operating")

// midWords are in about a fifth of the chunks each, often several times:
// chunks holding a few of them can outscore those holding a rare word.
var midWords = strings.Fields("semiconductor warranty litigation freight tariff dividend")

func rareWord(i int) string { return fmt.Sprintf("rare%c%c", 'a'+i/26, 'a'+i%26) }

// fillRanked writes the same random collection into st: 12 documents of 40
// chunks, terms with random counts, some chunks identical (exact ties).
func fillRanked(t *testing.T, st store.Store) {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 5))
	for d := range 12 {
		id := fmt.Sprintf("d%02d", d)
		if _, _, err := st.AddDocument(t.Context(), store.Document{ID: id, Collection: "c", Name: id + ".pdf", SHA256: id}, ""); err != nil {
			t.Fatal(err)
		}
		chunks := make([]store.Chunk, 40)
		for i := range chunks {
			var words []string
			if i%10 == 9 {
				words = strings.Fields(chunks[i-1].Text) // a tie with the chunk before
			} else {
				for range 5 + r.IntN(60) {
					words = append(words, rankWords[r.IntN(len(rankWords))])
				}
				if r.IntN(2) == 0 {
					words = append(words, rareWord(r.IntN(10)))
				}
				for _, m := range midWords {
					if r.IntN(5) == 0 {
						for range 1 + r.IntN(6) {
							words = append(words, m)
						}
					}
				}
			}
			c := store.Chunk{DocID: id, Seq: i, Text: strings.Join(words, " "), Kind: store.KindText, Terms: map[string]int{}}
			for _, w := range index.Terms(c.Text) {
				c.Terms[w]++
				c.Len++
			}
			chunks[i] = c
		}
		if _, err := st.CommitIndex(t.Context(), "c", id, chunks, nil, func(x *store.Document) { x.State, x.Chunks = store.StateReady, len(chunks) }); err != nil {
			t.Fatal(err)
		}
	}
}

// exhaustiveStore is a Store that is not a KeywordRanker: the engine
// scores every posting itself.
type exhaustiveStore struct{ store.Store }

// BM25 ranked by the stores (their block-max ranking: PostgreSQL and the
// embedded store) is the engine's
// exhaustive BM25 over every posting bit for bit: the same chunks in the
// same order with the same float64 scores, ties included, with and
// without a document filter and query expansion, for every k.
func TestServerRankedBM25IsTheEmbeddedBM25(t *testing.T) {
	bolt, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pg, err := store.OpenPostgres(context.Background(), pgtest.DSN(t), store.PostgresOptions{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	// the reference: the engine's own BM25 over every posting (the
	// embedded store with its ranker hidden)
	exh := exhaustiveStore{bolt}
	if _, ok := store.Store(exh).(store.KeywordRanker); ok {
		t.Fatal("the reference store ranks itself: nothing is compared")
	}
	fillRanked(t, bolt)
	fillRanked(t, pg)
	open := func(st store.Store) *Engine {
		cfg := testConfig(t.TempDir())
		cfg.Store = st
		return openEngine(t, cfg)
	}
	emb, srv, ranked := open(exh), open(pg), open(bolt)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(9, 9))
	orderMatters := 0
	for i := range 180 {
		var ws []string
		for range 2 + r.IntN(6) {
			ws = append(ws, rankWords[r.IntN(len(rankWords))])
		}
		if i%3 != 0 {
			ws = append(ws, rareWord(r.IntN(12))) // 10 and 11: in no chunk
		}
		if i%3 == 2 {
			// a chunk without the rare word may outrank those with it
			for range 2 + r.IntN(2) {
				ws = append(ws, midWords[r.IntN(len(midWords))])
			}
		}
		text := strings.Join(ws, " ")
		var allow map[string]bool
		if i%4 == 3 {
			allow = map[string]bool{"d01": true, "d07": true, "d11": true, "nosuch": true}
		}
		k := []int{1, 5, 10, 30, 100, 1000}[i%6]
		want, err := emb.bm25(ctx, "c", text, k, allow)
		if err != nil {
			t.Fatal(err)
		}
		got, err := srv.bm25(ctx, "c", text, k, allow)
		if err != nil {
			t.Fatalf("%q on PostgreSQL: %v", text, err)
		}
		if len(want) == 0 {
			t.Fatalf("%q: no hits on the embedded store: the query tests nothing", text)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q (k %d, allow %v):\nPostgreSQL %v\nembedded   %v", text, k, allow, got, want)
		}
		got, err = ranked.bm25(ctx, "c", text, k, allow)
		if err != nil {
			t.Fatalf("%q ranked by the embedded store: %v", text, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q (k %d, allow %v):\nembedded, ranked %v\nexhaustive       %v", text, k, allow, got, want)
		}
		if len(index.Terms(text)) >= 3 {
			orderMatters++
		}
	}
	if orderMatters < 40 {
		t.Fatalf("only %d queries of three or more terms", orderMatters)
	}
	// an empty document filter finds nothing on both
	if got, err := srv.bm25(ctx, "c", "revenue", 10, map[string]bool{}); err != nil || len(got) != 0 {
		t.Fatalf("empty filter on PostgreSQL: %v, %v", got, err)
	}
	// terms no chunk holds score nothing
	if got, err := srv.bm25(ctx, "c", "zzzunknown", 10, nil); err != nil || len(got) != 0 {
		t.Fatalf("unknown term on PostgreSQL: %v, %v", got, err)
	}
	if _, err := srv.bm25(ctx, "nosuch", "revenue", 10, nil); err == nil {
		t.Fatal("a missing collection ranked without an error")
	}
}
