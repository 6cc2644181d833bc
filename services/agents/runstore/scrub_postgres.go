package runstore

import (
	"context"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/platform/pg"
)

// putCitedPG indexes the documents run quotes, in the transaction that
// writes it.
func putCitedPG(ctx context.Context, tx pgx.Tx, run *agentsv1.Run) error {
	for _, c := range cited(run) {
		if _, err := tx.Exec(ctx, `INSERT INTO run_documents (tenant, collection, document_id, run_id) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, c.Tenant, c.Collection, c.Document, run.GetId()); err != nil {
			return err
		}
	}
	return nil
}

// indexCited adds the runs written before the index existed to it, a page
// at a time.
func (s *Postgres) indexCited(ctx context.Context) error {
	for {
		n := 0
		err := s.db.Tx(ctx, pgx.ReadCommitted, func(ctx context.Context, tx pgx.Tx) error {
			n = 0
			runs, err := lockRuns(ctx, tx, `SELECT id, run FROM runs WHERE NOT cited LIMIT 100 FOR UPDATE SKIP LOCKED`)
			if err != nil {
				return err
			}
			for _, l := range runs {
				l.run.Id = l.id
				if err := putCitedPG(ctx, tx, l.run); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `UPDATE runs SET cited = true WHERE id = $1`, l.id); err != nil {
					return err
				}
			}
			n = len(runs)
			return nil
		})
		if err != nil || n == 0 {
			return err
		}
	}
}

// Cited implements Scrubber.
func (s *Postgres) Cited(ctx context.Context) ([]Cited, error) {
	var out []Cited
	err := s.db.Do(ctx, func(ctx context.Context) error {
		out = out[:0]
		rows, err := s.db.Pool.Query(ctx, `SELECT DISTINCT tenant, collection, document_id FROM run_documents`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c Cited
			if err := rows.Scan(&c.Tenant, &c.Collection, &c.Document); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// Scrub implements Scrubber: the runs are rewritten in one transaction
// (the old row versions are PostgreSQL's to vacuum).
func (s *Postgres) Scrub(ctx context.Context, c Cited) (int, error) {
	n := 0
	err := s.db.Tx(ctx, pgx.ReadCommitted, func(ctx context.Context, tx pgx.Tx) error {
		n = 0
		runs, err := lockRuns(ctx, tx, `SELECT r.id, r.run FROM runs r JOIN run_documents d ON d.run_id = r.id
			WHERE d.tenant = $1 AND d.collection = $2 AND d.document_id = $3 AND r.status <> $4 FOR UPDATE OF r`,
			c.Tenant, c.Collection, c.Document, int32(agentsv1.RunStatus_RUN_STATUS_RUNNING))
		if err != nil {
			return err
		}
		ids := make([]string, len(runs))
		for i, l := range runs {
			ids[i] = l.id
			if !scrubRun(l.run, c.Document) {
				continue
			}
			b, err := proto.Marshal(l.run)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE runs SET run = $2, update_time = now() WHERE id = $1`, l.id, b); err != nil {
				return err
			}
			n++
		}
		if _, err := tx.Exec(ctx, `DELETE FROM run_documents WHERE tenant = $1 AND collection = $2 AND document_id = $3 AND run_id = ANY($4)`,
			c.Tenant, c.Collection, c.Document, ids); err != nil {
			return err
		}
		return nil
	})
	return n, err
}

// lockedRun is a run its transaction has selected FOR UPDATE, with its row's
// id.
type lockedRun struct {
	id  string
	run *agentsv1.Run
}

// lockRuns reads the (id, run) rows that query selects in tx, all of them
// before the caller rewrites and updates any (a pgx connection cannot write
// while it reads a result): the one read of every pass that rewrites runs
// under their row locks (Sweep, Scrub, indexCited).
func lockRuns(ctx context.Context, tx pgx.Tx, query string, args ...any) ([]lockedRun, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (lockedRun, error) {
		l := lockedRun{run: &agentsv1.Run{}}
		return l, row.Scan(&l.id, pg.Proto(l.run))
	})
}
