package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
)

// VectorSearcher is implemented by a store that searches its vectors where
// they are (PostgreSQL: pgvector's HNSW index) instead of handing every
// vector of a collection to each replica's memory. The engine keeps its
// in-memory index for a store without it (the embedded one).
type VectorSearcher interface {
	// SearchVectors returns the q.K chunks whose vectors are nearest
	// q.Vector, best first; Score is the inner product (the cosine of the
	// unit vectors the engine stores).
	SearchVectors(ctx context.Context, q VectorQuery) ([]Scored, error)
	// VectorDim returns the dimension of a collection's fast (refined:
	// refined) vectors; 0 when it has none.
	VectorDim(ctx context.Context, coll string, refined bool) (int, error)
	// VectorCount returns how many fast (refined) vectors a collection
	// has, those of the documents skip left out.
	VectorCount(ctx context.Context, coll string, refined bool, skip []string) (int, error)
	// VectorTableRows estimates the fast (refined) vectors of every
	// collection: what an approximate search over one collection walks
	// past (the planner's estimate, no count).
	VectorTableRows(ctx context.Context, refined bool) (int64, error)
}

// VectorQuery is one nearest-neighbour search of a collection's vectors.
type VectorQuery struct {
	Coll string
	// Refined searches the refined vectors (background refinement's second
	// model) instead of the fast ones.
	Refined bool
	Vector  []float32
	K       int
	// Allow restricts the search to these documents (nil: all of them).
	Allow []string
	// Skip leaves these documents' vectors out (vectors of another model).
	Skip []string
	// Exact scans every candidate row instead of walking the HNSW index
	// (the caller's choice for small candidate sets, where a scan is cheap
	// and exact).
	Exact bool
}

var _ VectorSearcher = (*Postgres)(nil)

// hnswDim is the dimension migration 0001 built the HNSW indexes for
// (partial indexes over embedding::vector(384), WHERE dim = 384, with
// vector_cosine_ops): vectors of another dimension are scanned exactly.
const hnswDim = 384

// maxEfSearch is pgvector's upper bound of hnsw.ef_search.
const maxEfSearch = 1000

// efSearch is the HNSW candidate list for k results: twice k, at least
// 100, within pgvector's bound (BenchmarkSearchVectors10k, k 100, loaded
// 2-core box: ef 100 6.7 ms, 200 8.8 ms, 400 15.5 ms; the exact scan
// 17.8 ms). Filters need no larger list: the iterative scan keeps walking
// the graph until k rows pass them.
func efSearch(k int) int {
	return min(max(100, 2*k), maxEfSearch)
}

// vectorSQL returns the search statement for q and its arguments. Exact:
// the rows of the collection (and of the allowed documents) read through
// the primary key and ordered by inner product, an expression no index
// serves, so the planner cannot pick the approximate path. Otherwise the
// statement orders by the HNSW index's own expression and operator (cosine
// distance on embedding::vector(384)) with the partial index's predicate
// spelled as a constant, so the planner can use it, and filters by
// collection and documents in the WHERE (pgvector's iterative scan keeps
// walking the graph until k rows pass them).
func vectorSQL(q VectorQuery) (string, []any) {
	table := "vectors"
	if q.Refined {
		table = "vectors_refined"
	}
	args := []any{q.Coll, pgvector.NewVector(q.Vector)}
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT doc, seq, -(embedding <#> $2::vector) AS score FROM %s WHERE coll = $1", table)
	hnsw := !q.Exact && len(q.Vector) == hnswDim
	if hnsw {
		fmt.Fprintf(&b, " AND dim = %d", hnswDim)
	} else {
		args = append(args, len(q.Vector))
		fmt.Fprintf(&b, " AND dim = $%d", len(args))
	}
	if q.Allow != nil {
		args = append(args, q.Allow)
		fmt.Fprintf(&b, " AND doc = ANY ($%d::text[])", len(args))
	}
	if len(q.Skip) > 0 {
		args = append(args, q.Skip)
		fmt.Fprintf(&b, " AND doc <> ALL ($%d::text[])", len(args))
	}
	args = append(args, q.K)
	if hnsw {
		fmt.Fprintf(&b, " ORDER BY embedding::vector(%d) <=> $2::vector(%d) LIMIT $%d", hnswDim, hnswDim, len(args))
		return b.String(), args
	}
	fmt.Fprintf(&b, " ORDER BY embedding <#> $2::vector, doc, seq LIMIT $%d", len(args))
	return b.String(), args
}

// SearchVectors implements VectorSearcher. The approximate path runs in
// one batch (one implicit transaction) with hnsw.ef_search sized from k, pgvector 0.8's
// iterative scan (relaxed order: the rows are sorted here) so that a
// collection or document filter never starves the result, and sorting off
// (no plan but the index's ordered scan); when it still yields fewer than
// k rows (the scan's tuple bound reached under a very selective filter),
// the rows are scanned exactly.
func (s *Postgres) SearchVectors(ctx context.Context, q VectorQuery) ([]Scored, error) {
	if q.K <= 0 || len(q.Vector) == 0 {
		return nil, nil
	}
	if q.Allow != nil && len(q.Allow) == 0 {
		return nil, nil
	}
	if !q.Exact && len(q.Vector) == hnswDim {
		out, err := s.searchHNSW(ctx, q)
		if err != nil || len(out) >= q.K {
			return out, err
		}
		q.Exact = true
	}
	var out []Scored
	err := s.do(ctx, func(ctx context.Context) error {
		sql, args := vectorSQL(q)
		rows, err := s.db.Pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Scored])
		return err
	})
	return out, err
}

func (s *Postgres) searchHNSW(ctx context.Context, q VectorQuery) ([]Scored, error) {
	var out []Scored
	err := s.do(ctx, func(ctx context.Context) error {
		b := hnswBatch(q)
		br := s.db.Pool.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		if out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Scored]); err != nil {
			return err
		}
		return br.Close()
	})
	if err != nil {
		return nil, err
	}
	// relaxed order: nearly sorted; best first, ties by chunk
	slices.SortFunc(out, func(a, b Scored) int {
		return cmp.Or(cmp.Compare(b.Score, a.Score), cmp.Compare(a.DocID, b.DocID), cmp.Compare(a.Seq, b.Seq))
	})
	return out, nil
}

// hnswBatch is q's approximate search as one batch: the settings
// (hnsw.ef_search from k, the iterative scan, sorting off) made local to
// the batch's implicit transaction, then the statement — one round trip,
// where an explicit transaction takes four (each a wait for the server to
// be scheduled on a loaded machine).
func hnswBatch(q VectorQuery) *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true),
		set_config('enable_sort', 'off', true)`, strconv.Itoa(efSearch(q.K)))
	sql, args := vectorSQL(q)
	b.Queue(sql, args...)
	return b
}

// VectorDim implements VectorSearcher.
func (s *Postgres) VectorDim(ctx context.Context, coll string, refined bool) (dim int, err error) {
	table := "vectors"
	if refined {
		table = "vectors_refined"
	}
	err = s.do(ctx, func(ctx context.Context) error {
		err := s.db.Pool.QueryRow(ctx, `SELECT dim FROM `+table+` WHERE coll = $1 LIMIT 1`, coll).Scan(&dim)
		if errors.Is(err, pgx.ErrNoRows) {
			dim, err = 0, nil
		}
		return err
	})
	return dim, err
}

// VectorCount implements VectorSearcher.
func (s *Postgres) VectorCount(ctx context.Context, coll string, refined bool, skip []string) (n int, err error) {
	table := "vectors"
	if refined {
		table = "vectors_refined"
	}
	if skip == nil {
		skip = []string{} // not NULL: <> ALL (NULL) holds for no row
	}
	err = s.do(ctx, func(ctx context.Context) error {
		return s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE coll = $1 AND doc <> ALL ($2::text[])`, coll, skip).Scan(&n)
	})
	return n, err
}

// VectorTableRows implements VectorSearcher (pg_class.reltuples: -1 before
// the table's first VACUUM or ANALYZE, reported as 0).
func (s *Postgres) VectorTableRows(ctx context.Context, refined bool) (n int64, err error) {
	table := "vectors"
	if refined {
		table = "vectors_refined"
	}
	err = s.do(ctx, func(ctx context.Context) error {
		var f float64
		err := s.db.Pool.QueryRow(ctx, `SELECT reltuples FROM pg_class WHERE oid = $1::regclass`, table).Scan(&f)
		n = max(int64(f), 0)
		return err
	})
	return n, err
}
