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
	return WeightedRRF(k, nil, lists...)
}

// WeightedRRF is RRF with a weight per list (nil or missing weights are 1):
// a hit's score is the sum of weight / (k + rank) over the lists.
func WeightedRRF(k int, weights []float64, lists ...[]Hit) []Hit {
	score := map[string]float64{}
	for i, l := range lists {
		w := 1.0
		if i < len(weights) {
			w = weights[i]
		}
		for r, h := range l {
			score[h.ID] += w / float64(k+r+1)
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
