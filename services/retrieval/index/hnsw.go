package index

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// HNSW is a compact Hierarchical Navigable Small World graph (Malkov &
// Yashunin 2016) over rows addressed by int id, with dot-product similarity
// on normalised vectors. Insert needs exclusive use; Search may run
// concurrently with other Searches (Vectors guards it with its RWMutex).
// Neighbour selection is the simple "closest M" heuristic.
//
// The layout is built for a large build (1M rows): neighbour lists live in
// a slice indexed by id, each list at its full capacity from the start and
// with the similarity of each neighbour to its owner kept beside it (so
// pruning a full list computes no dot products: they are the same values,
// dot being symmetric), and the beam search's visited set is an array
// stamped with a generation number, reused across searches. None of this
// changes the graph: the same inserts in the same order give the links the
// map-based first version gave (TestHNSWSameGraph builds both).
type HNSW struct {
	M, M0, EfConstruction int

	vec   func(int) []float32
	dim   int
	nodes [][]neighbours // id -> per level neighbour lists; nil: not in the graph
	entry int
	top   int
	ml    float64
	rng   *rand.Rand

	build scratch   // Insert's (exclusive use)
	pool  sync.Pool // *scratch for concurrent Searches
	slab  []int32   // backing of new lists' ids, carved off in blocks
	sims  []float32 // backing of new lists' similarities
	cs    []cand    // prune's buffer
}

// neighbours is one node's list at one level: ids and each one's
// similarity to the node, in the same order.
type neighbours struct {
	id  []int32
	sim []float32
}

// NewHNSW returns an empty graph; vec returns the row of an id.
func NewHNSW(dim int, vec func(int) []float32) *HNSW {
	m := 16
	return &HNSW{M: m, M0: 2 * m, EfConstruction: 100, vec: vec, dim: dim,
		entry: -1, ml: 1 / math.Log(float64(m)), rng: rand.New(rand.NewPCG(1, 2))}
}

// Reserve makes room for ids below n (a build's size), so that the id
// index is not regrown while inserting.
func (g *HNSW) Reserve(n int) {
	if n > cap(g.nodes) {
		g.nodes = slices.Grow(g.nodes, n-len(g.nodes))
	}
}

// list returns an empty list with room for c neighbours (one over the
// level's maximum: a list is appended to, then pruned).
func (g *HNSW) list(c int) neighbours {
	const block = 1 << 16
	if len(g.slab) < c {
		g.slab = make([]int32, block)
		g.sims = make([]float32, block)
	}
	l := neighbours{id: g.slab[:0:c], sim: g.sims[:0:c]}
	g.slab, g.sims = g.slab[c:], g.sims[c:]
	return l
}

// Insert adds row id to the graph.
func (g *HNSW) Insert(id int) {
	level := int(math.Floor(-math.Log(1-g.rng.Float64()) * g.ml))
	for len(g.nodes) <= id {
		g.nodes = append(g.nodes, nil)
	}
	ls := make([]neighbours, level+1)
	for l := range ls {
		if l == 0 {
			ls[l] = g.list(g.M0 + 1)
		} else {
			ls[l] = g.list(g.M + 1)
		}
	}
	g.nodes[id] = ls
	if g.entry < 0 {
		g.entry, g.top = id, level
		return
	}
	q := g.vec(id)
	ep := cand{int32(g.entry), dot(q, g.vec(g.entry))}
	for l := g.top; l > level; l-- {
		ep = g.greedy(q, ep, l)
	}
	for l := min(level, g.top); l >= 0; l-- {
		res := g.searchLayer(q, ep, g.EfConstruction, l, &g.build)
		maxN := g.M
		if l == 0 {
			maxN = g.M0
		}
		own := &ls[l]
		for i := 0; i < len(res) && i < g.M; i++ {
			own.id = append(own.id, res[i].id)
			own.sim = append(own.sim, res[i].sim)
		}
		for i, n := range own.id {
			nl := &g.nodes[n][l]
			nl.id = append(nl.id, int32(id))
			nl.sim = append(nl.sim, own.sim[i])
			if len(nl.id) > maxN {
				g.prune(nl, maxN)
			}
		}
		ep = res[0]
	}
	if level > g.top {
		g.entry, g.top = id, level
	}
}

// Search returns about ef nearest ids to q, best first.
func (g *HNSW) Search(q []float32, ef int) []cand {
	if g.entry < 0 {
		return nil
	}
	s, _ := g.pool.Get().(*scratch)
	if s == nil {
		s = &scratch{}
	}
	defer g.pool.Put(s)
	ep := cand{int32(g.entry), dot(q, g.vec(g.entry))}
	for l := g.top; l > 0; l-- {
		ep = g.greedy(q, ep, l)
	}
	return slices.Clone(g.searchLayer(q, ep, ef, 0, s))
}

func (g *HNSW) greedy(q []float32, ep cand, l int) cand {
	for changed := true; changed; {
		changed = false
		for _, n := range g.nodes[ep.id][l].id {
			if s := dot(q, g.vec(int(n))); s > ep.sim {
				ep, changed = cand{n, s}, true
			}
		}
	}
	return ep
}

// scratch is one beam search's working memory, kept for the next.
type scratch struct {
	visited  []uint32 // visited[id] == gen: seen in this search
	gen      uint32
	frontier []cand // max-heap
	best     []cand // min-heap
}

// reset starts a search over ids below n.
func (s *scratch) reset(n int) {
	if len(s.visited) < n {
		s.visited = make([]uint32, max(n, 2*len(s.visited)))
		s.gen = 0
	}
	s.gen++
	if s.gen == 0 { // wrapped: old stamps would read as this search's
		clear(s.visited)
		s.gen = 1
	}
}

// searchLayer is the beam search of the paper (Algorithm 2); results best
// first, in s's memory (valid until s's next search).
func (g *HNSW) searchLayer(q []float32, ep cand, ef, l int, s *scratch) []cand {
	s.reset(len(g.nodes))
	vis, gen := s.visited, s.gen
	vis[ep.id] = gen
	// frontier is a max-heap kept as a min-heap of negated similarities
	// (for floats a > b exactly when -a < -b: the same sift order).
	frontier := append(s.frontier[:0], cand{ep.id, -ep.sim})
	best := append(s.best[:0], ep)
	for len(frontier) > 0 {
		var c cand
		c, frontier = popMin(frontier)
		c.sim = -c.sim
		if len(best) >= ef && c.sim < best[0].sim {
			break
		}
		ls := g.nodes[c.id]
		if l >= len(ls) {
			continue
		}
		for _, n := range ls[l].id {
			if vis[n] == gen {
				continue
			}
			vis[n] = gen
			sim := dot(q, g.vec(int(n)))
			if len(best) < ef || sim > best[0].sim {
				frontier = pushMin(frontier, cand{n, -sim})
				best = pushMin(best, cand{n, sim})
				if len(best) > ef {
					_, best = popMin(best)
				}
			}
		}
	}
	s.frontier, s.best = frontier, best
	slices.SortFunc(best, bySimDesc)
	return best
}

// bySimDesc orders candidates most similar first (NaN last).
func bySimDesc(a, b cand) int { return cmp.Compare(b.sim, a.sim) }

// prune keeps a list's m most similar neighbours (with their
// similarities), in place.
func (g *HNSW) prune(nl *neighbours, m int) {
	cs := g.cs[:0]
	for i, n := range nl.id {
		cs = append(cs, cand{n, nl.sim[i]})
	}
	slices.SortFunc(cs, bySimDesc)
	for i := range m {
		nl.id[i], nl.sim[i] = cs[i].id, cs[i].sim
	}
	nl.id, nl.sim = nl.id[:m], nl.sim[:m]
	g.cs = cs
}

// The heaps below are container/heap's algorithms (the same sift order,
// so the same ties broken the same way) on typed slices, without its
// interface calls and boxing: a min-heap of candidates (worst on top;
// the beam's frontier keeps negated similarities in one).

func pushMin(h []cand, x cand) []cand {
	h = append(h, x)
	for j := len(h) - 1; ; {
		i := (j - 1) / 2
		if i == j || !(h[j].sim < h[i].sim) {
			break
		}
		h[i], h[j] = h[j], h[i]
		j = i
	}
	return h
}

func popMin(h []cand) (cand, []cand) {
	n := len(h) - 1
	h[0], h[n] = h[n], h[0]
	for i := 0; ; {
		j1 := 2*i + 1
		if j1 >= n || j1 < 0 {
			break
		}
		j := j1
		if j2 := j1 + 1; j2 < n && h[j2].sim < h[j1].sim {
			j = j2
		}
		if !(h[j].sim < h[i].sim) {
			break
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
	return h[n], h[:n]
}
