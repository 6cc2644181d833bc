package store

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
// of the best blocks' documents, a batch a query, in one repeatable-read
// snapshot. (The function bm25_top, migration 0002, which sums whole lists
// on the server, is no longer called.)
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
		out, err = rankBlocks(ctx, pgBlocks{q: tx, coll: coll}, terms, w, idf, avg, k, allow, false)
		return err
	})
	return out, err
}

var _ QueryRanker = (*Postgres)(nil)

// RankQuery implements QueryRanker in as few statements as it can: the
// collection's counts, the terms' frequencies and their bounds in one
// (pgQueryStats), then the best blocks' postings a batch a statement,
// outside a transaction: each batch's statement also reads back its
// documents' bound points and query terms, and when any differs from the
// first statement's (a document re-indexed or deleted in between) the
// ranking is done again in one repeatable-read snapshot. So each document
// is seen whole, as it was in the first statement or as it is in the
// batch's (whose points, being the same, bound it as well).
func (s *Postgres) RankQuery(ctx context.Context, coll string, terms []string, w []float64, k int, allow []string) (out []Scored, err error) {
	if len(w) != len(terms) {
		return nil, fmt.Errorf("store: %d terms, %d weights", len(terms), len(w))
	}
	err = s.db.Do(ctx, func(ctx context.Context) error {
		st, err := pgQueryStats(ctx, s.db.Pool, coll, terms, allow)
		if err != nil || k <= 0 {
			return err
		}
		if rankHook != nil {
			rankHook("stats")
		}
		want := make(map[termDoc][]boundPoint, len(st.Bounds))
		for _, r := range st.Bounds {
			want[termDoc{terms[r.Term], r.Doc}] = r.Points
		}
		out, err = rankQuery(ctx, st, pgBlocks{q: s.db.Pool, coll: coll, all: terms, want: want}, terms, w, k, allow)
		return err
	})
	if !errors.Is(err, errChanged) {
		return out, err
	}
	if rankHook != nil {
		rankHook("again")
	}
	err = s.db.Tx(ctx, pgx.RepeatableRead, func(ctx context.Context, tx pgx.Tx) error {
		st, err := pgQueryStats(ctx, tx, coll, terms, allow)
		if err != nil || k <= 0 {
			return err
		}
		out, err = rankQuery(ctx, st, pgBlocks{q: tx, coll: coll}, terms, w, k, allow)
		return err
	})
	return out, err
}

// rankHook, when set (by tests), is called by RankQuery after its first
// statement ("stats") and when it ranks again in one snapshot ("again").
var rankHook func(stage string)

// errChanged: a document's term_docs rows changed between two statements
// of a ranking.
var errChanged = errors.New("store: a document changed during the ranking")

// pgQueryStats reads in one statement the collection's chunk count and
// total length, each term's chunk count (the n of its term_docs rows, all
// documents) and the bound points of its rows in the allowed documents.
func pgQueryStats(ctx context.Context, q querier, coll string, terms []string, allow []string) (st queryStats, err error) {
	// (the rows in index term_docs_bounds from it alone, the others through
	// term_docs_wide: migration 0005's predicates, as written there)
	rows, err := q.Query(ctx, `SELECT c.chunks, c.total_len, c.exact_bounds, x.ord, x.n, x.doc, x.blk, x.btf, x.blen
		FROM collections c LEFT JOIN LATERAL (
			SELECT t.ord, d.n, CASE WHEN a.ok THEN d.doc END AS doc,
				CASE WHEN a.ok THEN d.blk END AS blk, CASE WHEN a.ok THEN d.btf END AS btf, CASE WHEN a.ok THEN d.blen END AS blen
			FROM unnest($2::text[]) WITH ORDINALITY AS t (term, ord)
			CROSS JOIN LATERAL (
				SELECT doc, n, blk, btf, blen FROM term_docs WHERE coll = $1 AND term = t.term
					AND cardinality(blk) <= 128 AND octet_length(coll) + octet_length(term) + octet_length(doc) <= 600
				UNION ALL
				SELECT doc, n, blk, btf, blen FROM term_docs WHERE coll = $1 AND term = t.term
					AND NOT (cardinality(blk) <= 128 AND octet_length(coll) + octet_length(term) + octet_length(doc) <= 600)) d
			CROSS JOIN LATERAL (SELECT $3::text[] IS NULL OR d.doc = ANY ($3) AS ok) a) x ON true
		WHERE c.name = $1`, coll, terms, allow)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	st.DFs = make([]int64, len(terms))
	found := false
	for rows.Next() {
		found = true
		var ord, n *int64
		var doc *string
		var blk, btf, blen []int32
		if err := rows.Scan(&st.Chunks, &st.TotalLen, &st.Exact, &ord, &n, &doc, &blk, &btf, &blen); err != nil {
			return st, err
		}
		if ord == nil {
			continue // no term_docs row of any term
		}
		i := int(*ord) - 1
		if i < 0 || i >= len(terms) || n == nil {
			return st, fmt.Errorf("store: term_docs row of term %d of %d", i+1, len(terms))
		}
		st.DFs[i] += *n
		if doc == nil {
			continue // not an allowed document
		}
		pts, err := boundPoints(blk, btf, blen)
		if err != nil {
			return st, fmt.Errorf("%w (term_docs %q/%q)", err, *doc, terms[i])
		}
		st.Bounds = append(st.Bounds, termDocBound{Term: i, Doc: *doc, Points: pts})
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	if !found {
		return st, collNotFound(coll)
	}
	return st, nil
}

// boundPoints zips a term_docs row's bound arrays.
func boundPoints(blk, btf, blen []int32) ([]boundPoint, error) {
	if len(btf) != len(blk) || len(blen) != len(blk) {
		return nil, fmt.Errorf("store: %d blocks, %d tfs, %d lengths", len(blk), len(btf), len(blen))
	}
	pts := make([]boundPoint, len(blk))
	for i := range blk {
		pts[i] = boundPoint{blk[i], btf[i], blen[i]}
	}
	return pts, nil
}

type termDoc struct{ term, doc string }

// pgBlocks is PostgreSQL's blockSource, in a transaction (q a pgx.Tx) or,
// with want, on the pool: then each postings batch checks its documents
// against want (the bound points of every (term, document) pair of all,
// the query's terms, from the first statement) and is errChanged when any
// differs.
type pgBlocks struct {
	q    querier
	coll string
	all  []string
	want map[termDoc][]boundPoint
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
		if r.Term < 1 || r.Term > len(terms) {
			return fmt.Errorf("store: term_docs row of term %d of %d", r.Term, len(terms))
		}
		if r.Points, err = boundPoints(blk, btf, blen); err != nil {
			return fmt.Errorf("%w (term_docs %q/%q)", err, r.Doc, terms[r.Term-1])
		}
		r.Term--
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
	if b.want != nil {
		return b.checkedPostings(ctx, terms, term, docs)
	}
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

// checkedPostings reads the rows of every query term in docs (those
// asked for and any other) with their bound points: errChanged unless
// they are exactly want's pairs of these documents, with want's points.
func (b pgBlocks) checkedPostings(ctx context.Context, terms []string, term []int, docs []string) ([]termDocPostings, error) {
	at := make(map[termDoc][]int, len(term)) // (a term twice in the query: two)
	var ds []string
	seen := map[string]bool{}
	for i, t := range term {
		k := termDoc{terms[t], docs[i]}
		at[k] = append(at[k], i)
		if !seen[docs[i]] {
			seen[docs[i]] = true
			ds = append(ds, docs[i])
		}
	}
	expect := 0
	for k := range b.want {
		if seen[k.doc] {
			expect++
		}
	}
	rows, err := b.q.Query(ctx, `SELECT term, doc, blk, btf, blen, seqs, tfs, lens
		FROM term_docs WHERE coll = $1 AND term = ANY ($2) AND doc = ANY ($3)`, b.coll, b.all, ds)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]termDocPostings, len(term))
	got := 0
	for rows.Next() {
		var k termDoc
		var blk, btf, blen []int32
		var p termDocPostings
		if err := rows.Scan(&k.term, &k.doc, &blk, &btf, &blen, &p.Seqs, &p.TFs, &p.Lens); err != nil {
			return nil, err
		}
		if len(p.TFs) != len(p.Seqs) || len(p.Lens) != len(p.Seqs) {
			return nil, fmt.Errorf("store: term_docs %q/%q: %d seqs, %d tfs, %d lengths", k.doc, k.term, len(p.Seqs), len(p.TFs), len(p.Lens))
		}
		pts, err := boundPoints(blk, btf, blen)
		if err != nil {
			return nil, fmt.Errorf("%w (term_docs %q/%q)", err, k.doc, k.term)
		}
		if w, ok := b.want[k]; !ok || !slices.Equal(w, pts) {
			return nil, errChanged
		}
		got++
		for _, i := range at[k] {
			out[i] = p
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if got != expect {
		return nil, errChanged // a row of these documents is gone
	}
	return out, nil
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
