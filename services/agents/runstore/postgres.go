package runstore

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/platform/pg"
)

// ErrUnavailable: the shared store cannot be reached (codes.Unavailable).
var ErrUnavailable = pg.ErrUnavailable

//go:embed migrations/*.sql
var migrations embed.FS

// Postgres is the run store every agents replica shares (schema "agents"),
// so GetRun answers through any replica. A replica heartbeats its row in
// replicas while it runs; a RUNNING run whose owning replica stopped
// beating is marked INTERRUPTED by whichever replica sweeps next (what
// the file store does at start for its own process).
type Postgres struct {
	db     *pg.DB
	id     string
	log    *slog.Logger
	beat   time.Duration
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// PostgresOptions tune OpenPostgres (zero values: the defaults noted).
type PostgresOptions struct {
	// Beat is how often the replica renews its liveness (default 5s); it
	// counts as dead 4 beats after its last.
	Beat time.Duration
	// CallTimeout bounds each call (default 10s).
	CallTimeout time.Duration
	MaxConns    int32
	Log         *slog.Logger
}

// OpenPostgres connects to url, migrates schema agents and starts the
// replica's heartbeat and the sweep of dead replicas' runs.
func OpenPostgres(ctx context.Context, url string, o PostgresOptions) (*Postgres, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Beat <= 0 {
		o.Beat = 5 * time.Second
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 10 * time.Second
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 8
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	db, err := pg.Open(ctx, pg.Options{URL: url, Schema: "agents", Migrations: sub, MaxConns: o.MaxConns,
		StatementTimeout: o.CallTimeout, CallTimeout: o.CallTimeout, Log: o.Log})
	if err != nil {
		return nil, err
	}
	s := &Postgres{db: db, id: rand.Text(), log: o.Log, beat: o.Beat}
	if err := s.heartbeat(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if _, err := s.Sweep(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.indexCited(ctx); err != nil {
		db.Close()
		return nil, err
	}
	bctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Go(func() { s.loop(bctx) })
	return s, nil
}

// Replica is this store's replica id (the owner of the runs it starts).
func (s *Postgres) Replica() string { return s.id }

// Close stops the heartbeat, gives up the replica's liveness (so its
// unfinished runs are swept at once) and closes the pool.
func (s *Postgres) Close() error {
	s.cancel()
	s.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = s.db.Do(ctx, func(ctx context.Context) error {
		_, err := s.db.Pool.Exec(ctx, `DELETE FROM replicas WHERE id = $1`, s.id)
		return err
	})
	s.db.Close()
	return nil
}

func (s *Postgres) loop(ctx context.Context) {
	t := time.NewTicker(s.beat)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.heartbeat(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("runstore heartbeat", "err", err)
		}
		if n%3 == 2 {
			if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("runstore sweep", "err", err)
			}
		}
	}
}

func (s *Postgres) heartbeat(ctx context.Context) error {
	return s.db.Do(ctx, func(ctx context.Context) error {
		_, err := s.db.Pool.Exec(ctx, `INSERT INTO replicas (id, beat_until) VALUES ($1, now() + $2 * interval '1 millisecond')
			ON CONFLICT (id) DO UPDATE SET beat_until = excluded.beat_until`, s.id, (4 * s.beat).Milliseconds())
		return err
	})
}

// Sweep marks INTERRUPTED the RUNNING runs whose replica is not live, and
// forgets replicas long dead. It returns how many runs it marked.
func (s *Postgres) Sweep(ctx context.Context) (int, error) {
	n := 0
	err := s.db.Tx(ctx, pgx.ReadCommitted, func(ctx context.Context, tx pgx.Tx) error {
		n = 0
		runs, err := lockRuns(ctx, tx, `SELECT id, run FROM runs WHERE status = $1 AND NOT EXISTS
			(SELECT 1 FROM replicas r WHERE r.id = runs.owner AND r.beat_until > now()) FOR UPDATE SKIP LOCKED`,
			int32(agentsv1.RunStatus_RUN_STATUS_RUNNING))
		if err != nil {
			return err
		}
		for _, l := range runs {
			b, err := interrupt(l.run)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE runs SET status = $2, run = $3, update_time = now() WHERE id = $1`,
				l.id, int32(agentsv1.RunStatus_RUN_STATUS_INTERRUPTED), b); err != nil {
				return err
			}
		}
		n = len(runs)
		_, err = tx.Exec(ctx, `DELETE FROM replicas WHERE beat_until < now() - interval '1 hour'`)
		return err
	})
	return n, err
}

// Put implements Runs; the run's owner becomes this replica.
func (s *Postgres) Put(run *agentsv1.Run) error {
	b, err := proto.Marshal(run)
	if err != nil {
		return err
	}
	return s.db.Tx(context.Background(), pgx.ReadCommitted, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO runs (id, tenant, status, owner, run, cited) VALUES ($1, $2, $3, $4, $5, true)
			ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, status = excluded.status, owner = excluded.owner,
				run = excluded.run, cited = true, update_time = now()`,
			run.GetId(), run.GetTenant(), int32(run.GetStatus()), s.id, b)
		if err != nil {
			return err
		}
		return putCitedPG(ctx, tx, run)
	})
}

// Get implements Runs.
func (s *Postgres) Get(id string) (*agentsv1.Run, error) {
	run := &agentsv1.Run{}
	err := s.db.Do(context.Background(), func(ctx context.Context) error {
		return s.db.Pool.QueryRow(ctx, `SELECT run FROM runs WHERE id = $1`, id).Scan(pg.Proto(run))
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return run, nil
}

// List implements Runs: newest first (ids are time-ordered), read in pages
// until limit runs pass keep.
func (s *Postgres) List(limit int, keep func(*agentsv1.Run) bool) ([]*agentsv1.Run, error) {
	var out []*agentsv1.Run
	after := "\U0010FFFF"
	page := max(limit, 64)
	for len(out) < limit {
		var got int
		err := s.db.Do(context.Background(), func(ctx context.Context) error {
			rows, err := s.db.Pool.Query(ctx, `SELECT id, run FROM runs WHERE id < $1 ORDER BY id DESC LIMIT $2`, after, page)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				r := &agentsv1.Run{}
				if err := rows.Scan(&after, pg.Proto(r)); err != nil {
					return err
				}
				got++
				if len(out) >= limit || (keep != nil && !keep(r)) {
					continue
				}
				r.SubAnswers, r.Passages, r.Scratchpad = nil, nil, ""
				out = append(out, r)
			}
			return rows.Err()
		})
		if err != nil {
			return nil, err
		}
		if got < page {
			break
		}
	}
	return out, nil
}
