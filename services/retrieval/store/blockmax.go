package store

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/pdfqa/pdfqa/services/retrieval/index"
)

// Block-max BM25 (issue #12), shared by both stores.
//
// Besides one posting per (term, chunk), each store keeps one record per
// (term, document): the term's postings in that document (seq, tf, len,
// by seq) and, for every block of blockSpan consecutive chunks (seq /
// blockSpan) holding the term, the block's bound points: the (tf, len)
// pairs no other posting of the block dominates (higher tf and shorter
// chunk). BM25's term score rises with tf and falls with the chunk's
// length, so the best of a block's points is the most the term adds to
// any chunk of the block, for every collection mean length. The blocks
// are aligned across terms (a block is a range of chunks), so a block's
// bound is the sum of its terms' bounds.
//
// rankBlocks reads the bounds only (a few points per document and term,
// not the postings), orders the blocks by bound, and scores the chunks of
// the best blocks exactly, block after block; once the next block's bound
// is below the k-th best exact score, no chunk left can reach the top k
// (block-max MaxScore with docid-range blocks, Ding & Suel 2011, Mallia et
// al. 2019). The postings of the documents it reaches are read in batches.
// Scores are the caller's float64 arithmetic, term by term in the order of
// terms: identical to exhaustive BM25, ties included.

// blockSpan is the number of consecutive chunks of a document in a block.
const blockSpan = 16

// maxBoundPoints caps a block's bound points; past it the last point
// stands for the rest (their highest tf, their shortest length: still a
// bound).
const maxBoundPoints = 4

// boundPoint is one (tf, len) point of block Block's bound.
type boundPoint struct {
	Block, TF, Len int32
}

// termDocPostings are one term's postings in one document, by seq.
type termDocPostings struct {
	Seqs, TFs, Lens []int32
}

// termDocs groups a document's chunks' terms: for each term, its postings
// in seq order (chunks are taken in the order given, which CommitIndex
// callers give by seq; they are sorted here anyway).
func termDocs(chunks []Chunk) map[string]*termDocPostings {
	out := map[string]*termDocPostings{}
	for _, ch := range chunks {
		for t, tf := range ch.Terms {
			p := out[t]
			if p == nil {
				p = &termDocPostings{}
				out[t] = p
			}
			p.Seqs, p.TFs, p.Lens = append(p.Seqs, int32(ch.Seq)), append(p.TFs, int32(tf)), append(p.Lens, int32(ch.Len))
		}
	}
	for _, p := range out {
		p.sortBySeq()
	}
	return out
}

func (p *termDocPostings) sortBySeq() {
	if slices.IsSorted(p.Seqs) {
		return
	}
	idx := make([]int, len(p.Seqs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(p.Seqs[a], p.Seqs[b]) })
	s, t, l := make([]int32, len(idx)), make([]int32, len(idx)), make([]int32, len(idx))
	for i, j := range idx {
		s[i], t[i], l[i] = p.Seqs[j], p.TFs[j], p.Lens[j]
	}
	p.Seqs, p.TFs, p.Lens = s, t, l
}

// bounds returns the postings' bound points, by block.
func (p *termDocPostings) bounds() []boundPoint {
	var out []boundPoint
	for i := 0; i < len(p.Seqs); {
		b := p.Seqs[i] / blockSpan
		j := i
		for j < len(p.Seqs) && p.Seqs[j]/blockSpan == b {
			j++
		}
		pts := make([]boundPoint, 0, j-i)
		for x := i; x < j; x++ {
			pts = append(pts, boundPoint{b, p.TFs[x], p.Lens[x]})
		}
		// highest tf first, then shortest: a point is kept when it is
		// shorter than every point of higher tf before it
		slices.SortFunc(pts, func(a, b boundPoint) int {
			if c := cmp.Compare(b.TF, a.TF); c != 0 {
				return c
			}
			return cmp.Compare(a.Len, b.Len)
		})
		var front []boundPoint
		for _, q := range pts {
			if len(front) == 0 || q.Len < front[len(front)-1].Len {
				front = append(front, q)
			}
		}
		if len(front) > maxBoundPoints {
			last := front[maxBoundPoints-1]
			last.Len = front[len(front)-1].Len // the shortest of the rest
			front = append(front[:maxBoundPoints-1], last)
		}
		out = append(out, front...)
		i = j
	}
	return out
}

// termDocBound is the bound record of one (term, document).
type termDocBound struct {
	Term   int // index into the query's terms
	Doc    string
	Points []boundPoint
}

// blockSource is a store's side of rankBlocks.
type blockSource interface {
	// bounds calls fn with the bound record of every (term, document) of
	// terms, documents restricted to allow (nil: all).
	bounds(ctx context.Context, terms []string, allow []string, fn func(termDocBound)) error
	// postings returns the postings of each (terms[term[i]], docs[i]) pair.
	postings(ctx context.Context, terms []string, term []int, docs []string) ([]termDocPostings, error)
}

// QueryRanker is a KeywordRanker that also ranks a whole query in one
// call, reading the collection's counts, the terms' frequencies and their
// bounds together (PostgreSQL: one statement instead of DocFreqs' and
// RankBM25's own).
type QueryRanker interface {
	KeywordRanker
	// RankQuery is RankBM25 with the idfs and the mean length the engine
	// computes from DocFreqs (index.IDF of each term's count, the total
	// length over the chunks, 1 when that is not positive); terms no
	// chunk holds are left out. A missing collection is ErrNotFound.
	RankQuery(ctx context.Context, coll string, terms []string, w []float64, k int, allow []string) ([]Scored, error)
}

// queryStats are what rankQuery reads first: the collection's chunk
// count and total length, each term's count of chunks (over the whole
// collection) and the bound records of the terms' (term, document) pairs
// of the allowed documents (Term: the index into the query's terms).
type queryStats struct {
	Chunks, TotalLen int64
	DFs              []int64
	Bounds           []termDocBound
	Exact            bool // the bound points are exact (rankBlocks)
}

// rankQuery implements QueryRanker.RankQuery over st and src: the kept
// terms' weights and idfs, then rankBlocks with st's bound records.
func rankQuery(ctx context.Context, st queryStats, src blockSource, terms []string, w []float64, k int, allow []string) ([]Scored, error) {
	if len(w) != len(terms) || len(st.DFs) != len(terms) {
		return nil, fmt.Errorf("store: %d terms, %d weights, %d frequencies", len(terms), len(w), len(st.DFs))
	}
	if st.Chunks <= 0 {
		return nil, nil
	}
	avg := float64(st.TotalLen) / float64(st.Chunks)
	if avg <= 0 {
		avg = 1 // as index.BM25
	}
	at := make([]int, len(terms)) // query term -> kept term
	var ts []string
	var ws, idfs []float64
	for i, df := range st.DFs {
		at[i] = -1
		if df > 0 {
			at[i] = len(ts)
			ts, ws, idfs = append(ts, terms[i]), append(ws, w[i]), append(idfs, index.IDF(df, st.Chunks))
		}
	}
	if len(ts) == 0 {
		return nil, nil
	}
	recs := make([]termDocBound, 0, len(st.Bounds))
	for _, r := range st.Bounds {
		if r.Term < 0 || r.Term >= len(terms) || at[r.Term] < 0 {
			return nil, fmt.Errorf("store: bound record of term %d, which no chunk holds", r.Term)
		}
		r.Term = at[r.Term]
		recs = append(recs, r)
	}
	return rankBlocks(ctx, readBounds{src, recs}, ts, ws, idfs, avg, k, allow, st.Exact)
}

// readBounds is a blockSource whose bounds were read already.
type readBounds struct {
	blockSource
	recs []termDocBound
}

func (r readBounds) bounds(_ context.Context, _ []string, _ []string, fn func(termDocBound)) error {
	for _, x := range r.recs {
		fn(x)
	}
	return nil
}

// bm25Term is BM25's contribution of one term, written as index.BM25
// writes it (the same operations in the same order: the same float64).
func bm25Term(w, idf float64, tf, dl int32, avgdl float64) float64 {
	t := float64(tf)
	return w * (idf * t * (index.BM25K1 + 1) / (t + index.BM25K1*(1-index.BM25B+index.BM25B*float64(dl)/avgdl)))
}

// rankBlocks implements KeywordRanker.RankBM25 over a blockSource. exact:
// the source's bound points are real postings' (tf, len), each block's
// but its capped last (maxBoundPoints); then the first postings batch is
// sized by the floor they give.
func rankBlocks(ctx context.Context, src blockSource, terms []string, w, idf []float64, avg float64, k int, allow []string, exact bool) ([]Scored, error) {
	if len(terms) == 0 || k <= 0 {
		return nil, nil
	}
	if avg <= 0 {
		avg = 1
	}
	type block struct {
		doc int
		b   int32
		ub  float64
	}
	type docState struct {
		name    string
		has     []bool // by term: the document holds it
		post    []termDocPostings
		fetched bool
		ub, lb  map[int32]float64 // by block: its bound, its floor (exact)
	}
	var docs []*docState
	at := map[string]int{}
	// the floor is valid only when no term can lower a chunk's score
	if exact {
		for i := range terms {
			exact = exact && w[i] >= 0 && idf[i] >= 0
		}
	}
	err := src.bounds(ctx, terms, allow, func(r termDocBound) {
		j, ok := at[r.Doc]
		if !ok {
			j = len(docs)
			at[r.Doc] = j
			d := &docState{name: r.Doc, has: make([]bool, len(terms)), ub: map[int32]float64{}}
			if exact {
				d.lb = map[int32]float64{}
			}
			docs = append(docs, d)
		}
		d := docs[j]
		d.has[r.Term] = true
		for i := 0; i < len(r.Points); {
			b, best := r.Points[i].Block, 0.0
			for x := 0; i < len(r.Points) && r.Points[i].Block == b; i, x = i+1, x+1 {
				p := r.Points[i]
				s := bm25Term(w[r.Term], idf[r.Term], p.TF, p.Len, avg)
				best = max(best, s)
				if d.lb != nil && x < maxBoundPoints-1 && p.TF > 0 && p.Len >= 0 {
					// a real posting's term score: its chunk scores at least it
					d.lb[b] = max(d.lb[b], s)
				}
			}
			// (1+1e-9): no rounding lets a score pass its block's bound
			d.ub[b] += best * (1 + 1e-9)
		}
	})
	if err != nil {
		return nil, err
	}
	nb := 0
	for _, d := range docs {
		nb += len(d.ub)
	}
	blocks := make([]block, 0, nb)
	var floors []float64
	if exact {
		floors = make([]float64, 0, nb)
	}
	for j, d := range docs {
		for b, ub := range d.ub {
			blocks = append(blocks, block{j, b, ub})
		}
		for _, lb := range d.lb {
			floors = append(floors, lb)
		}
		d.ub, d.lb = nil, nil
	}
	// floor: the k-th best of the blocks' floors (each a chunk of its own
	// block, so k chunks score at least it): no chunk below it is in the
	// top k, and every block whose bound reaches it is read in the first
	// batch, which then holds the top k (one postings batch, not a batch
	// doubling until the k-th best score passes the next bound).
	floor := math.Inf(-1)
	if len(floors) >= k {
		slices.Sort(floors)
		floor = floors[len(floors)-k] * (1 - 1e-9)
	}
	slices.SortFunc(blocks, func(a, b block) int {
		if c := cmp.Compare(b.ub, a.ub); c != 0 {
			return c
		}
		if c := cmp.Compare(a.doc, b.doc); c != 0 {
			return c
		}
		return cmp.Compare(a.b, b.b)
	})
	top := &floatHeap{}
	theta := math.Inf(-1)
	var scored []Scored
	batch := max(8, 2*k/blockSpan)
	done, batches := 0, 0
	for pos := 0; pos < len(blocks) && blocks[pos].ub >= theta; {
		// the blocks this batch reads: with k scores kept, every block
		// whose bound reaches the k-th (the last batch); first, those
		// reaching the floor; otherwise twice the last batch
		cut := math.Inf(-1)
		switch {
		case top.Len() == k:
			cut = theta
		case batches == 0:
			cut = floor
		}
		end := min(len(blocks), pos+batch)
		batch *= 2
		if cut > math.Inf(-1) {
			end = max(pos+1, pos+sort.Search(len(blocks)-pos, func(i int) bool { return blocks[pos+i].ub < cut }))
		}
		batches++
		// the postings of the batch's documents not read yet
		var pterm []int
		var pdocs []string
		var owner []*docState
		for _, bl := range blocks[pos:end] {
			d := docs[bl.doc]
			if d.fetched {
				continue
			}
			d.fetched = true
			d.post = make([]termDocPostings, len(terms))
			for i, h := range d.has {
				if h {
					pterm, pdocs, owner = append(pterm, i), append(pdocs, d.name), append(owner, d)
				}
			}
		}
		if len(pterm) > 0 {
			got, err := src.postings(ctx, terms, pterm, pdocs)
			if err != nil {
				return nil, err
			}
			for i, p := range got {
				owner[i].post[pterm[i]] = p
			}
		}
		for ; pos < end && blocks[pos].ub >= theta; pos++ {
			done++
			d := docs[blocks[pos].doc]
			lo := blocks[pos].b * blockSpan
			var acc [blockSpan]float64
			var hit [blockSpan]bool
			for i := range terms {
				p := &d.post[i]
				x := sort.Search(len(p.Seqs), func(n int) bool { return p.Seqs[n] >= lo })
				for ; x < len(p.Seqs) && p.Seqs[x] < lo+blockSpan; x++ {
					if p.TFs[x] <= 0 {
						continue
					}
					o := p.Seqs[x] - lo
					acc[o] += bm25Term(w[i], idf[i], p.TFs[x], p.Lens[x], avg)
					hit[o] = true
				}
			}
			for o, ok := range hit {
				if !ok {
					continue
				}
				s := acc[o]
				scored = append(scored, Scored{DocID: d.name, Seq: int(lo) + o, Score: s})
				if top.Len() < k {
					heap.Push(top, s)
				} else if s > (*top)[0] {
					(*top)[0] = s
					heap.Fix(top, 0)
				}
				if top.Len() == k {
					theta = (*top)[0]
				}
			}
		}
	}
	if rankStats != nil {
		rankStats(done, len(blocks), batches)
	}
	// every chunk of score >= theta (the k-th best) was scored: those
	// left have bounds below it
	out := scored[:0]
	for _, s := range scored {
		if s.Score >= theta {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Scored) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := cmp.Compare(a.DocID, b.DocID); c != 0 {
			return c
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	return out, nil
}

// rankStats, when set (by tests), is told how many blocks each ranking
// scored of how many, and in how many postings batches.
var rankStats func(scored, total, batches int)

type floatHeap []float64

func (h floatHeap) Len() int           { return len(h) }
func (h floatHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h floatHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *floatHeap) Push(x any)        { *h = append(*h, x.(float64)) }
func (h *floatHeap) Pop() any          { o := *h; x := o[len(o)-1]; *h = o[:len(o)-1]; return x }
