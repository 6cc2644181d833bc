package retrieval

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pdfqa/pdfqa/services/retrieval/store"
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
	// shared: jobs are claimed from the store (runShared); push only wakes
	// a worker.
	shared bool
}

func newJobQueue() *jobQueue {
	return &jobQueue{queued: map[docKey]bool{}, wake: make(chan struct{}, 1)}
}

// push queues k unless it is queued already.
func (q *jobQueue) push(k docKey) {
	if q.shared {
		q.signal()
		return
	}
	q.mu.Lock()
	if !q.queued[k] {
		q.queued[k] = true
		q.keys = append(q.keys, k)
	}
	q.mu.Unlock()
	q.signal()
}

// depth is the documents waiting or being ingested here.
func (q *jobQueue) depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.keys) + q.active
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

// runShared claims jobs from the shared store until ctx ends, calling fn
// for each while renewing its lease (a third of lease apart), and after
// after each one. An interrupted job is released for another replica; with
// no job to claim it waits for a wake-up or polls every second.
func (q *jobQueue) runShared(ctx context.Context, st store.Queue, owner string, lease time.Duration, log *slog.Logger, fn func(docKey), after func()) {
	for ctx.Err() == nil {
		coll, id, ok, err := st.Claim(ctx, owner, lease)
		if err != nil && ctx.Err() == nil {
			log.Warn("cannot claim an ingestion job", "err", err)
		}
		if !ok {
			select {
			case <-ctx.Done():
			case <-q.wake:
			case <-time.After(time.Second):
			}
			continue
		}
		q.signal() // another worker may find another job
		k := docKey{coll, id}
		q.mu.Lock()
		q.active++
		q.mu.Unlock()
		jctx, stop := context.WithCancel(ctx)
		renewed := make(chan struct{})
		go func() {
			defer close(renewed)
			t := time.NewTicker(lease / 3)
			defer t.Stop()
			for {
				select {
				case <-jctx.Done():
					return
				case <-t.C:
					if held, err := st.Renew(jctx, coll, id, owner, lease); err == nil && !held {
						log.Warn("lost the lease of an ingestion job (another replica took it over)", "collection", coll, "document", id)
					}
				}
			}
		}()
		fn(k)
		stop()
		<-renewed
		if ctx.Err() != nil {
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = st.Release(rctx, coll, id, owner)
			cancel()
		}
		q.mu.Lock()
		q.active--
		q.mu.Unlock()
		after()
	}
}
