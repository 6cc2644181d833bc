package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

var _ Leaser = (*Postgres)(nil)

// Acquire implements Leaser with one upsert: the row is taken when it is
// missing, expired or already owner's (a renewal), on the server's clock.
func (s *Postgres) Acquire(ctx context.Context, key, owner string, lease time.Duration) (held bool, err error) {
	if lease <= 0 {
		return false, errors.New("store: a lease must be positive")
	}
	err = s.db.Do(ctx, func(ctx context.Context) error {
		var got string
		err := s.db.Pool.QueryRow(ctx, `INSERT INTO leases (key, owner, until) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
			ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, until = excluded.until
				WHERE leases.owner = excluded.owner OR leases.until < now()
			RETURNING owner`, key, owner, lease.Milliseconds()).Scan(&got)
		if errors.Is(err, pgx.ErrNoRows) {
			held = false
			return nil
		}
		held = err == nil && got == owner
		return err
	})
	return held, err
}

// ReleaseLease implements Leaser.
func (s *Postgres) ReleaseLease(ctx context.Context, key, owner string) error {
	return s.db.Do(ctx, func(ctx context.Context) error {
		_, err := s.db.Pool.Exec(ctx, `DELETE FROM leases WHERE key = $1 AND owner = $2`, key, owner)
		return err
	})
}
