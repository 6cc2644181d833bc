// Package vec holds the vector arithmetic the services share.
package vec

import "math"

// Normalize scales v to unit L2 norm in place (a zero vector stays zero)
// and returns it.
func Normalize(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return v
	}
	n := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= n
	}
	return v
}
