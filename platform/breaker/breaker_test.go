package breaker

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A callee's refusals for load or quota (ResourceExhausted) and answers
// about the request never open the breaker; failures of the callee do.
func TestWhatOpensTheBreaker(t *testing.T) {
	b := New("x", Settings{ConsecutiveFailures: 3}, StateGauge())
	for _, c := range []codes.Code{codes.ResourceExhausted, codes.InvalidArgument, codes.NotFound, codes.PermissionDenied, codes.Canceled} {
		for range 10 {
			_ = b.Do(func() error { return status.Error(c, "no") })
		}
		if b.State() != "closed" {
			t.Fatalf("10 x %v opened the breaker", c)
		}
	}
	for _, c := range []codes.Code{codes.Unavailable, codes.DeadlineExceeded, codes.Internal} {
		b := New("y", Settings{ConsecutiveFailures: 3}, nil)
		for range 3 {
			_ = b.Do(func() error { return status.Error(c, "down") })
		}
		if b.State() != "open" {
			t.Errorf("3 x %v left the breaker %s", c, b.State())
		}
		if err := b.Do(func() error { return nil }); !errors.Is(err, ErrOpen) {
			t.Errorf("open breaker let a call through: %v", err)
		}
	}
}
