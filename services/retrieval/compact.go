package retrieval

import (
	"time"

	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// defaultCompactEvery is the least time between two compactions of the
// embedded store's file after deletions.
const defaultCompactEvery = time.Minute

// compactSoon asks the compactor to rewrite the embedded store's file once
// the deletion just committed: bbolt keeps a deleted document's chunk text
// in its freed pages until then. It never waits.
func (e *Engine) compactSoon() {
	if e.compactWake == nil {
		return
	}
	select {
	case e.compactWake <- struct{}{}:
	default: // one is already pending
	}
}

// compactor compacts the store after deletions, at most once per
// Config.CompactEvery: a deletion waits at most that long (and one
// compaction) before its text is gone from the file. Searches go on during
// a compaction; writes (ingestion commits, deletions) wait for it.
func (e *Engine) compactor(c store.Compacter) {
	defer e.wg.Done()
	var last time.Time
	for {
		select {
		case <-e.ctx.Done():
			// Closing with a deletion pending: compact now rather than
			// leave its text behind.
			select {
			case <-e.compactWake:
				e.compact(c)
			default:
			}
			return
		case <-e.compactWake:
		}
		if wait := time.Until(last.Add(e.cfg.CompactEvery)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-e.ctx.Done(): // closing: compact now
			case <-t.C:
			}
			t.Stop()
		}
		e.compact(c)
		last = time.Now()
		if e.ctx.Err() != nil {
			return
		}
	}
}

func (e *Engine) compact(c store.Compacter) {
	start := time.Now()
	if err := c.Compact(); err != nil {
		e.log.Error("cannot compact the store after a deletion: the deleted text stays in its free pages until the next compaction", "err", err)
		return
	}
	e.log.Info("store compacted after a deletion", "took", time.Since(start).Round(time.Millisecond))
}
