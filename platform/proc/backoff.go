package proc

import (
	"context"
	"time"
)

// Backoff paces restarts of a child: exponential from Min to Max, back to
// Min once a child has run for StableAfter. The zero value is not usable;
// set Min and Max.
type Backoff struct {
	Min, Max time.Duration
	// StableAfter is the uptime after which a child counts as healthy
	// again and the delay resets (0: never resets).
	StableAfter time.Duration

	cur time.Duration
}

// Next returns the delay before the next restart and doubles the one after
// it (capped at Max). uptime is how long the child that ended had run
// (0 for a failed start).
func (b *Backoff) Next(uptime time.Duration) time.Duration {
	if b.cur == 0 || (b.StableAfter > 0 && uptime > b.StableAfter) {
		b.cur = b.Min
	}
	d := b.cur
	b.cur = min(2*b.cur, b.Max)
	return d
}

// Sleep waits d or until ctx ends; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
