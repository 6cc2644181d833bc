package index

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// hnswVecs returns n random unit vectors, a tenth of them exact copies of
// an earlier one (equal similarities: the heaps' and sorts' ties).
func hnswVecs(seed uint64, n, dim int) [][]float32 {
	r := rand.New(rand.NewPCG(seed, seed))
	vs := randVecs(r, n, dim)
	for i := 10; i < n; i += 10 {
		vs[i] = vs[r.IntN(i)]
	}
	return vs
}

func rowsOf(vs [][]float32) func(int) []float32 { return func(i int) []float32 { return vs[i] } }

// TestHNSWSameGraph builds the graph with the current code and with the
// first version's (hnsw_ref_test.go: links in a map, a map visited set,
// container/heap, similarities recomputed when pruning) from the same
// inserts in the same order, some ids skipped (a build over a matrix with
// tombstones), and requires the same entry point, the same neighbour lists
// at every level in the same order, and the same search results, scores
// included.
func TestHNSWSameGraph(t *testing.T) {
	for _, c := range []struct{ n, dim int }{{3000, 64}, {2000, 384}} {
		t.Run(fmt.Sprintf("%dx%d", c.n, c.dim), func(t *testing.T) {
			vs := hnswVecs(uint64(c.n), c.n, c.dim)
			g, ref := NewHNSW(c.dim, rowsOf(vs)), newRefHNSW(c.dim, rowsOf(vs))
			inserted := 0
			for i := range vs {
				if i%17 == 5 {
					continue // a tombstoned row
				}
				g.Insert(i)
				ref.Insert(i)
				inserted++
			}
			if g.entry != ref.entry || g.top != ref.top {
				t.Fatalf("entry %d top %d, reference entry %d top %d", g.entry, g.top, ref.entry, ref.top)
			}
			if len(ref.links) != inserted {
				t.Fatalf("reference has %d nodes, want %d", len(ref.links), inserted)
			}
			links := 0
			for id := range vs {
				want, ok := ref.links[id]
				var got []neighbours
				if id < len(g.nodes) {
					got = g.nodes[id]
				}
				if !ok {
					if got != nil {
						t.Fatalf("id %d: in the graph, not in the reference", id)
					}
					continue
				}
				if len(got) != len(want) {
					t.Fatalf("id %d: %d levels, reference %d", id, len(got), len(want))
				}
				for l := range want {
					ids := make([]int, len(got[l].id))
					for i, n := range got[l].id {
						ids[i] = int(n)
						// the kept similarity is the one a prune would compute
						if s := dot(vs[id], vs[n]); s != got[l].sim[i] {
							t.Fatalf("id %d level %d: neighbour %d kept with similarity %v, dot gives %v", id, l, n, got[l].sim[i], s)
						}
					}
					if !slices.Equal(ids, want[l]) {
						t.Fatalf("id %d level %d: neighbours %v, reference %v", id, l, ids, want[l])
					}
					links += len(ids)
				}
			}
			t.Logf("%d nodes, %d links, top level %d: identical", inserted, links, g.top)
			r := rand.New(rand.NewPCG(9, 9))
			for qi, q := range randVecs(r, 50, c.dim) {
				for _, ef := range []int{10, 128} {
					got, want := g.Search(q, ef), ref.Search(q, ef)
					if len(got) != len(want) || len(got) == 0 {
						t.Fatalf("query %d ef %d: %d results, reference %d", qi, ef, len(got), len(want))
					}
					for i := range want {
						if int(got[i].id) != want[i].id || got[i].sim != want[i].sim {
							t.Fatalf("query %d ef %d, #%d: %v, reference %v", qi, ef, i, got[i], want[i])
						}
					}
				}
			}
		})
	}
}

// TestHNSWConcurrentSearch runs searches at once on one graph (each takes
// its own visited set from the pool) and requires each to return what it
// returns alone; run with -race it also checks they share no memory.
func TestHNSWConcurrentSearch(t *testing.T) {
	const n, dim = 2000, 32
	vs := hnswVecs(3, n, dim)
	g := NewHNSW(dim, rowsOf(vs))
	for i := range vs {
		g.Insert(i)
	}
	qs := randVecs(rand.New(rand.NewPCG(4, 4)), 64, dim)
	want := make([][]cand, len(qs))
	for i, q := range qs {
		want[i] = g.Search(q, 40)
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(qs)*4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range qs {
				i := (k + w*16) % len(qs)
				if got := g.Search(qs[i], 40); !slices.Equal(got, want[i]) {
					errs <- fmt.Sprintf("worker %d, query %d: %v, alone %v", w, i, got, want[i])
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestHNSWVisitedWraps checks a search right after the visited set's
// generation counter wraps: stamps left from before must not read as seen.
func TestHNSWVisitedWraps(t *testing.T) {
	const n, dim = 500, 16
	vs := hnswVecs(5, n, dim)
	g := NewHNSW(dim, rowsOf(vs))
	for i := range vs {
		g.Insert(i)
	}
	q := vs[7]
	want := g.Search(q, 20)
	s := &scratch{}
	s.reset(n)
	for i := range s.visited {
		s.visited[i] = ^uint32(0) // every id stamped by the last generation before the wrap
	}
	s.gen = ^uint32(0) - 1
	ep := cand{int32(g.entry), dot(q, vs[g.entry])}
	for l := g.top; l > 0; l-- {
		ep = g.greedy(q, ep, l)
	}
	got := g.searchLayer(q, ep, 20, 0, s) // gen becomes ^0: every id looks seen but the entry
	if len(got) != 1 {
		t.Fatalf("a generation equal to the stamps: %d results, want the entry alone (the test's premise)", len(got))
	}
	got = g.searchLayer(q, ep, 20, 0, s) // gen wraps to 0: cleared
	if !slices.Equal(got, want) {
		t.Fatalf("after the wrap: %v, want %v", got, want)
	}
}

// BenchmarkHNSWBuild inserts n random 384-dimension unit vectors (the
// models' dimension) into an empty graph, with the current code ("new")
// and with the first version's ("ref", hnsw_ref_test.go), one build per
// op. The 100k build takes minutes: -benchtime 1x.
//
//	go test -run '^$' -bench HNSWBuild -benchtime 1x ./services/retrieval/index
func BenchmarkHNSWBuild(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		vs := hnswVecs(uint64(n), n, 384)
		b.Run(fmt.Sprintf("n=%d/new", n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				g := NewHNSW(384, rowsOf(vs))
				g.Reserve(n)
				for i := range vs {
					g.Insert(i)
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/ref", n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				g := newRefHNSW(384, rowsOf(vs))
				for i := range vs {
					g.Insert(i)
				}
			}
		})
	}
}
