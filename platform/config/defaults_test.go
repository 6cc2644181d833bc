package config

import (
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{0, time.Minute},
		{-time.Second, time.Minute},
		{time.Nanosecond, time.Nanosecond},
		{2 * time.Hour, 2 * time.Hour},
	} {
		v := tc.in
		Default(&v, time.Minute)
		if v != tc.want {
			t.Errorf("Default(%v, 1m) = %v, want %v", tc.in, v, tc.want)
		}
	}
	n, f := -3, 0.0
	Default(&n, 10)
	Default(&f, 0.5)
	if n != 10 || f != 0.5 {
		t.Errorf("int %d, float %g: want 10, 0.5", n, f)
	}
}
