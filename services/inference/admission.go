package inference

import (
	"context"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// admission bounds concurrent engine work and the queue in front of it, so a
// burst turns into fast ResourceExhausted errors instead of unbounded latency.
type admission struct {
	slots    chan struct{}
	maxQueue int64
	queued   atomic.Int64
	depth    prometheus.Gauge
}

func newAdmission(concurrency, queue int, depth prometheus.Gauge) *admission {
	if concurrency <= 0 {
		concurrency = 4
	}
	if queue < 0 {
		queue = 0
	}
	return &admission{slots: make(chan struct{}, concurrency), maxQueue: int64(queue), depth: depth}
}

// acquire waits for a slot; it fails fast when the queue is full and honours ctx.
func (a *admission) acquire(ctx context.Context) (func(), error) {
	select {
	case a.slots <- struct{}{}:
		return a.release, nil
	default:
	}
	if a.queued.Add(1) > a.maxQueue {
		a.queued.Add(-1)
		return nil, ErrOverloaded
	}
	a.depth.Inc()
	defer func() { a.queued.Add(-1); a.depth.Dec() }()
	select {
	case a.slots <- struct{}{}:
		return a.release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (a *admission) release() { <-a.slots }
