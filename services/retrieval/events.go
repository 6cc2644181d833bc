package retrieval

import (
	"context"
	"fmt"
	"sync"
	"time"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// Stage aliases keep the engine's code short.
const (
	StageStore = retrievalv1.IngestionStage_INGESTION_STAGE_STORE
	StageParse = retrievalv1.IngestionStage_INGESTION_STAGE_PARSE
	StageOCR   = retrievalv1.IngestionStage_INGESTION_STAGE_OCR
	StageChunk = retrievalv1.IngestionStage_INGESTION_STAGE_CHUNK
	StageEmbed = retrievalv1.IngestionStage_INGESTION_STAGE_EMBED
	StageIndex = retrievalv1.IngestionStage_INGESTION_STAGE_INDEX
	StageDone  = retrievalv1.IngestionStage_INGESTION_STAGE_DONE
)

// Event is one ingestion progress event.
type Event struct {
	DocID   string
	Stage   retrievalv1.IngestionStage
	State   string
	Done    int
	Total   int
	Message string
	Time    time.Time
}

// Terminal reports whether the event ends the ingestion.
func (ev Event) Terminal() bool { return ev.State == store.StateReady || ev.State == store.StateFailed }

// hub fans progress events out to watchers. A watcher joining late gets the
// latest event first; channels close after the terminal event.
type hub struct {
	mu    sync.Mutex
	last  map[docKey]Event
	watch map[docKey]map[chan Event]struct{}
	// observe sees every event (metrics); set by setObserver.
	observe func(docKey, Event)
}

func newHub() *hub {
	return &hub{last: map[docKey]Event{}, watch: map[docKey]map[chan Event]struct{}{}}
}

func (h *hub) publish(k docKey, ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last[k] = ev
	if h.observe != nil {
		h.observe(k, ev)
	}
	for ch := range h.watch[k] {
		select {
		case ch <- ev:
		default: // a slow watcher skips intermediate progress; it still gets the end
		}
		if ev.Terminal() {
			close(ch)
		}
	}
	if ev.Terminal() {
		delete(h.watch, k)
		delete(h.last, k)
	}
}

func (h *hub) setObserver(f func(docKey, Event)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.observe = f
}

func (h *hub) subscribe(k docKey) (chan Event, Event, bool, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan Event, 256)
	if h.watch[k] == nil {
		h.watch[k] = map[chan Event]struct{}{}
	}
	h.watch[k][ch] = struct{}{}
	last, ok := h.last[k]
	return ch, last, ok, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, open := h.watch[k][ch]; open {
			delete(h.watch[k], ch)
			if len(h.watch[k]) == 0 {
				delete(h.watch, k)
			}
		}
	}
}

// progress publishes d's progress in a stage.
func (h *hub) progress(d store.Document, stage retrievalv1.IngestionStage, done, total int, msg string) {
	h.publish(docKey{d.Collection, d.ID}, Event{DocID: d.ID, Stage: stage, State: d.State, Done: done, Total: total, Message: msg, Time: time.Now().UTC()})
}

// Watch streams a document's events to fn until READY/FAILED or ctx ends.
// The first event is the current state.
func (e *Engine) Watch(ctx context.Context, coll, id string, fn func(Event) error) error {
	k := docKey{coll, id}
	ch, last, ok, stop := e.hub.subscribe(k)
	defer stop()
	d, err := e.st.GetDocument(ctx, coll, id)
	if err != nil {
		return err
	}
	final := func(d store.Document) Event {
		msg := fmt.Sprintf("%d chunks from %d pages", d.Chunks, d.Pages)
		if d.State == store.StateFailed {
			msg = d.Error
		}
		return Event{DocID: id, Stage: StageDone, State: d.State, Done: 1, Total: 1, Message: msg, Time: d.UpdateTime}
	}
	if d.State == store.StateReady || d.State == store.StateFailed {
		return fn(final(d))
	}
	if !ok {
		last = Event{DocID: id, Stage: StageStore, State: d.State, Done: 1, Total: 1, Message: "queued", Time: d.UpdateTime}
	}
	if err := fn(last); err != nil {
		return err
	}
	// Another replica on the shared store may be the one ingesting it: its
	// progress never reaches this hub, so the store is read every second
	// for the outcome.
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-poll.C:
			d, err := e.st.GetDocument(ctx, coll, id)
			if err != nil {
				return err
			}
			if d.State == store.StateReady || d.State == store.StateFailed {
				return fn(final(d))
			}
		case ev, open := <-ch:
			if !open {
				// The terminal event may have been dropped for a slow
				// watcher: the store has the outcome.
				d, err := e.st.GetDocument(ctx, coll, id)
				if err != nil {
					return err
				}
				return fn(final(d))
			}
			if ev.Terminal() {
				continue // wait for close, then send the stored outcome once
			}
			if err := fn(ev); err != nil {
				return err
			}
		}
	}
}
