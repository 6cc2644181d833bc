package retrieval

import (
	"context"
	"errors"
	"sync"
)

// errDeleted is the cause an ingestion is cancelled with when its document
// (or collection) is deleted.
var errDeleted = errors.New("the document was deleted")

// runs are the ingestions in progress in this engine, by document, so that
// deleting a document (here, or on another replica: the store's change
// feed) cancels its ingestion instead of letting it finish for nothing.
type runs struct {
	mu sync.Mutex
	m  map[docKey]context.CancelCauseFunc
}

// start registers k's ingestion; the returned context is cancelled with
// errDeleted by deleted, and done unregisters it.
func (r *runs) start(ctx context.Context, k docKey) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	r.mu.Lock()
	if r.m == nil {
		r.m = map[docKey]context.CancelCauseFunc{}
	}
	r.m[k] = cancel
	r.mu.Unlock()
	return ctx, func() {
		r.mu.Lock()
		delete(r.m, k)
		r.mu.Unlock()
		cancel(nil)
	}
}

// deleted cancels the ingestion of document id of coll (every document of
// coll when id is ""), if one runs here.
func (r *runs) deleted(coll, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, cancel := range r.m {
		if k.coll == coll && (id == "" || k.id == id) {
			cancel(errDeleted)
		}
	}
}

// gone ends the watches of k, a document just deleted: each watcher reads
// the store again and gets NotFound. Unlike a terminal event it counts no
// ingestion outcome.
func (h *hub) gone(k docKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.goneLocked(k)
}

// goneCollection ends the watches of every document of coll, a collection
// just deleted, as gone does for one document.
func (h *hub) goneCollection(coll string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.watch {
		if k.coll == coll {
			h.goneLocked(k)
		}
	}
	for k := range h.last {
		if k.coll == coll {
			delete(h.last, k)
		}
	}
}

func (h *hub) goneLocked(k docKey) {
	for ch := range h.watch[k] {
		close(ch)
	}
	delete(h.watch, k)
	delete(h.last, k)
}
