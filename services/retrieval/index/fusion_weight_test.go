package index

import "testing"

func TestWeightedRRF(t *testing.T) {
	bm := []Hit{{ID: "a"}, {ID: "b"}}
	vec := []Hit{{ID: "b"}, {ID: "c"}, {ID: "a"}}
	// Equal weights: b (ranks 2 and 1) beats a (ranks 1 and 3).
	if got := RRF(60, bm, vec); got[0].ID != "b" || got[1].ID != "a" || got[2].ID != "c" {
		t.Errorf("RRF order %v", got)
	}
	// Halving the vector list's weight lets BM25's first hit win.
	got := WeightedRRF(60, []float64{1, 0.5}, bm, vec)
	if got[0].ID != "a" || got[1].ID != "b" || got[2].ID != "c" {
		t.Errorf("weighted order %v", got)
	}
	want := 1.0/61 + 0.5/63
	if d := got[0].Score - want; d > 1e-12 || d < -1e-12 {
		t.Errorf("score of a = %v, want %v", got[0].Score, want)
	}
}
