package runstore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

// Purger is a run store that can forget old runs (run retention).
type Purger interface {
	// Purge deletes the runs started before before, except those still
	// RUNNING, and returns how many it deleted. A run's start is the time
	// in its id (NewID); runs whose ids are not NewID's are kept.
	Purge(ctx context.Context, before time.Time) (int, error)
}

var (
	_ Purger = (*Store)(nil)
	_ Purger = (*Postgres)(nil)
)

// idBefore is the smallest NewID of time t: every id of a run started
// before t sorts below it.
func idBefore(t time.Time) string { return fmt.Sprintf("r%013d", t.UnixMilli()) }

// isNewID reports whether id has NewID's shape (r, 13 digits, 8 hex).
func isNewID(id string) bool {
	if len(id) != 22 || id[0] != 'r' {
		return false
	}
	for _, c := range id[1:14] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Purge implements Purger.
func (s *Store) Purge(ctx context.Context, before time.Time) (int, error) {
	cut := []byte(idBefore(before))
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		if bk == nil {
			return nil
		}
		var old, refs [][]byte
		c := bk.Cursor()
		for k, v := c.First(); k != nil && string(k) < string(cut); k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !isNewID(string(k)) {
				continue
			}
			r := &agentsv1.Run{}
			err := proto.Unmarshal(v, r)
			if err == nil && r.GetStatus() == agentsv1.RunStatus_RUN_STATUS_RUNNING {
				continue
			}
			old = append(old, append([]byte(nil), k...))
			if err == nil {
				for _, c := range cited(r) {
					refs = append(refs, citedKey(c, string(k)))
				}
			}
		}
		for _, k := range old {
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
		if cb := tx.Bucket(citedBucket); cb != nil {
			for _, k := range refs {
				if err := cb.Delete(k); err != nil {
					return err
				}
			}
		}
		n = len(old)
		return nil
	})
	return n, err
}

// Purge implements Purger.
func (s *Postgres) Purge(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.db.Do(ctx, func(ctx context.Context) error {
		tag, err := s.db.Pool.Exec(ctx, `DELETE FROM runs WHERE id < $1 AND id ~ '^r[0-9]{13}[0-9a-f]{8}$' AND status <> $2`,
			idBefore(before), int32(agentsv1.RunStatus_RUN_STATUS_RUNNING))
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}

// Retain purges runs older than keep from runs (when it is a Purger) now
// and then every interval (default: keep/24, between a minute and an
// hour) until ctx ends. keep <= 0 keeps runs forever.
func Retain(ctx context.Context, runs Runs, keep, interval time.Duration, log *slog.Logger) {
	p, ok := runs.(Purger)
	if keep <= 0 || !ok {
		return
	}
	if interval <= 0 {
		interval = min(max(keep/24, time.Minute), time.Hour)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := p.Purge(ctx, time.Now().Add(-keep))
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("run retention: purge failed", "err", err)
		case n > 0:
			log.Info("run retention: purged old runs", "runs", n, "older_than", keep.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
