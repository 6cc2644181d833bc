package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// PostgreSQL's BM25 ranking (blockmax.go's block-max ranking over the
// term_docs table): the statements a search reads; postgres_index.go
// writes the rows.

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
	rows, err := q.Query(ctx, `SELECT c.chunks, c.total_len, c.exact_bounds, x.ord, x.n, x.doc, x.pts
		FROM collections c LEFT JOIN LATERAL (
			SELECT t.ord, d.n, CASE WHEN a.ok THEN d.doc END AS doc,
				CASE WHEN a.ok THEN array_send(d.blk) || array_send(d.btf) || array_send(d.blen) END AS pts
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
		var raw []byte
		if err := rows.Scan(&st.Chunks, &st.TotalLen, &st.Exact, &ord, &n, &doc, &raw); err != nil {
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
		pts, err := sentBoundPoints(raw)
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
	rows, err := b.q.Query(ctx, `SELECT r.ord, array_send(d.seqs) || array_send(d.tfs) || array_send(d.lens)
		FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS r (term, doc, ord)
		JOIN term_docs d ON d.coll = $1 AND d.term = r.term AND d.doc = r.doc`, b.coll, ts, docs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]termDocPostings, len(term))
	for rows.Next() {
		var i int
		var raw []byte
		if err := rows.Scan(&i, &raw); err != nil {
			return nil, err
		}
		p, err := sentPostings(raw)
		if err != nil {
			return nil, fmt.Errorf("%w (term_docs row %d)", err, i)
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
	rows, err := b.q.Query(ctx, `SELECT term, doc, array_send(blk) || array_send(btf) || array_send(blen), array_send(seqs) || array_send(tfs) || array_send(lens)
		FROM term_docs WHERE coll = $1 AND term = ANY ($2) AND doc = ANY ($3)`, b.coll, b.all, ds)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]termDocPostings, len(term))
	got := 0
	for rows.Next() {
		var k termDoc
		var rawPts, rawPost []byte
		if err := rows.Scan(&k.term, &k.doc, &rawPts, &rawPost); err != nil {
			return nil, err
		}
		p, err := sentPostings(rawPost)
		if err != nil {
			return nil, fmt.Errorf("%w (term_docs %q/%q)", err, k.doc, k.term)
		}
		if len(p.TFs) != len(p.Seqs) || len(p.Lens) != len(p.Seqs) {
			return nil, fmt.Errorf("store: term_docs %q/%q: %d seqs, %d tfs, %d lengths", k.doc, k.term, len(p.Seqs), len(p.TFs), len(p.Lens))
		}
		pts, err := sentBoundPoints(rawPts)
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

// The statements above read a term_docs row's three arrays as the
// concatenation of their array_send: one bytea decoded here in one pass,
// instead of pgx's array codec, element by element (the client's CPU at
// 100k, issue #12).

var errBadArray = errors.New("store: bad int4[] in term_docs")

// sentInt4s decodes one array_send of an int4[] at the start of b
// (PostgreSQL's binary array: dimensions, flags, element type, each
// dimension's length and lower bound, then each element's length and
// big-endian value; one dimension or none, no NULLs) and returns the rest.
func sentInt4s(b []byte) ([]int32, []byte, error) {
	if len(b) < 12 {
		return nil, nil, errBadArray
	}
	ndim, nulls, oid := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:])
	if ndim == 0 {
		return nil, b[12:], nil
	}
	if ndim != 1 || nulls != 0 || oid != 23 || len(b) < 20 {
		return nil, nil, errBadArray
	}
	n := int(binary.BigEndian.Uint32(b[12:]))
	b = b[20:]
	if n < 0 || len(b) < 8*n {
		return nil, nil, errBadArray
	}
	out := make([]int32, n)
	for i := range out {
		if binary.BigEndian.Uint32(b[8*i:]) != 4 {
			return nil, nil, errBadArray
		}
		out[i] = int32(binary.BigEndian.Uint32(b[8*i+4:]))
	}
	return out, b[8*n:], nil
}

// sentThree decodes three arrays' array_send, concatenated.
func sentThree(b []byte) (x, y, z []int32, err error) {
	if x, b, err = sentInt4s(b); err != nil {
		return
	}
	if y, b, err = sentInt4s(b); err != nil {
		return
	}
	if z, b, err = sentInt4s(b); err == nil && len(b) != 0 {
		err = errBadArray
	}
	return
}

// sentBoundPoints decodes array_send(blk) || array_send(btf) || array_send(blen).
func sentBoundPoints(b []byte) ([]boundPoint, error) {
	blk, btf, blen, err := sentThree(b)
	if err != nil {
		return nil, err
	}
	return boundPoints(blk, btf, blen)
}

// sentPostings decodes array_send(seqs) || array_send(tfs) || array_send(lens).
func sentPostings(b []byte) (termDocPostings, error) {
	s, t, l, err := sentThree(b)
	if err == nil && (len(t) != len(s) || len(l) != len(s)) {
		err = fmt.Errorf("store: %d seqs, %d tfs, %d lengths", len(s), len(t), len(l))
	}
	return termDocPostings{Seqs: s, TFs: t, Lens: l}, err
}
