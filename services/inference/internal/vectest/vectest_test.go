package vectest

import (
	"math"
	"testing"
)

func TestDotAndCosine(t *testing.T) {
	a, b := []float32{3, 4}, []float32{4, 3}
	if d := Dot(a, b); d != 24 {
		t.Errorf("Dot = %v, want 24", d)
	}
	if c := Cosine(a, b); math.Abs(c-24.0/25) > 1e-12 {
		t.Errorf("Cosine = %v, want 0.96", c)
	}
	if c := Cosine(a, []float32{-6, -8}); math.Abs(c+1) > 1e-12 {
		t.Errorf("Cosine of opposite vectors = %v, want -1", c)
	}
	if c := Cosine(a, []float32{0, 0}); c != 0 {
		t.Errorf("Cosine with a zero vector = %v, want 0", c)
	}
}
