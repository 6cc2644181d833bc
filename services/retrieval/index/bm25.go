package index

import "math"

// BM25 parameters (Robertson/Lucene defaults).
const (
	BM25K1 = 1.2
	BM25B  = 0.75
)

// BM25 scores one term occurrence: tf in a chunk of length dl, the term in
// df of n chunks whose mean length is avgdl.
func BM25(tf, dl int, df, n int64, avgdl float64) float64 {
	if tf <= 0 || df <= 0 || n <= 0 {
		return 0
	}
	idf := IDF(df, n)
	if avgdl <= 0 {
		avgdl = 1
	}
	t := float64(tf)
	return idf * t * (BM25K1 + 1) / (t + BM25K1*(1-BM25B+BM25B*float64(dl)/avgdl))
}

// IDF is BM25's inverse document frequency of a term in df of n chunks
// (df, n > 0).
func IDF(df, n int64) float64 {
	return math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
}
