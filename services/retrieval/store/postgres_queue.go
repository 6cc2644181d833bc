package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	_ Queue   = (*Postgres)(nil)
	_ Watcher = (*Postgres)(nil)
)

// Claim implements Queue: the oldest job whose lease is free or expired,
// locked with SKIP LOCKED so that replicas claiming at once take different
// jobs.
func (s *Postgres) Claim(ctx context.Context, owner string, lease time.Duration) (coll, id string, ok bool, err error) {
	err = s.db.Do(ctx, func(ctx context.Context) error {
		err := s.db.Pool.QueryRow(ctx, `UPDATE jobs SET owner = $1, lease_until = now() + $2 * interval '1 millisecond'
			WHERE (coll, id) = (SELECT coll, id FROM jobs WHERE lease_until IS NULL OR lease_until < now()
				ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
			RETURNING coll, id`, owner, lease.Milliseconds()).Scan(&coll, &id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		ok = err == nil
		return err
	})
	return coll, id, ok, err
}

// Renew implements Queue.
func (s *Postgres) Renew(ctx context.Context, coll, id, owner string, lease time.Duration) (held bool, err error) {
	err = s.db.Do(ctx, func(ctx context.Context) error {
		tag, err := s.db.Pool.Exec(ctx, `UPDATE jobs SET lease_until = now() + $4 * interval '1 millisecond'
			WHERE coll = $1 AND id = $2 AND owner = $3`, coll, id, owner, lease.Milliseconds())
		held = err == nil && tag.RowsAffected() == 1
		return err
	})
	return held, err
}

// Release implements Queue.
func (s *Postgres) Release(ctx context.Context, coll, id, owner string) error {
	return s.db.Do(ctx, func(ctx context.Context) error {
		_, err := s.db.Pool.Exec(ctx, `UPDATE jobs SET owner = NULL, lease_until = NULL WHERE coll = $1 AND id = $2 AND owner = $3`, coll, id, owner)
		return err
	})
}

// Watch implements Watcher over LISTEN retrieval_changes on a connection
// of its own, reconnecting (with a zero Change) after losing it.
func (s *Postgres) Watch(ctx context.Context, fn func(Change)) error {
	lost := false
	for ctx.Err() == nil {
		err := s.listen(ctx, func() {
			if lost {
				fn(Change{})
				lost = false
			}
		}, fn)
		if ctx.Err() != nil {
			break
		}
		lost = true
		s.log.Warn("retrieval change feed lost; reconnecting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return ctx.Err()
}

func (s *Postgres) listen(ctx context.Context, connected func(), fn func(Change)) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := s.db.Pool.Acquire(cctx)
	if err == nil {
		_, err = conn.Exec(cctx, "LISTEN retrieval_changes")
	}
	cancel()
	if err != nil {
		if conn != nil {
			conn.Release()
		}
		return err
	}
	// The connection is LISTENing: it never goes back to the pool.
	c := conn.Hijack()
	defer c.Close(context.Background())
	connected()
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var c struct{ Origin, Coll, Doc, What string }
		if json.Unmarshal([]byte(n.Payload), &c) != nil || c.Origin == s.origin {
			continue
		}
		fn(Change{Coll: c.Coll, Doc: c.Doc, What: c.What})
	}
}
