package store

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
)

// pgDropIndex removes a document's chunks, postings and vectors and
// returns how many chunks and terms they held.
func pgDropIndex(ctx context.Context, tx pgx.Tx, coll, id string) (n, total int64, err error) {
	err = tx.QueryRow(ctx, `SELECT count(*), coalesce(sum((chunk->>'len')::bigint), 0) FROM chunks WHERE coll = $1 AND doc = $2`, coll, id).Scan(&n, &total)
	if err != nil {
		return 0, 0, err
	}
	for _, t := range []string{"postings", "term_docs", "chunks", "vectors", "vectors_refined"} {
		if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE coll = $1 AND doc = $2`, coll, id); err != nil {
			return 0, 0, err
		}
	}
	return n, total, nil
}

// CommitIndex implements Index: COPY of chunks, postings and vectors in
// the transaction that marks the document.
func (s *Postgres) CommitIndex(ctx context.Context, coll, id string, chunks []Chunk, vecs [][]float32, fn func(*Document)) (d Document, err error) {
	err = s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		d, err = pgLockDoc(ctx, tx, coll, id)
		if err != nil {
			return err
		}
		oldN, oldLen, err := pgDropIndex(ctx, tx, coll, id)
		if err != nil {
			return err
		}
		var crows, prows, vrows [][]any
		var total int64
		for i, ch := range chunks {
			raw, err := json.Marshal(ch)
			if err != nil {
				return err
			}
			crows = append(crows, []any{coll, id, ch.Seq, raw})
			for t, tf := range ch.Terms {
				prows = append(prows, []any{coll, t, id, ch.Seq, tf, ch.Len})
			}
			total += int64(ch.Len)
			if vecs != nil {
				vrows = append(vrows, []any{coll, id, ch.Seq, len(vecs[i]), pgvector.NewVector(vecs[i])})
			}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"chunks"}, []string{"coll", "doc", "seq", "chunk"}, pgx.CopyFromRows(crows)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"postings"}, []string{"coll", "term", "doc", "seq", "tf", "len"}, pgx.CopyFromRows(prows)); err != nil {
			return err
		}
		var trows [][]any
		for t, p := range termDocs(chunks) {
			pts := p.bounds()
			blk, btf, blen := make([]int32, len(pts)), make([]int32, len(pts)), make([]int32, len(pts))
			for i, q := range pts {
				blk[i], btf[i], blen[i] = q.Block, q.TF, q.Len
			}
			trows = append(trows, []any{coll, t, id, len(p.Seqs), blk, btf, blen, p.Seqs, p.TFs, p.Lens})
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"term_docs"}, []string{"coll", "term", "doc", "n", "blk", "btf", "blen", "seqs", "tfs", "lens"}, pgx.CopyFromRows(trows)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"vectors"}, []string{"coll", "doc", "seq", "dim", "embedding"}, pgx.CopyFromRows(vrows)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE collections SET chunks = chunks + $2, total_len = total_len + $3 WHERE name = $1`,
			coll, int64(len(chunks))-oldN, total-oldLen); err != nil {
			return err
		}
		d.RefinedModel = ""
		fn(&d)
		d.UpdateTime = time.Now().UTC()
		if _, err := tx.Exec(ctx, `DELETE FROM jobs WHERE coll = $1 AND id = $2`, coll, id); err != nil {
			return err
		}
		if err := pgPutDoc(ctx, tx, d); err != nil {
			return err
		}
		return notify(ctx, tx, coll, id, "document")
	})
	return d, err
}

// Chunk implements Index.
func (s *Postgres) Chunk(ctx context.Context, coll, docID string, seq int) (c Chunk, err error) {
	err = s.do(ctx, func(ctx context.Context) error {
		var raw []byte
		err := s.db.Pool.QueryRow(ctx, `SELECT chunk FROM chunks WHERE coll = $1 AND doc = $2 AND seq = $3`, coll, docID, seq).Scan(&raw)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("chunk %s-%d: %w", docID, seq, ErrNotFound)
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(raw, &c)
	})
	return c, err
}

// Chunks implements Index: one query for all of refs.
func (s *Postgres) Chunks(ctx context.Context, coll string, refs []ChunkRef) (out []Chunk, err error) {
	if len(refs) == 0 {
		return nil, nil
	}
	docs, seqs := make([]string, len(refs)), make([]int32, len(refs))
	for i, r := range refs {
		docs[i], seqs[i] = r.DocID, int32(r.Seq)
	}
	err = s.db.Do(ctx, func(ctx context.Context) error {
		rows, err := s.db.Pool.Query(ctx, `SELECT c.chunk - 'terms' FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS r (doc, seq, ord)
			JOIN chunks c ON c.coll = $1 AND c.doc = r.doc AND c.seq = r.seq ORDER BY r.ord`, coll, docs, seqs)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanChunk)
		return err
	})
	return out, err
}

// Postings implements Index: one query for all terms, each term's list in
// the embedded store's order (document, then chunk).
func (s *Postgres) Postings(ctx context.Context, coll string, terms []string, fn func(string, int64, []Posting)) error {
	byTerm := map[string][]Posting{}
	err := s.do(ctx, func(ctx context.Context) error {
		clear(byTerm)
		rows, err := s.db.Pool.Query(ctx, `SELECT term, doc, seq, tf, len FROM postings WHERE coll = $1 AND term = ANY($2) ORDER BY term, doc, seq`, coll, terms)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t string
			var p Posting
			if err := rows.Scan(&t, &p.DocID, &p.Seq, &p.TF, &p.Len); err != nil {
				return err
			}
			byTerm[t] = append(byTerm[t], p)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	for _, t := range terms {
		ps := byTerm[t]
		fn(t, int64(len(ps)), ps)
	}
	return nil
}

// Vectors implements Index.
func (s *Postgres) Vectors(ctx context.Context, coll string, fn func(string, []int, [][]float32)) error {
	return s.vectors(ctx, "vectors", coll, fn)
}

// RefinedVectors implements Index.
func (s *Postgres) RefinedVectors(ctx context.Context, coll string, fn func(string, []int, [][]float32)) error {
	return s.vectors(ctx, "vectors_refined", coll, fn)
}

type docVecs struct {
	doc  string
	seqs []int
	vecs [][]float32
}

func (s *Postgres) vectors(ctx context.Context, table, coll string, fn func(string, []int, [][]float32)) error {
	var out []docVecs
	err := s.do(ctx, func(ctx context.Context) error {
		out = out[:0]
		rows, err := s.db.Pool.Query(ctx, `SELECT doc, seq, embedding FROM `+table+` WHERE coll = $1 ORDER BY doc, seq`, coll)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var doc string
			var seq int
			var v pgvector.Vector
			if err := rows.Scan(&doc, &seq, &v); err != nil {
				return err
			}
			if len(out) == 0 || out[len(out)-1].doc != doc {
				out = append(out, docVecs{doc: doc})
			}
			last := &out[len(out)-1]
			last.seqs = append(last.seqs, seq)
			last.vecs = append(last.vecs, v.Slice())
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	for _, d := range out {
		fn(d.doc, d.seqs, d.vecs)
	}
	return nil
}

// PutRefinedVectors implements Index.
func (s *Postgres) PutRefinedVectors(ctx context.Context, coll, id string, chunks int, seqs []int, vecs [][]float32, model string) (d Document, err error) {
	if len(seqs) != len(vecs) {
		return d, fmt.Errorf("store: %d seqs for %d vectors", len(seqs), len(vecs))
	}
	err = s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		d, err = pgLockDoc(ctx, tx, coll, id)
		if err != nil {
			return err
		}
		if d.State != StateReady || d.Chunks != chunks {
			return fmt.Errorf("document %q changed while its vectors were refined: %w", id, ErrConflict)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM vectors_refined WHERE coll = $1 AND doc = $2`, coll, id); err != nil {
			return err
		}
		rows := make([][]any, len(vecs))
		for i, v := range vecs {
			rows[i] = []any{coll, id, seqs[i], len(v), pgvector.NewVector(v)}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"vectors_refined"}, []string{"coll", "doc", "seq", "dim", "embedding"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		d.RefinedModel = model
		if err := pgPutDoc(ctx, tx, d); err != nil {
			return err
		}
		return notify(ctx, tx, coll, id, "refined")
	})
	return d, err
}

// ListChunks implements Index; page tokens have the embedded store's shape.
func (s *Postgres) ListChunks(ctx context.Context, coll, docID, after string, limit int) (out []Chunk, next string, err error) {
	p := key(coll, "")
	if docID != "" {
		p = key(coll, docID, "")
	}
	afterDoc, afterSeq := "", -1
	if after != "" {
		ak, err := base64.RawURLEncoding.DecodeString(after)
		if err != nil || len(ak) < len(key(coll, ""))+5 || string(ak[:len(p)]) != string(p) {
			return nil, "", fmt.Errorf("%w: bad page token", ErrBadToken)
		}
		rest := ak[len(key(coll, "")):]
		afterDoc = string(rest[:len(rest)-5])
		afterSeq = int(binary.BigEndian.Uint32(rest[len(rest)-4:]))
	}
	err = s.do(ctx, func(ctx context.Context) error {
		if _, err := pgGetColl(ctx, s.db.Pool, coll); err != nil {
			return err
		}
		rows, err := s.db.Pool.Query(ctx, `SELECT chunk FROM chunks WHERE coll = $1 AND ($2 = '' OR doc = $2)
			AND (doc, seq) > ($3, $4) ORDER BY doc, seq LIMIT $5`, coll, docID, afterDoc, afterSeq, limit+1)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanChunk)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if len(out) > limit {
		out = out[:limit]
		last := out[len(out)-1]
		next = base64.RawURLEncoding.EncodeToString(chunkKey(coll, last.DocID, last.Seq))
	}
	return out, next, nil
}

// scanChunk decodes a row of one column, a chunk's stored JSON.
func scanChunk(r pgx.CollectableRow) (Chunk, error) {
	var raw []byte
	var c Chunk
	if err := r.Scan(&raw); err != nil {
		return c, err
	}
	return c, json.Unmarshal(raw, &c)
}
