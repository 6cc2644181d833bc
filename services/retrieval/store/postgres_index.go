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
		rows, err := s.db.Pool.Query(ctx, `SELECT c.chunk FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS r (doc, seq, ord)
			JOIN chunks c ON c.coll = $1 AND c.doc = r.doc AND c.seq = r.seq ORDER BY r.ord`, coll, docs, seqs)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanChunk)
		return err
	})
	return out, err
}

var _ KeywordRanker = (*Postgres)(nil)

// DocFreqs implements KeywordRanker: the collection's counts and each
// term's posting count (summed over its term_docs rows: one a document),
// in one query.
func (s *Postgres) DocFreqs(ctx context.Context, coll string, terms []string) (c Collection, dfs []int64, err error) {
	err = s.db.Do(ctx, func(ctx context.Context) error {
		err := s.db.Pool.QueryRow(ctx, `SELECT c.name, c.create_time, c.documents, c.chunks, c.total_len,
				coalesce((SELECT array_agg((SELECT coalesce(sum(d.n), 0)::bigint FROM term_docs d WHERE d.coll = $1 AND d.term = t.term) ORDER BY t.ord)
					FROM unnest($2::text[]) WITH ORDINALITY AS t (term, ord)), '{}')
			FROM collections c WHERE c.name = $1`, coll, terms).
			Scan(&c.Name, &c.CreateTime, &c.Documents, &c.Chunks, &c.TotalLen, &dfs)
		if errors.Is(err, pgx.ErrNoRows) {
			return collNotFound(coll)
		}
		c.CreateTime = c.CreateTime.UTC()
		return err
	})
	return c, dfs, err
}

// RankBM25 implements KeywordRanker with block-max pruning (blockmax.go):
// the bounds of the terms' term_docs rows in one query, then the postings
// of the best blocks' documents, a batch a query, in one
// snapshot. (The function bm25_top,
// migration 0002, which sums whole lists on the server, is no longer
// called.)
func (s *Postgres) RankBM25(ctx context.Context, coll string, terms []string, w, idf []float64, avg float64, k int, allow []string) (out []Scored, err error) {
	if len(w) != len(terms) || len(idf) != len(terms) {
		return nil, fmt.Errorf("store: %d terms, %d weights, %d idfs", len(terms), len(w), len(idf))
	}
	if len(terms) == 0 || k <= 0 {
		return nil, nil
	}
	// one snapshot for the bounds and the postings read after them (a
	// document re-indexed meanwhile is seen before or after, never half)
	err = s.db.Tx(ctx, pgx.RepeatableRead, func(ctx context.Context, tx pgx.Tx) error {
		out, err = rankBlocks(ctx, pgBlocks{tx, coll}, terms, w, idf, avg, k, allow)
		return err
	})
	return out, err
}

type pgBlocks struct {
	q    pgx.Tx
	coll string
}

func (b pgBlocks) bounds(ctx context.Context, terms []string, allow []string, fn func(termDocBound)) error {
	rows, err := b.q.Query(ctx, `SELECT t.ord, d.doc, d.blk, d.btf, d.blen
		FROM unnest($2::text[]) WITH ORDINALITY AS t (term, ord)
		JOIN term_docs d ON d.coll = $1 AND d.term = t.term AND ($3::text[] IS NULL OR d.doc = ANY ($3))`, b.coll, terms, allow)
	if err != nil {
		return err
	}
	defer rows.Close()
	var recs []termDocBound
	for rows.Next() {
		var r termDocBound
		var blk, btf, blen []int32
		if err := rows.Scan(&r.Term, &r.Doc, &blk, &btf, &blen); err != nil {
			return err
		}
		if len(btf) != len(blk) || len(blen) != len(blk) {
			return fmt.Errorf("store: term_docs %q/%q: %d blocks, %d tfs, %d lengths", r.Doc, terms[r.Term-1], len(blk), len(btf), len(blen))
		}
		r.Term--
		r.Points = make([]boundPoint, len(blk))
		for i := range blk {
			r.Points[i] = boundPoint{blk[i], btf[i], blen[i]}
		}
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range recs {
		fn(r)
	}
	return nil
}

func (b pgBlocks) postings(ctx context.Context, terms []string, term []int, docs []string) ([]termDocPostings, error) {
	ts := make([]string, len(term))
	for i, t := range term {
		ts[i] = terms[t]
	}
	rows, err := b.q.Query(ctx, `SELECT r.ord, d.seqs, d.tfs, d.lens
		FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS r (term, doc, ord)
		JOIN term_docs d ON d.coll = $1 AND d.term = r.term AND d.doc = r.doc`, b.coll, ts, docs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]termDocPostings, len(term))
	for rows.Next() {
		var i int
		var p termDocPostings
		if err := rows.Scan(&i, &p.Seqs, &p.TFs, &p.Lens); err != nil {
			return nil, err
		}
		if i < 1 || i > len(out) || len(p.TFs) != len(p.Seqs) || len(p.Lens) != len(p.Seqs) {
			return nil, fmt.Errorf("store: term_docs row %d of %d: %d seqs, %d tfs, %d lengths", i, len(out), len(p.Seqs), len(p.TFs), len(p.Lens))
		}
		out[i-1] = p
	}
	return out, rows.Err()
}

// TermCounts implements KeywordRanker: one primary-key probe per (chunk,
// term) pair, in one query.
func (s *Postgres) TermCounts(ctx context.Context, coll string, terms []string, refs []ChunkRef, fn func(ref, term, tf int)) error {
	if len(terms) == 0 || len(refs) == 0 {
		return nil
	}
	docs, seqs := make([]string, len(refs)), make([]int32, len(refs))
	for i, r := range refs {
		docs[i], seqs[i] = r.DocID, int32(r.Seq)
	}
	type hit struct{ ref, term, tf int }
	var hits []hit
	err := s.db.Do(ctx, func(ctx context.Context) error {
		hits = hits[:0]
		rows, err := s.db.Pool.Query(ctx, `SELECT r.ord, t.ord, p.tf
			FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS r (doc, seq, ord)
			CROSS JOIN unnest($4::text[]) WITH ORDINALITY AS t (term, ord)
			JOIN postings p ON p.coll = $1 AND p.term = t.term AND p.doc = r.doc AND p.seq = r.seq`, coll, docs, seqs, terms)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var h hit
			if err := rows.Scan(&h.ref, &h.term, &h.tf); err != nil {
				return err
			}
			hits = append(hits, hit{h.ref - 1, h.term - 1, h.tf})
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	for _, h := range hits {
		fn(h.ref, h.term, h.tf)
	}
	return nil
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
