package runstore

import (
	"context"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
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
			rows, err := tx.Query(ctx, `SELECT id, run FROM runs WHERE NOT cited LIMIT 100 FOR UPDATE SKIP LOCKED`)
			if err != nil {
				return err
			}
			var runs []*agentsv1.Run
			for rows.Next() {
				var id string
				var b []byte
				if err := rows.Scan(&id, &b); err != nil {
					rows.Close()
					return err
				}
				r := &agentsv1.Run{}
				if err := proto.Unmarshal(b, r); err != nil {
					rows.Close()
					return err
				}
				r.Id = id
				runs = append(runs, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, r := range runs {
				if err := putCitedPG(ctx, tx, r); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `UPDATE runs SET cited = true WHERE id = $1`, r.GetId()); err != nil {
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
		rows, err := tx.Query(ctx, `SELECT r.id, r.run FROM runs r JOIN run_documents d ON d.run_id = r.id
			WHERE d.tenant = $1 AND d.collection = $2 AND d.document_id = $3 AND r.status <> $4 FOR UPDATE OF r`,
			c.Tenant, c.Collection, c.Document, int32(agentsv1.RunStatus_RUN_STATUS_RUNNING))
		if err != nil {
			return err
		}
		type fix struct {
			id string
			b  []byte
		}
		var ids []string
		var fixes []fix
		for rows.Next() {
			var id string
			var b []byte
			if err := rows.Scan(&id, &b); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
			r := &agentsv1.Run{}
			if err := proto.Unmarshal(b, r); err != nil {
				rows.Close()
				return err
			}
			if !scrubRun(r, c.Document) {
				continue
			}
			nb, err := proto.Marshal(r)
			if err != nil {
				rows.Close()
				return err
			}
			fixes = append(fixes, fix{id, nb})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, f := range fixes {
			if _, err := tx.Exec(ctx, `UPDATE runs SET run = $2, update_time = now() WHERE id = $1`, f.id, f.b); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM run_documents WHERE tenant = $1 AND collection = $2 AND document_id = $3 AND run_id = ANY($4)`,
			c.Tenant, c.Collection, c.Document, ids); err != nil {
			return err
		}
		n = len(fixes)
		return nil
	})
	return n, err
}
