package retrieval

import (
	"context"
	"sync"
)

type docKey struct{ coll, id string }

// jobQueue is the in-memory queue of documents to ingest (the durable jobs
// are the store's PENDING and PROCESSING documents, re-queued at Open). A
// document is queued at most once; active counts the ingestions running.
type jobQueue struct {
	mu     sync.Mutex
	keys   []docKey
	queued map[docKey]bool
	active int
	wake   chan struct{}
}

func newJobQueue() *jobQueue {
	return &jobQueue{queued: map[docKey]bool{}, wake: make(chan struct{}, 1)}
}

// push queues k unless it is queued already.
func (q *jobQueue) push(k docKey) {
	q.mu.Lock()
	if !q.queued[k] {
		q.queued[k] = true
		q.keys = append(q.keys, k)
	}
	q.mu.Unlock()
	q.signal()
}

func (q *jobQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop waits for the next document; false once ctx ends.
func (q *jobQueue) pop(ctx context.Context) (docKey, bool) {
	for {
		q.mu.Lock()
		if len(q.keys) > 0 {
			k := q.keys[0]
			q.keys = q.keys[1:]
			delete(q.queued, k)
			more := len(q.keys) > 0
			q.mu.Unlock()
			if more {
				q.signal()
			}
			return k, true
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return docKey{}, false
		case <-q.wake:
		}
	}
}

// run calls fn for each queued document until ctx ends, counting it active
// meanwhile, and after after each one.
func (q *jobQueue) run(ctx context.Context, fn func(docKey), after func()) {
	for {
		k, ok := q.pop(ctx)
		if !ok {
			return
		}
		q.mu.Lock()
		q.active++
		q.mu.Unlock()
		fn(k)
		q.mu.Lock()
		q.active--
		q.mu.Unlock()
		after()
	}
}

// busy reports whether ingestion is queued or running.
func (q *jobQueue) busy() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.keys) > 0 || q.active > 0
}
