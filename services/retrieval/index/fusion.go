package index

import (
	"cmp"
	"slices"
)

// RRFK is the reciprocal rank fusion constant (Cormack et al. 2009).
const RRFK = 60

// Hit is one scored result.
type Hit struct {
	ID    string
	Score float64
}

// RRF fuses ranked lists: each id scores sum(1/(k+rank)) over the lists it
// appears in (rank 1-based). Ties break by id for stable output.
func RRF(k int, lists ...[]Hit) []Hit {
	score := map[string]float64{}
	for _, l := range lists {
		for r, h := range l {
			score[h.ID] += 1 / float64(k+r+1)
		}
	}
	out := make([]Hit, 0, len(score))
	for id, s := range score {
		out = append(out, Hit{id, s})
	}
	SortHits(out)
	return out
}

// SortHits orders hits best first, ties by id.
func SortHits(h []Hit) {
	slices.SortFunc(h, func(a, b Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// TopK keeps the k best hits (sorted).
func TopK(h []Hit, k int) []Hit {
	SortHits(h)
	if len(h) > k {
		h = h[:k]
	}
	return h
}
