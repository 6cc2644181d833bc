package store

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	pgxvec "github.com/pgvector/pgvector-go/pgx"

	"github.com/pdfqa/pdfqa/platform/pg"
)

// ErrUnavailable: the server-backed store cannot be reached (mapped to
// codes.Unavailable).
var ErrUnavailable = pg.ErrUnavailable

//go:embed migrations/*.sql
var migrations embed.FS

// Postgres is the server-backed Store (schema "retrieval"): the same
// transactions as Bolt, shared by every replica. Calls have the pool's call
// timeout as their deadline and go through its breaker. Committed changes
// are announced on the channel retrieval_changes (Changes).
type Postgres struct {
	db  *pg.DB
	url string
	log *slog.Logger
	// origin names this instance in its change notifications.
	origin string
}

var _ Store = (*Postgres)(nil)

// PostgresOptions tune OpenPostgres (zero: pg's defaults).
type PostgresOptions struct {
	MaxConns         int32
	StatementTimeout time.Duration
	CallTimeout      time.Duration
	Log              *slog.Logger
}

// OpenPostgres connects to url and migrates the retrieval schema.
func OpenPostgres(ctx context.Context, url string, o PostgresOptions) (*Postgres, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	db, err := pg.Open(ctx, pg.Options{
		URL: url, Schema: "retrieval", Migrations: sub, MaxConns: o.MaxConns,
		StatementTimeout: o.StatementTimeout, CallTimeout: o.CallTimeout, Log: o.Log,
		AfterConnect: pgxvec.RegisterTypes,
	})
	if err != nil {
		return nil, err
	}
	return &Postgres{db: db, url: url, log: o.Log, origin: rand.Text()}, nil
}

// Close implements Store.
func (s *Postgres) Close() error { s.db.Close(); return nil }

// DB is the store's pool (for tests and the job queue).
func (s *Postgres) DB() *pg.DB { return s.db }

// tx runs fn in a transaction under ctx's deadline (the pool's call
// timeout when it has none; the statement timeout is the floor).
func (s *Postgres) tx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	return s.db.Tx(context.WithValue(ctx, originKey{}, s.origin), pgx.ReadCommitted, fn)
}

func (s *Postgres) do(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.db.Do(ctx, fn)
}

func collNotFound(name string) error { return fmt.Errorf("collection %q: %w", name, ErrNotFound) }
func docNotFound(coll, id string) error {
	return fmt.Errorf("document %q in collection %q: %w", id, coll, ErrNotFound)
}

// CreateCollection implements Meta.
func (s *Postgres) CreateCollection(ctx context.Context, name string) (c Collection, created bool, err error) {
	err = s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		c, created, err = pgCreateColl(ctx, tx, name)
		return err
	})
	return c, created, err
}

func pgCreateColl(ctx context.Context, tx pgx.Tx, name string) (Collection, bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO collections (name, create_time) VALUES ($1, $2) ON CONFLICT DO NOTHING`, name, time.Now().UTC())
	if err != nil {
		return Collection{}, false, err
	}
	c, err := pgGetColl(ctx, tx, name)
	return c, tag.RowsAffected() == 1, err
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func pgGetColl(ctx context.Context, q querier, name string) (c Collection, err error) {
	err = q.QueryRow(ctx, `SELECT name, create_time, documents, chunks, total_len FROM collections WHERE name = $1`, name).
		Scan(&c.Name, &c.CreateTime, &c.Documents, &c.Chunks, &c.TotalLen)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, collNotFound(name)
	}
	c.CreateTime = c.CreateTime.UTC()
	return c, err
}

// GetCollection implements Meta.
func (s *Postgres) GetCollection(ctx context.Context, name string) (c Collection, err error) {
	err = s.do(ctx, func(ctx context.Context) error {
		c, err = pgGetColl(ctx, s.db.Pool, name)
		return err
	})
	return c, err
}

// ListCollections implements Meta (by name).
func (s *Postgres) ListCollections(ctx context.Context) (out []Collection, err error) {
	err = s.do(ctx, func(ctx context.Context) error {
		rows, err := s.db.Pool.Query(ctx, `SELECT name, create_time, documents, chunks, total_len FROM collections ORDER BY name`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (c Collection, err error) {
			err = r.Scan(&c.Name, &c.CreateTime, &c.Documents, &c.Chunks, &c.TotalLen)
			c.CreateTime = c.CreateTime.UTC()
			return c, err
		})
		return err
	})
	return out, err
}

// pgUnused returns the hashes of shas no document references any more.
func pgUnused(ctx context.Context, tx pgx.Tx, shas []string) ([]string, error) {
	if len(shas) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT DISTINCT s FROM unnest($1::text[]) s
		WHERE NOT EXISTS (SELECT 1 FROM documents WHERE sha256 = s) ORDER BY s`, shas)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// notify announces a change to other replicas when tx commits.
func notify(ctx context.Context, tx pgx.Tx, coll, doc, what string) error {
	origin, _ := ctx.Value(originKey{}).(string)
	_, err := tx.Exec(ctx, `SELECT notify_change($1, $2, $3, $4)`, origin, coll, doc, what)
	return err
}

type originKey struct{}

// DeleteCollection implements Meta.
func (s *Postgres) DeleteCollection(ctx context.Context, name string) (unreferenced []string, err error) {
	err = s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM collections WHERE name = $1 FOR UPDATE`, name).Scan(&one); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return collNotFound(name)
			}
			return err
		}
		rows, err := tx.Query(ctx, `SELECT sha256 FROM documents WHERE coll = $1`, name)
		if err != nil {
			return err
		}
		shas, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, t := range []string{"postings", "term_docs"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE coll = $1`, name); err != nil {
				return err
			}
		}
		// Documents, jobs, chunks and vectors go by cascade.
		if _, err := tx.Exec(ctx, `DELETE FROM collections WHERE name = $1`, name); err != nil {
			return err
		}
		if unreferenced, err = pgUnused(ctx, tx, shas); err != nil {
			return err
		}
		return notify(ctx, tx, name, "", "collection_deleted")
	})
	if err != nil {
		return nil, err
	}
	return unreferenced, nil
}

// AddDocument implements Meta.
func (s *Postgres) AddDocument(ctx context.Context, d Document, password string) (out Document, dup bool, err error) {
	err = s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, _, err := pgCreateColl(ctx, tx, d.Collection); err != nil {
			return err
		}
		var seq int64
		if err := tx.QueryRow(ctx, `SELECT nextval('doc_seq')`).Scan(&seq); err != nil {
			return err
		}
		now := time.Now().UTC()
		d.Seq, d.State, d.CreateTime, d.UpdateTime = uint64(seq), StatePending, now, now
		raw, err := json.Marshal(d)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO documents (coll, id, seq, state, sha256, doc) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT DO NOTHING`, d.Collection, d.ID, seq, d.State, d.SHA256, raw)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			dup = true
			out, err = pgGetDoc(ctx, tx, d.Collection, d.ID, false)
			return err
		}
		out = d
		if _, err := tx.Exec(ctx, `UPDATE collections SET documents = documents + 1 WHERE name = $1`, d.Collection); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO jobs (coll, id, seq, password) VALUES ($1, $2, $3, $4)`, d.Collection, d.ID, seq, password)
		if err != nil {
			return err
		}
		return notify(ctx, tx, d.Collection, d.ID, "job")
	})
	return out, dup, err
}

func pgGetDoc(ctx context.Context, q querier, coll, id string, lock bool) (d Document, err error) {
	sql := `SELECT doc FROM documents WHERE coll = $1 AND id = $2`
	if lock {
		sql += ` FOR UPDATE`
	}
	var raw []byte
	err = q.QueryRow(ctx, sql, coll, id).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, cerr := pgGetColl(ctx, q, coll); errors.Is(cerr, ErrNotFound) {
			return d, cerr
		}
		return d, docNotFound(coll, id)
	}
	if err != nil {
		return d, err
	}
	return d, json.Unmarshal(raw, &d)
}

// pgLockDoc reads a document FOR UPDATE; a missing document or collection
// is the document's NotFound.
func pgLockDoc(ctx context.Context, tx pgx.Tx, coll, id string) (Document, error) {
	d, err := pgGetDoc(ctx, tx, coll, id, true)
	if errors.Is(err, ErrNotFound) {
		return d, docNotFound(coll, id)
	}
	return d, err
}

func pgPutDoc(ctx context.Context, tx pgx.Tx, d Document) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE documents SET state = $3, sha256 = $4, doc = $5 WHERE coll = $1 AND id = $2`,
		d.Collection, d.ID, d.State, d.SHA256, raw)
	return err
}

// GetDocument implements Meta.
func (s *Postgres) GetDocument(ctx context.Context, coll, id string) (d Document, err error) {
	err = s.do(ctx, func(ctx context.Context) error {
		d, err = pgGetDoc(ctx, s.db.Pool, coll, id, false)
		return err
	})
	return d, err
}

func collectDocs(rows pgx.Rows) ([]Document, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (d Document, err error) {
		var raw []byte
		if err := r.Scan(&raw); err != nil {
			return d, err
		}
		return d, json.Unmarshal(raw, &d)
	})
}

// ListDocuments implements Meta (upload order).
func (s *Postgres) ListDocuments(ctx context.Context, coll string) (out []Document, err error) {
	err = s.do(ctx, func(ctx context.Context) error {
		if _, err := pgGetColl(ctx, s.db.Pool, coll); err != nil {
			return err
		}
		rows, err := s.db.Pool.Query(ctx, `SELECT doc FROM documents WHERE coll = $1 ORDER BY seq`, coll)
		if err != nil {
			return err
		}
		out, err = collectDocs(rows)
		return err
	})
	return out, err
}

// UpdateDocument implements Meta.
func (s *Postgres) UpdateDocument(ctx context.Context, coll, id string, fn func(*Document)) (d Document, err error) {
	err = s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		d, err = pgLockDoc(ctx, tx, coll, id)
		if err != nil {
			return err
		}
		fn(&d)
		d.UpdateTime = time.Now().UTC()
		if d.State == StateReady || d.State == StateFailed {
			if _, err := tx.Exec(ctx, `DELETE FROM jobs WHERE coll = $1 AND id = $2`, coll, id); err != nil {
				return err
			}
		}
		if err := pgPutDoc(ctx, tx, d); err != nil {
			return err
		}
		if d.State == StateReady || d.State == StateFailed {
			return notify(ctx, tx, coll, id, "document")
		}
		return nil
	})
	return d, err
}

// JobPassword implements Meta.
func (s *Postgres) JobPassword(ctx context.Context, coll, id string) (pw string, err error) {
	err = s.do(ctx, func(ctx context.Context) error {
		err := s.db.Pool.QueryRow(ctx, `SELECT password FROM jobs WHERE coll = $1 AND id = $2`, coll, id).Scan(&pw)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	return pw, err
}

// Unfinished implements Meta.
func (s *Postgres) Unfinished(ctx context.Context) (out []Document, err error) {
	err = s.do(ctx, func(ctx context.Context) error {
		rows, err := s.db.Pool.Query(ctx, `SELECT doc FROM documents WHERE state IN ('PENDING', 'PROCESSING') ORDER BY seq`)
		if err != nil {
			return err
		}
		out, err = collectDocs(rows)
		return err
	})
	return out, err
}

// DeleteDocument implements Meta.
func (s *Postgres) DeleteDocument(ctx context.Context, coll, id string) (unreferenced []string, err error) {
	err = s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		d, err := pgLockDoc(ctx, tx, coll, id)
		if err != nil {
			return err
		}
		n, total, err := pgDropIndex(ctx, tx, coll, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM documents WHERE coll = $1 AND id = $2`, coll, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE collections SET documents = documents - 1, chunks = chunks - $2, total_len = total_len - $3 WHERE name = $1`, coll, n, total); err != nil {
			return err
		}
		if unreferenced, err = pgUnused(ctx, tx, []string{d.SHA256}); err != nil {
			return err
		}
		return notify(ctx, tx, coll, id, "document_deleted")
	})
	return unreferenced, err
}
