package index

// The HNSW graph as it was built before the rewrite (commit 85fab89's
// hnsw.go: links in a map, a map visited set, container/heap), kept here
// only as the reference TestHNSWSameGraph compares the current build
// with: the same inserts in the same order must give the same graph.

import (
	"cmp"
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
)

// refHNSW is a compact Hierarchical Navigable Small World graph (Malkov &
// Yashunin 2016) over rows addressed by int id, with dot-product similarity
// on normalised vectors. Not safe for concurrent use: Vectors guards it.
// Neighbour selection is the simple "closest M" heuristic.
type refHNSW struct {
	M, M0, EfConstruction int

	vec   func(int) []float32
	dim   int
	links map[int][][]int // id -> per level neighbour lists
	entry int
	top   int
	ml    float64
	rng   *rand.Rand
}

// newRefHNSW returns an empty graph; vec returns the row of an id.
func newRefHNSW(dim int, vec func(int) []float32) *refHNSW {
	m := 16
	return &refHNSW{M: m, M0: 2 * m, EfConstruction: 100, vec: vec, dim: dim,
		links: map[int][][]int{}, entry: -1, ml: 1 / math.Log(float64(m)), rng: rand.New(rand.NewPCG(1, 2))}
}

// Insert adds row id to the graph.
func (g *refHNSW) Insert(id int) {
	level := int(math.Floor(-math.Log(1-g.rng.Float64()) * g.ml))
	g.links[id] = make([][]int, level+1)
	if g.entry < 0 {
		g.entry, g.top = id, level
		return
	}
	q := g.vec(id)
	ep := refCand{g.entry, dot(q, g.vec(g.entry))}
	for l := g.top; l > level; l-- {
		ep = g.greedy(q, ep, l)
	}
	for l := min(level, g.top); l >= 0; l-- {
		res := g.searchLayer(q, ep, g.EfConstruction, l)
		maxN := g.M
		if l == 0 {
			maxN = g.M0
		}
		nb := refClosest(res, g.M)
		g.links[id][l] = nb
		for _, n := range nb {
			g.links[n][l] = append(g.links[n][l], id)
			if len(g.links[n][l]) > maxN {
				g.links[n][l] = g.prune(n, g.links[n][l], maxN)
			}
		}
		ep = res[0]
	}
	if level > g.top {
		g.entry, g.top = id, level
	}
}

// Search returns about ef nearest ids to q, best first.
func (g *refHNSW) Search(q []float32, ef int) []refCand {
	if g.entry < 0 {
		return nil
	}
	ep := refCand{g.entry, dot(q, g.vec(g.entry))}
	for l := g.top; l > 0; l-- {
		ep = g.greedy(q, ep, l)
	}
	return g.searchLayer(q, ep, ef, 0)
}

func (g *refHNSW) greedy(q []float32, ep refCand, l int) refCand {
	for changed := true; changed; {
		changed = false
		for _, n := range g.links[ep.id][l] {
			if s := dot(q, g.vec(n)); s > ep.sim {
				ep, changed = refCand{n, s}, true
			}
		}
	}
	return ep
}

// searchLayer is the beam search of the paper (Algorithm 2); results best first.
func (g *refHNSW) searchLayer(q []float32, ep refCand, ef, l int) []refCand {
	visited := map[int]bool{ep.id: true}
	frontier := &refMaxHeap{ep}
	best := &refMinHeap{ep}
	for frontier.Len() > 0 {
		c := heap.Pop(frontier).(refCand)
		if best.Len() >= ef && c.sim < (*best)[0].sim {
			break
		}
		ls := g.links[c.id]
		if l >= len(ls) {
			continue
		}
		for _, n := range ls[l] {
			if visited[n] {
				continue
			}
			visited[n] = true
			s := dot(q, g.vec(n))
			if best.Len() < ef || s > (*best)[0].sim {
				heap.Push(frontier, refCand{n, s})
				heap.Push(best, refCand{n, s})
				if best.Len() > ef {
					heap.Pop(best)
				}
			}
		}
	}
	out := []refCand(*best)
	slices.SortFunc(out, refBySimDesc)
	return out
}

// bySimDesc orders candidates most similar first (NaN last).
func refBySimDesc(a, b refCand) int { return cmp.Compare(b.sim, a.sim) }

func refClosest(c []refCand, m int) []int {
	out := make([]int, 0, min(m, len(c)))
	for i := 0; i < len(c) && i < m; i++ {
		out = append(out, c[i].id)
	}
	return out
}

func (g *refHNSW) prune(id int, nb []int, m int) []int {
	q := g.vec(id)
	cs := make([]refCand, len(nb))
	for i, n := range nb {
		cs[i] = refCand{n, dot(q, g.vec(n))}
	}
	slices.SortFunc(cs, refBySimDesc)
	return refClosest(cs, m)
}

type refCand struct {
	id  int
	sim float32
}

type refMinHeap []refCand

func (h refMinHeap) Len() int           { return len(h) }
func (h refMinHeap) Less(i, j int) bool { return h[i].sim < h[j].sim }
func (h refMinHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *refMinHeap) Push(x any)        { *h = append(*h, x.(refCand)) }
func (h *refMinHeap) Pop() any          { o := *h; x := o[len(o)-1]; *h = o[:len(o)-1]; return x }

type refMaxHeap []refCand

func (h refMaxHeap) Len() int           { return len(h) }
func (h refMaxHeap) Less(i, j int) bool { return h[i].sim > h[j].sim }
func (h refMaxHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *refMaxHeap) Push(x any)        { *h = append(*h, x.(refCand)) }
func (h *refMaxHeap) Pop() any          { o := *h; x := o[len(o)-1]; *h = o[:len(o)-1]; return x }
