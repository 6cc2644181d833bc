package store

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/services/retrieval/index"
)

// fillRandom writes a random collection: docs documents of up to 90
// chunks (several blocks each), terms from a skewed vocabulary with random
// counts and chunk lengths, and exact ties (a chunk copied from another,
// in the same block or another document).
func fillRandom(t *testing.T, st Store, coll string, seed uint64, docs int) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 11))
	var prev []Chunk
	for d := range docs {
		id := fmt.Sprintf("d%03d", d)
		if _, _, err := st.AddDocument(t.Context(), Document{ID: id, Collection: coll, Name: id, SHA256: id}, ""); err != nil {
			t.Fatal(err)
		}
		chunks := make([]Chunk, 1+r.IntN(90))
		for i := range chunks {
			c := Chunk{DocID: id, Seq: i, Kind: KindText, Terms: map[string]int{}}
			switch {
			case i > 0 && r.IntN(8) == 0: // a tie in this document
				src := chunks[r.IntN(i)]
				c.Terms, c.Len = src.Terms, src.Len
			case len(prev) > 0 && r.IntN(10) == 0: // a tie with another document
				src := prev[r.IntN(len(prev))]
				c.Terms, c.Len = src.Terms, src.Len
			default:
				for range 1 + r.IntN(6) {
					// word j of 30 with weight ~ 1/(j+1): a few in most chunks
					w := fmt.Sprintf("w%02d", int(30*r.Float64()*r.Float64()*r.Float64()))
					c.Terms[w] += 1 + r.IntN(4)
				}
				c.Len = 5 + r.IntN(300)
				for _, tf := range c.Terms {
					c.Len += tf
				}
			}
			chunks[i] = c
		}
		if _, err := st.CommitIndex(t.Context(), coll, id, chunks, nil, func(x *Document) { x.State, x.Chunks = StateReady, len(chunks) }); err != nil {
			t.Fatal(err)
		}
		prev = chunks
	}
}

// exhaustiveBM25 is the reference: every posting of every term (Index's
// Postings), each chunk's contributions added in the order of terms with
// index.BM25, then the k best and every chunk tied with the k-th.
func exhaustiveBM25(t *testing.T, st Store, coll string, terms []string, w []float64, k int, allow []string) []Scored {
	t.Helper()
	c, err := st.GetCollection(t.Context(), coll)
	if err != nil {
		t.Fatal(err)
	}
	avg := float64(c.TotalLen) / float64(c.Chunks)
	sum := map[ChunkRef]float64{}
	i := 0
	err = st.Postings(t.Context(), coll, terms, func(term string, df int64, ps []Posting) {
		for _, p := range ps {
			if allow == nil || slices.Contains(allow, p.DocID) {
				sum[ChunkRef{p.DocID, p.Seq}] += w[i] * index.BM25(p.TF, p.Len, df, c.Chunks, avg)
			}
		}
		i++
	})
	if err != nil {
		t.Fatal(err)
	}
	var all []Scored
	for r, s := range sum {
		all = append(all, Scored{r.DocID, r.Seq, s})
	}
	slices.SortFunc(all, func(a, b Scored) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := cmp.Compare(a.DocID, b.DocID); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	if len(all) > k {
		kth := all[k-1].Score
		n := k
		for n < len(all) && all[n].Score == kth {
			n++
		}
		all = all[:n]
	}
	return all
}

// rankArgs computes the ranker's arguments as the engine does: the
// terms any chunk holds, their idfs, the mean length.
func rankArgs(t *testing.T, r KeywordRanker, coll string, terms []string, weights []float64) ([]string, []float64, []float64, float64) {
	t.Helper()
	c, dfs, err := r.DocFreqs(t.Context(), coll, terms)
	if err != nil {
		t.Fatal(err)
	}
	var ts []string
	var ws, idfs []float64
	for i, df := range dfs {
		if df > 0 {
			ts, ws, idfs = append(ts, terms[i]), append(ws, weights[i]), append(idfs, index.IDF(df, c.Chunks))
		}
	}
	return ts, ws, idfs, float64(c.TotalLen) / float64(c.Chunks)
}

// The block-max ranking of both stores is exhaustive BM25 exactly: the
// same chunks, in the same order, with the same float64 scores, ties with
// the k-th included, on random collections, with weights (the query
// expansion's), document filters and every k; and it prunes: on the
// larger collection most queries score well under all the blocks.
func TestBlockMaxIsExhaustiveBM25(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		r := st.(KeywordRanker)
		var scored, total, queried, single, multi int
		one := false // this ranking's floor holds (exact bound points)
		k := 0
		rankStats = func(s, n, batches int) {
			scored += s
			total += n
			if one && n >= k {
				if batches == 1 {
					single++
				} else {
					multi++
				}
			}
		}
		defer func() { rankStats = nil }()
		again := 0
		rankHook = func(stage string) {
			if stage == "again" {
				again++
			}
		}
		defer func() { rankHook = nil }()
		for ci, docs := range []int{3, 40} {
			coll := fmt.Sprintf("c%d", ci)
			fillRandom(t, st, coll, uint64(ci+1), docs)
			q := rand.New(rand.NewPCG(uint64(ci), 3))
			ties := 0
			for i := range 150 {
				var terms []string
				var weights []float64
				for len(terms) < 1+q.IntN(6) {
					w := fmt.Sprintf("w%02d", q.IntN(34)) // w30..w33: in no chunk
					if !slices.Contains(terms, w) {
						terms = append(terms, w)
						weights = append(weights, []float64{1, 1, 0.35}[q.IntN(3)])
					}
				}
				var allow []string
				if i%5 == 4 {
					allow = []string{"d001", "d002", "d017", "nosuch"}
				}
				k = []int{1, 3, 10, 25, 100, 5000}[i%6]
				ts, ws, idfs, avg := rankArgs(t, r, coll, terms, weights)
				if len(ts) == 0 {
					continue
				}
				want := exhaustiveBM25(t, st, coll, ts, ws, k, allow)
				_, one = st.(*Bolt) // (PostgreSQL's RankBM25 reads no flag: not exact)
				got, err := r.RankBM25(t.Context(), coll, ts, ws, idfs, avg, k, allow)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s %v w %v k %d allow %v:\nblock-max  %v\nexhaustive %v", coll, ts, ws, k, allow, got, want)
				}
				if qr, ok := st.(QueryRanker); ok {
					// the same from the query's own terms (those in no chunk
					// too), frequencies read with the bounds
					one = true
					got, err := qr.RankQuery(t.Context(), coll, terms, weights, k, allow)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(got, want) {
						t.Fatalf("%s %v w %v k %d allow %v:\nRankQuery  %v\nexhaustive %v", coll, terms, weights, k, allow, got, want)
					}
					queried++
				}
				if len(want) > k {
					ties++
				}
			}
			if ties < 5 {
				t.Fatalf("%s: only %d queries with ties at the k-th", coll, ties)
			}
		}
		if _, ok := st.(QueryRanker); ok && (queried < 200 || again != 0) {
			t.Fatalf("RankQuery compared %d times, ranked again %d times on an unchanging collection", queried, again)
		}
		if total == 0 || float64(scored) > 0.6*float64(total) {
			t.Fatalf("scored %d of %d blocks: no pruning", scored, total)
		}
		// with at least k blocks, the floor's first batch holds the top k:
		// the postings are read once
		if multi != 0 || single < 100 {
			t.Fatalf("%d rankings read their postings in one batch, %d in more", single, multi)
		}
		t.Logf("scored %d of %d blocks; %d rankings in one postings batch", scored, total, single)
	})
}

// The ranking of a collection written before the block-max records is
// the same once they are filled in from its postings: on opening an old
// embedded file, and by the PostgreSQL migration's INSERT.
func TestBlockMaxBackfill(t *testing.T) {
	for _, impl := range storeImpls {
		t.Run(impl.name, func(t *testing.T) {
			st := impl.open(t)
			defer func() { st.Close() }()
			fillRandom(t, st, "c", 9, 20)
			terms := [][]string{{"w00", "w01", "w02"}, {"w05", "w00"}, {"w03", "w09", "w01", "w00"}}
			rank := func() [][]Scored {
				var out [][]Scored
				for _, ts := range terms {
					w := []float64{1, 0.35, 1, 1}[:len(ts)]
					ts, ws, idfs, avg := rankArgs(t, st.(KeywordRanker), "c", ts, w)
					got, err := st.(KeywordRanker).RankBM25(t.Context(), "c", ts, ws, idfs, avg, 10, nil)
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, got)
				}
				return out
			}
			before := rank()
			switch s := st.(type) {
			case *Bolt:
				path := s.db.Path()
				if err := s.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bTermDocs) }); err != nil {
					t.Fatal(err)
				}
				s.Close()
				if st, _ = Open(strings.TrimSuffix(path, "/retrieval.db")); st == nil {
					t.Fatal("reopen failed")
				}
			case *Postgres:
				ctx := context.Background()
				if _, err := s.db.Pool.Exec(ctx, `DELETE FROM term_docs`); err != nil {
					t.Fatal(err)
				}
				up, err := migrations.ReadFile("migrations/0004_blockmax.up.sql")
				if err != nil {
					t.Fatal(err)
				}
				ins := string(up)[strings.Index(string(up), "INSERT INTO term_docs"):]
				if _, err := s.db.Pool.Exec(ctx, ins); err != nil {
					t.Fatal(err)
				}
				// its rows' points are made up (a block's highest tf, its
				// shortest length): a collection that existed at migration
				// 0006 is marked so, as here
				if _, err := s.db.Pool.Exec(ctx, `UPDATE collections SET exact_bounds = false`); err != nil {
					t.Fatal(err)
				}
			}
			if c, dfs, err := st.(KeywordRanker).DocFreqs(t.Context(), "c", []string{"w00"}); err != nil || dfs[0] == 0 || c.Chunks == 0 {
				t.Fatalf("after the backfill: %v %v %v", c, dfs, err)
			}
			if after := rank(); !slices.EqualFunc(after, before, slices.Equal) {
				t.Fatalf("after the backfill:\n%v\nbefore:\n%v", after, before)
			}
			if qr, ok := st.(QueryRanker); ok {
				for i, ts := range terms {
					w := []float64{1, 0.35, 1, 1}[:len(ts)]
					for _, k := range []int{1, 10} {
						got, err := qr.RankQuery(t.Context(), "c", ts, w, k, nil)
						if err != nil {
							t.Fatal(err)
						}
						if k == 10 && !slices.Equal(got, before[i]) {
							t.Fatalf("RankQuery after the backfill %v:\n%v\nbefore:\n%v", ts, got, before[i])
						}
					}
				}
			}
		})
	}
}

// A document re-indexed or deleted between RankQuery's first statement
// and the read of its postings is seen whole: the ranking is done again in
// one snapshot and is exhaustive BM25 of the collection after the change.
func TestRankQuerySeesADocumentWhole(t *testing.T) {
	st, err := OpenPostgres(t.Context(), pgtest.DSN(t), PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fillRandom(t, st, "c", 4, 12)
	terms, weights := []string{"w00", "w01", "w02", "w03"}, []float64{1, 1, 0.35, 1}
	for _, change := range []string{"re-indexed", "deleted"} {
		t.Run(change, func(t *testing.T) {
			before, err := st.RankQuery(t.Context(), "c", terms, weights, 10, nil)
			if err != nil || len(before) == 0 {
				t.Fatalf("%v %v", before, err)
			}
			// the best chunk's document: its postings are read first
			doc := before[0].DocID
			var stages []string
			rankHook = func(stage string) {
				stages = append(stages, stage)
				if stage != "stats" || len(stages) > 1 {
					return
				}
				if change == "deleted" {
					if _, err := st.DeleteDocument(t.Context(), "c", doc); err != nil {
						t.Error(err)
					}
					return
				}
				// every chunk of it now holds only w03, once, and is short
				chunks := []Chunk{{DocID: doc, Seq: 0, Kind: KindText, Terms: map[string]int{"w03": 1, "w29": 4}, Len: 7}}
				if _, err := st.CommitIndex(t.Context(), "c", doc, chunks, nil, func(x *Document) { x.State, x.Chunks = StateReady, 1 }); err != nil {
					t.Error(err)
				}
			}
			defer func() { rankHook = nil }()
			got, err := st.RankQuery(t.Context(), "c", terms, weights, 10, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(stages, []string{"stats", "again"}) {
				t.Fatalf("stages %v: the change went unnoticed", stages)
			}
			ts, ws, _, _ := rankArgs(t, st, "c", terms, weights)
			want := exhaustiveBM25(t, st, "c", ts, ws, 10, nil)
			if !slices.Equal(got, want) {
				t.Fatalf("after the document was %s:\nRankQuery  %v\nexhaustive %v", change, got, want)
			}
			if slices.Equal(got, before) {
				t.Fatal("the change changed nothing: the test tests nothing")
			}
		})
	}
}

// Rows too wide for the bounds index (migration 0005: more than 128 bound
// points, or long names) are written and ranked like the others: read from
// the heap, in the same statement.
func TestRankQueryWideRows(t *testing.T) {
	st, err := OpenPostgres(t.Context(), pgtest.DSN(t), PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fillRandom(t, st, "c", 6, 6)
	long := strings.Repeat("a-long-document-name-", 40) // 840 bytes
	for _, id := range []string{"wide", long} {
		if _, _, err := st.AddDocument(t.Context(), Document{ID: id, Collection: "c", Name: "x", SHA256: id}, ""); err != nil {
			t.Fatal(err)
		}
		// 800 chunks of w00 and w01: in each block of 16, tf rising as the
		// chunk grows, so 4 bound points a block (200 of them; w01, falling,
		// has one a block)
		chunks := make([]Chunk, 800)
		for i := range chunks {
			tf := 1 + i%16
			chunks[i] = Chunk{DocID: id, Seq: i, Kind: KindText, Terms: map[string]int{"w00": tf, "w01": 17 - tf}, Len: 20 + 30*(i%16)}
		}
		if _, err := st.CommitIndex(t.Context(), "c", id, chunks, nil, func(x *Document) { x.State, x.Chunks = StateReady, len(chunks) }); err != nil {
			t.Fatal(err)
		}
	}
	var wide int
	if err := st.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM term_docs WHERE NOT (cardinality(blk) <= 128
		AND octet_length(coll) + octet_length(term) + octet_length(doc) <= 600)`).Scan(&wide); err != nil || wide < 3 {
		t.Fatalf("%d rows outside the bounds index (%v): the test tests nothing", wide, err)
	}
	for _, terms := range [][]string{{"w00"}, {"w01", "w00", "w02"}, {"w03", "w00"}} {
		w := []float64{1, 0.35, 1}[:len(terms)]
		for _, k := range []int{1, 10, 100, 2000} {
			ts, ws, _, _ := rankArgs(t, st, "c", terms, w)
			want := exhaustiveBM25(t, st, "c", ts, ws, k, nil)
			got, err := st.RankQuery(t.Context(), "c", terms, w, k, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%v k %d:\nRankQuery  %v\nexhaustive %v", terms, k, got, want)
			}
			if !slices.ContainsFunc(got, func(s Scored) bool { return s.DocID == long }) && k >= 100 {
				t.Fatalf("%v k %d: the long-named document is not ranked", terms, k)
			}
		}
	}
}
