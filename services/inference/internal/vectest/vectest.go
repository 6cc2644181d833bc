// Package vectest holds the vector arithmetic the inference tests check
// embeddings with (engine, static model and service alike).
package vectest

import "math"

// Dot is the dot product of a and b (over a's length), in float64.
func Dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// Cosine is the cosine similarity of a and b; 0 when either is all zeros.
func Cosine(a, b []float32) float64 {
	n := math.Sqrt(Dot(a, a) * Dot(b, b))
	if n == 0 {
		return 0
	}
	return Dot(a, b) / n
}
