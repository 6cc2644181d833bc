package retrieval

import (
	"slices"

	"github.com/pdfqa/pdfqa/services/retrieval/index"
)

// repeatJaccard is the share of word trigrams two passages must have in
// common to count as one passage said twice.
const repeatJaccard = 0.7

// demoteRepeats moves each candidate whose text nearly repeats a better
// candidate's behind every other one, keeping their order: filings repeat
// their boilerplate quarter after quarter (a segment's description, a
// policy, a risk), and ten passages that say one thing four times hold a
// quarter of the evidence. A repeat is still returned when too few others
// are left. Figures are words here, so rows of one table in two filings
// (the same label, other numbers) are not repeats.
func demoteRepeats(rs []Result) []Result {
	if len(rs) < 2 {
		return rs
	}
	grams := make([][]uint64, len(rs))
	var firsts, repeats []Result
	for i, r := range rs {
		grams[i] = trigrams(r.Chunk.Text)
		rep := false
		for j := range i {
			if grams[j] != nil && jaccard(grams[i], grams[j]) >= repeatJaccard {
				rep = true
				break
			}
		}
		if rep {
			repeats = append(repeats, r)
			grams[i] = nil // compare later ones with the first telling only
			continue
		}
		firsts = append(firsts, r)
	}
	if len(repeats) == 0 {
		return rs
	}
	return append(firsts, repeats...)
}

// trigrams is the set of a text's consecutive word triples (its index
// terms), each hashed (FNV-1a), sorted and without duplicates.
func trigrams(text string) []uint64 {
	ts := index.Terms(text)
	if len(ts) < 3 {
		return []uint64{}
	}
	hs := make([]uint64, len(ts))
	for i, t := range ts {
		h := uint64(14695981039346656037) // FNV-1a
		for j := 0; j < len(t); j++ {
			h = (h ^ uint64(t[j])) * 1099511628211
		}
		hs[i] = h
	}
	out := make([]uint64, 0, len(ts)-2)
	for i := 0; i+2 < len(ts); i++ {
		// an order-sensitive mix of the three words' hashes
		out = append(out, (hs[i]*0x9e3779b97f4a7c15^hs[i+1])*0xbf58476d1ce4e5b9^hs[i+2])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// jaccard is |a ∩ b| / |a ∪ b| of two sorted sets (or, when their sizes
// alone put it below repeatJaccard, that bound).
func jaccard(a, b []uint64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	if lo, hi := min(len(a), len(b)), max(len(a), len(b)); float64(lo) < repeatJaccard*float64(hi) {
		return float64(lo) / float64(hi) // an upper bound, below the threshold: no need to count
	}
	both := 0
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			both++
			i++
			j++
		}
	}
	return float64(both) / float64(len(a)+len(b)-both)
}
