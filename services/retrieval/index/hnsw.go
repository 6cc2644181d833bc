package index

import (
	"cmp"
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
)

// HNSW is a compact Hierarchical Navigable Small World graph (Malkov &
// Yashunin 2016) over rows addressed by int id, with dot-product similarity
// on normalised vectors. Not safe for concurrent use: Vectors guards it.
// Neighbour selection is the simple "closest M" heuristic.
type HNSW struct {
	M, M0, EfConstruction int

	vec   func(int) []float32
	dim   int
	links map[int][][]int // id -> per level neighbour lists
	entry int
	top   int
	ml    float64
	rng   *rand.Rand
}

// NewHNSW returns an empty graph; vec returns the row of an id.
func NewHNSW(dim int, vec func(int) []float32) *HNSW {
	m := 16
	return &HNSW{M: m, M0: 2 * m, EfConstruction: 100, vec: vec, dim: dim,
		links: map[int][][]int{}, entry: -1, ml: 1 / math.Log(float64(m)), rng: rand.New(rand.NewPCG(1, 2))}
}

// Insert adds row id to the graph.
func (g *HNSW) Insert(id int) {
	level := int(math.Floor(-math.Log(1-g.rng.Float64()) * g.ml))
	g.links[id] = make([][]int, level+1)
	if g.entry < 0 {
		g.entry, g.top = id, level
		return
	}
	q := g.vec(id)
	ep := cand{g.entry, dot(q, g.vec(g.entry))}
	for l := g.top; l > level; l-- {
		ep = g.greedy(q, ep, l)
	}
	for l := min(level, g.top); l >= 0; l-- {
		res := g.searchLayer(q, ep, g.EfConstruction, l)
		maxN := g.M
		if l == 0 {
			maxN = g.M0
		}
		nb := closest(res, g.M)
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
func (g *HNSW) Search(q []float32, ef int) []cand {
	if g.entry < 0 {
		return nil
	}
	ep := cand{g.entry, dot(q, g.vec(g.entry))}
	for l := g.top; l > 0; l-- {
		ep = g.greedy(q, ep, l)
	}
	return g.searchLayer(q, ep, ef, 0)
}

func (g *HNSW) greedy(q []float32, ep cand, l int) cand {
	for changed := true; changed; {
		changed = false
		for _, n := range g.links[ep.id][l] {
			if s := dot(q, g.vec(n)); s > ep.sim {
				ep, changed = cand{n, s}, true
			}
		}
	}
	return ep
}

// searchLayer is the beam search of the paper (Algorithm 2); results best first.
func (g *HNSW) searchLayer(q []float32, ep cand, ef, l int) []cand {
	visited := map[int]bool{ep.id: true}
	frontier := &maxHeap{ep}
	best := &minHeap{ep}
	for frontier.Len() > 0 {
		c := heap.Pop(frontier).(cand)
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
				heap.Push(frontier, cand{n, s})
				heap.Push(best, cand{n, s})
				if best.Len() > ef {
					heap.Pop(best)
				}
			}
		}
	}
	out := []cand(*best)
	slices.SortFunc(out, bySimDesc)
	return out
}

// bySimDesc orders candidates most similar first (NaN last).
func bySimDesc(a, b cand) int { return cmp.Compare(b.sim, a.sim) }

func closest(c []cand, m int) []int {
	out := make([]int, 0, min(m, len(c)))
	for i := 0; i < len(c) && i < m; i++ {
		out = append(out, c[i].id)
	}
	return out
}

func (g *HNSW) prune(id int, nb []int, m int) []int {
	q := g.vec(id)
	cs := make([]cand, len(nb))
	for i, n := range nb {
		cs[i] = cand{n, dot(q, g.vec(n))}
	}
	slices.SortFunc(cs, bySimDesc)
	return closest(cs, m)
}
