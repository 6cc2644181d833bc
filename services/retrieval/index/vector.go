package index

import (
	"container/heap"
	"sync"
)

// DefaultANNThreshold is the number of live vectors above which Vectors
// searches through HNSW instead of the exact scan.
const DefaultANNThreshold = 20_000

// Vectors is one collection's vector index: a contiguous float32 matrix of
// L2-normalised rows searched exactly by dot product (= cosine) while small,
// and through an HNSW graph over the same rows once it has ANNThreshold
// rows. Deleted rows are tombstoned and compacted away when they make up a
// quarter of the matrix. Safe for concurrent use.
type Vectors struct {
	ANNThreshold int

	mu    sync.RWMutex
	dim   int
	rows  []float32
	ids   []string
	group []string // document id of each row, for filters
	dead  []bool
	ndead int
	pos   map[string]int
	hnsw  *HNSW
}

// NewVectors returns an empty index.
func NewVectors() *Vectors { return &Vectors{ANNThreshold: DefaultANNThreshold, pos: map[string]int{}} }

// Dim is the vector dimension (0 while empty).
func (v *Vectors) Dim() int { v.mu.RLock(); defer v.mu.RUnlock(); return v.dim }

// Len is the number of live vectors.
func (v *Vectors) Len() int { v.mu.RLock(); defer v.mu.RUnlock(); return len(v.ids) - v.ndead }

// Add appends vectors (ids must be new; group is the document id). It
// returns false when the dimension differs from the index's.
func (v *Vectors) Add(group string, ids []string, vecs [][]float32) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, x := range vecs {
		if v.dim == 0 && len(v.ids)-v.ndead == 0 {
			v.dim = len(x)
		}
		if len(x) != v.dim {
			return false
		}
	}
	for i, x := range vecs {
		if old, ok := v.pos[ids[i]]; ok && !v.dead[old] {
			v.dead[old] = true
			v.ndead++
		}
		v.pos[ids[i]] = len(v.ids)
		v.rows = append(v.rows, x...)
		v.ids = append(v.ids, ids[i])
		v.group = append(v.group, group)
		v.dead = append(v.dead, false)
		if v.hnsw != nil {
			v.hnsw.Insert(len(v.ids) - 1)
		}
	}
	return true
}

// RemoveGroup tombstones every vector of a document.
func (v *Vectors) RemoveGroup(group string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, g := range v.group {
		if g == group && !v.dead[i] {
			v.dead[i] = true
			v.ndead++
			delete(v.pos, v.ids[i])
		}
	}
	if v.ndead > 0 && v.ndead*4 >= len(v.ids) {
		v.compact()
	}
}

func (v *Vectors) compact() {
	n := 0
	for i := range v.ids {
		if v.dead[i] {
			continue
		}
		copy(v.rows[n*v.dim:(n+1)*v.dim], v.rows[i*v.dim:(i+1)*v.dim])
		v.ids[n], v.group[n], v.dead[n] = v.ids[i], v.group[i], false
		v.pos[v.ids[n]] = n
		n++
	}
	v.rows, v.ids, v.group, v.dead, v.ndead = v.rows[:n*v.dim], v.ids[:n], v.group[:n], v.dead[:n], 0
	if n == 0 {
		v.dim = 0
	}
	v.hnsw = nil // rebuilt on demand
}

// Search returns the k nearest live vectors to q, best first, restricted to
// groups when allow is not nil.
func (v *Vectors) Search(q []float32, k int, allow map[string]bool) []Hit {
	v.mu.RLock()
	live := len(v.ids) - v.ndead
	useANN := live >= v.ANNThreshold && v.ANNThreshold > 0
	if useANN && v.hnsw == nil {
		v.mu.RUnlock()
		v.mu.Lock()
		if v.hnsw == nil {
			v.buildHNSW()
		}
		v.mu.Unlock()
		v.mu.RLock()
	}
	defer v.mu.RUnlock()
	if len(q) != v.dim || k <= 0 || live == 0 {
		return nil
	}
	if useANN && v.hnsw != nil {
		ef := max(128, 4*k)
		if allow != nil {
			ef = max(ef, 8*k)
		}
		var out []Hit
		for _, c := range v.hnsw.Search(q, ef) {
			if v.dead[c.id] || (allow != nil && !allow[v.group[c.id]]) {
				continue
			}
			out = append(out, Hit{v.ids[c.id], float64(c.sim)})
			if len(out) == k {
				return out
			}
		}
		if allow == nil {
			return out
		}
		// A selective filter can starve the graph walk: scan exactly.
	}
	return v.exact(q, k, allow)
}

func (v *Vectors) exact(q []float32, k int, allow map[string]bool) []Hit {
	h := &minHeap{}
	d := v.dim
	for i := range v.ids {
		if v.dead[i] || (allow != nil && !allow[v.group[i]]) {
			continue
		}
		s := dot(q, v.rows[i*d:(i+1)*d])
		if h.Len() < k {
			heap.Push(h, cand{int32(i), s})
		} else if s > (*h)[0].sim {
			(*h)[0] = cand{int32(i), s}
			heap.Fix(h, 0)
		}
	}
	out := make([]Hit, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		c := heap.Pop(h).(cand)
		out[i] = Hit{v.ids[c.id], float64(c.sim)}
	}
	return out
}

func (v *Vectors) buildHNSW() {
	v.hnsw = NewHNSW(v.dim, func(i int) []float32 { return v.rows[i*v.dim : (i+1)*v.dim] })
	v.hnsw.Reserve(len(v.ids))
	for i := range v.ids {
		if !v.dead[i] {
			v.hnsw.Insert(i)
		}
	}
}

func dot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	n := len(a) &^ 3
	b = b[:len(a)]
	for i := 0; i < n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for i := n; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

type cand struct {
	id  int32 // a row (HNSW: at most 2^31 rows)
	sim float32
}

// minHeap keeps the worst candidate on top.
type minHeap []cand

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return h[i].sim < h[j].sim }
func (h minHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(cand)) }
func (h *minHeap) Pop() any          { o := *h; x := o[len(o)-1]; *h = o[:len(o)-1]; return x }
