package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
)

// BulkLoad implements BulkLoader in one transaction (all or nothing):
// documents, chunks and vectors by COPY as they come (the documents of a
// batch before its chunks, for the foreign keys), then the postings and
// term_docs rows by COPY in primary-key order from the sorted runs (each
// btree grows at its right edge instead of taking inserts all over), the
// collection's counts and one change notification per document, as
// CommitIndex sends. Into an empty vectors table the HNSW index is dropped
// first and built once at the end (in the transaction: until it commits,
// vector reads of other collections wait). The run files are in the temporary directory. The
// statement timeout is lifted for the transaction (a COPY of 100M rows
// takes minutes); ctx's deadline bounds it. It is not retried: next is
// read once.
func (s *Postgres) BulkLoad(ctx context.Context, coll string, next func() (*BulkDocument, error)) (c Collection, err error) {
	idx := newBulkIndex(os.TempDir())
	defer idx.close()
	err = s.db.Do(ctx, func(ctx context.Context) error {
		return pgx.BeginTxFunc(ctx, s.db.Pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
			c, err = s.bulkLoad(context.WithValue(ctx, originKey{}, s.origin), tx, coll, idx, next)
			return err
		})
	})
	return c, err
}

func (s *Postgres) bulkLoad(ctx context.Context, tx pgx.Tx, coll string, idx *bulkIndex, next func() (*BulkDocument, error)) (c Collection, err error) {
	if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
		return c, err
	}
	tag, err := tx.Exec(ctx, `INSERT INTO collections (name, create_time) VALUES ($1, $2) ON CONFLICT DO NOTHING`, coll, time.Now().UTC())
	if err != nil {
		return c, err
	}
	if tag.RowsAffected() == 0 {
		return c, fmt.Errorf("collection %q: %w", coll, ErrAlreadyExists)
	}
	// Into an empty vectors table (a restore, a new database) the HNSW
	// indexes are built after the rows, as pg_restore does: one build, not
	// a graph insertion per row (which was most of a load's time).
	var indexDefs []string
	var empty bool
	if err := tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM vectors)`).Scan(&empty); err != nil {
		return c, err
	}
	if empty {
		rows, err := tx.Query(ctx, `SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
			JOIN pg_class i ON i.oid = indexrelid JOIN pg_am am ON am.oid = i.relam
			WHERE indrelid = 'vectors'::regclass AND am.amname = 'hnsw'`)
		if err != nil {
			return c, err
		}
		type index struct{ Name, Def string }
		idxs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[index])
		if err != nil {
			return c, err
		}
		for _, x := range idxs {
			if _, err := tx.Exec(ctx, `DROP INDEX `+x.Name); err != nil {
				return c, err
			}
			indexDefs = append(indexDefs, x.Def)
		}
	}
	var ids []string
	start := time.Now()
	phase := func(what string) {
		s.log.Info("bulk load", "collection", coll, "done", what, "elapsed", time.Since(start).Round(time.Millisecond))
	}
	flush := func(pending []*BulkDocument) error {
		rows, err := tx.Query(ctx, `SELECT nextval('doc_seq') FROM generate_series(1, $1)`, len(pending))
		if err != nil {
			return err
		}
		seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		var drows, crows, vrows [][]any
		for i, d := range pending {
			doc := d.Doc
			doc.Collection, doc.RefinedModel, doc.Seq, doc.CreateTime, doc.UpdateTime = coll, "", uint64(seqs[i]), now, now
			raw, err := json.Marshal(doc)
			if err != nil {
				return err
			}
			drows = append(drows, []any{coll, doc.ID, seqs[i], doc.State, doc.SHA256, raw})
			for j, ch := range d.Chunks {
				raw, err := json.Marshal(ch)
				if err != nil {
					return err
				}
				crows = append(crows, []any{coll, doc.ID, ch.Seq, raw})
				if d.Vecs != nil {
					vrows = append(vrows, []any{coll, doc.ID, ch.Seq, len(d.Vecs[j]), pgvector.NewVector(d.Vecs[j])})
				}
			}
		}
		for _, t := range []struct {
			name string
			cols []string
			rows [][]any
		}{
			{"documents", []string{"coll", "id", "seq", "state", "sha256", "doc"}, drows},
			{"chunks", []string{"coll", "doc", "seq", "chunk"}, crows},
			{"vectors", []string{"coll", "doc", "seq", "dim", "embedding"}, vrows},
		} {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
				return fmt.Errorf("store: bulk load of %s: %w", t.name, err)
			}
		}
		return nil
	}
	chunks, total, err := bulkEach(ctx, coll, next, idx, func(d *BulkDocument) { ids = append(ids, d.Doc.ID) }, flush)
	if err != nil {
		return c, err
	}
	phase(fmt.Sprintf("%d documents, %d chunks and their vectors", len(ids), chunks))
	prefix := len(coll) + 1
	if err := copySorted(ctx, tx, "postings", []string{"coll", "term", "doc", "seq", "tf", "len"}, idx.postings, func(k, v []byte) ([]any, error) {
		// coll \0 term \0 doc \0 seq (4 bytes, big-endian)
		if len(k) < prefix+5 {
			return nil, errBadBulkKey
		}
		term, doc, ok := bytes.Cut(k[prefix:len(k)-5], []byte{0})
		if !ok {
			return nil, errBadBulkKey
		}
		tf, n := binary.Uvarint(v)
		dl, m := binary.Uvarint(v[max(n, 0):])
		if n <= 0 || m <= 0 {
			return nil, errBadBulkKey
		}
		return []any{coll, string(term), string(doc), int32(binary.BigEndian.Uint32(k[len(k)-4:])), int32(tf), int32(dl)}, nil
	}); err != nil {
		return c, err
	}
	phase("postings")
	if err := copySorted(ctx, tx, "term_docs", []string{"coll", "term", "doc", "n", "blk", "btf", "blen", "seqs", "tfs", "lens"}, idx.termDocs, func(k, v []byte) ([]any, error) {
		term, doc, ok := bytes.Cut(k[min(prefix, len(k)):], []byte{0})
		if !ok {
			return nil, errBadBulkKey
		}
		_, pts, _, err := termDocHeader(v)
		if err != nil {
			return nil, err
		}
		p, err := decodeTermDoc(v)
		if err != nil {
			return nil, err
		}
		blk, btf, blen := make([]int32, len(pts)), make([]int32, len(pts)), make([]int32, len(pts))
		for i, q := range pts {
			blk[i], btf[i], blen[i] = q.Block, q.TF, q.Len
		}
		return []any{coll, string(term), string(doc), int32(len(p.Seqs)), blk, btf, blen, p.Seqs, p.TFs, p.Lens}, nil
	}); err != nil {
		return c, err
	}
	phase("term_docs")
	if len(indexDefs) > 0 {
		// the graph in memory while it is built (pgvector slows down
		// several times once it no longer fits)
		if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '`+bulkIndexMemory+`'`); err != nil {
			return c, err
		}
		for _, def := range indexDefs {
			if _, err := tx.Exec(ctx, def); err != nil {
				return c, fmt.Errorf("store: rebuilding a vector index after a bulk load: %w", err)
			}
		}
		phase("vector index")
	}
	if _, err := tx.Exec(ctx, `UPDATE collections SET documents = $2, chunks = $3, total_len = $4 WHERE name = $1`,
		coll, len(ids), chunks, total); err != nil {
		return c, err
	}
	for _, id := range ids {
		if err := notify(ctx, tx, coll, id, "document"); err != nil {
			return c, err
		}
	}
	return pgGetColl(ctx, tx, coll)
}

// bulkIndexMemory is maintenance_work_mem while a bulk load builds the
// HNSW index (about 2 KB a 384-dimension vector).
const bulkIndexMemory = "3GB"

var errBadBulkKey = fmt.Errorf("store: %w: malformed sorted record", ErrBulkInput)

// copySorted COPYs a sorter's records, in key order, into table, each
// record made a row by row.
func copySorted(ctx context.Context, tx pgx.Tx, table string, cols []string, src *runSorter, row func(k, v []byte) ([]any, error)) error {
	next, done := src.pull()
	_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() ([]any, error) {
		k, v, ok := next()
		if !ok {
			return nil, nil
		}
		return row(k, v)
	}))
	if derr := done(); err == nil {
		err = derr
	}
	if err != nil {
		return fmt.Errorf("store: bulk load of %s: %w", table, err)
	}
	return nil
}
