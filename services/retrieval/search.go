package retrieval

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/index"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

func chunkID(doc string, seq int) string { return doc + "-" + strconv.Itoa(seq) }

func splitChunkID(id string) (string, int, bool) {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(id[i+1:])
	return id[:i], n, err == nil
}

// Search modes.
const (
	ModeHybrid  = "hybrid"
	ModeKeyword = "keyword"
	ModeVector  = "vector"
)

// Query is a search request.
type Query struct {
	Collection string
	Text       string
	TopK       int
	DocIDs     []string
	Mode       string
	Rerank     bool
	// MaxPerDoc caps the passages from one document (0: none; scoping may
	// set one for a question about change over time).
	MaxPerDoc int
	// NoScope turns off scoping by document cards (see scope.go).
	NoScope bool
	// VectorWeight overrides Config.VectorWeight for this query (0: keep).
	VectorWeight float64
}

// Result is one passage.
type Result struct {
	Chunk store.Chunk
	Score float64
}

// candidates taken from each list before fusion.
const fuseDepth = 100

// Search runs BM25 and vector search and fuses them with RRF (k=60).
// When the query cannot be embedded, hybrid search falls back to keyword.
func (e *Engine) Search(ctx context.Context, q Query) ([]Result, error) {
	if strings.TrimSpace(q.Text) == "" {
		return nil, fmt.Errorf("%w: empty query", ErrInvalid)
	}
	if q.TopK <= 0 {
		q.TopK = 10
	}
	if q.TopK > 200 {
		return nil, fmt.Errorf("%w: top_k %d > 200", ErrInvalid, q.TopK)
	}
	if _, err := e.st.GetCollection(ctx, q.Collection); err != nil {
		return nil, err
	}
	if q.MaxPerDoc < 0 {
		return nil, fmt.Errorf("%w: max_per_document < 0", ErrInvalid)
	}
	var allow map[string]bool
	if len(q.DocIDs) > 0 {
		allow = map[string]bool{}
		for _, id := range q.DocIDs {
			allow[id] = true
		}
	} else if !q.NoScope {
		var perDoc int
		allow, perDoc, q.Text = scope(q.Text, e.cache.readyDocs(q.Collection), q.TopK)
		if q.MaxPerDoc == 0 {
			q.MaxPerDoc = perDoc
		}
	}
	out, err := e.search(ctx, q, allow)
	if err != nil || allow == nil || len(q.DocIDs) > 0 || len(out) >= q.TopK {
		return out, err
	}
	// the scoped documents hold too few passages: fill from the others
	rest, err := e.search(ctx, q, nil)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, r := range out {
		seen[chunkID(r.Chunk.DocID, r.Chunk.Seq)] = true
	}
	for _, r := range rest {
		if len(out) >= q.TopK {
			break
		}
		if !seen[chunkID(r.Chunk.DocID, r.Chunk.Seq)] {
			out = append(out, r)
		}
	}
	return out, nil
}

// search runs one fused search over the allowed documents (nil: all).
func (e *Engine) search(ctx context.Context, q Query, allow map[string]bool) ([]Result, error) {
	depth := max(fuseDepth, 3*q.TopK)
	w := e.cfg.VectorWeight
	if q.VectorWeight > 0 {
		w = q.VectorWeight
	}
	// The keyword and vector lists are independent: they are built at
	// once, so a hybrid search costs about the slower of the two (each
	// waits on its store — PostgreSQL's statements, or the other core —
	// and the vector side on the query's embedding) instead of their sum.
	var bm, vh []index.Hit
	keyword, vector := q.Mode != ModeVector, false
	g, gctx := errgroup.WithContext(ctx)
	if keyword {
		g.Go(func() error {
			var err error
			bm, err = e.bm25(gctx, q.Collection, q.Text, depth, allow)
			return err
		})
	}
	if q.Mode != ModeKeyword && e.emb != nil {
		g.Go(func() error {
			refined := e.cache.refinedReady(q.Collection)
			emb, vecs := e.emb, e.cache.fast
			if refined {
				emb, vecs = e.cfg.Refiner, e.cache.refined
			}
			v, err := embedQuery(gctx, emb, q.Text)
			switch {
			case err == nil:
				// (Fusing the fast vectors as a third list as well helped the
				// filings, 0.766 -> 0.788, and hurt the transcripts, 0.743 ->
				// 0.669: not kept. BENCHMARKS.md, issue #10.)
				hits, err := searchVectors(gctx, vecs(q.Collection), v, depth, allow)
				if err != nil {
					return fmt.Errorf("vector search: %w", err)
				}
				vh, vector = hits, true
			case q.Mode == ModeVector:
				return fmt.Errorf("vector search: %w", err)
			case gctx.Err() == nil: // not the keyword side's failure cancelling it
				e.log.Warn("query embedding failed; keyword search only", "err", err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var lists [][]index.Hit
	var weights []float64
	if keyword {
		lists, weights = append(lists, bm), append(weights, 1)
	}
	if vector {
		lists, weights = append(lists, vh), append(weights, w)
	}
	var hits []index.Hit
	if len(lists) == 1 {
		hits = lists[0]
	} else {
		hits = index.WeightedRRF(index.RRFK, weights, lists...)
	}
	n := q.TopK
	if q.Rerank {
		n = min(len(hits), max(3*q.TopK, 30))
	}
	reserve := 0
	if e.cfg.TableShare > 0 {
		reserve = int(e.cfg.TableShare*float64(n) + 0.5)
	}
	window, deep := n, 0
	switch {
	case q.MaxPerDoc > 0:
		hits = capPerDoc(hits, max(q.MaxPerDoc, 3*n)) // bound the window, keep choice for the final cap
		window = depth
	case reserve > 0:
		window = max(3*n, 30)
		// the reserve is drawn from every candidate, not the best 30: a
		// row that answers a question about a figure often ranks below the
		// dozens of paragraphs that discuss its line item (with the share
		// at 0.4: 0.790 -> 0.820 on the filings, transcripts unchanged;
		// BENCHMARKS.md, issue #10). The deeper candidates are read only
		// when the best 30 hold too few rows, and only their rows join.
		deep = depth
	}
	out, err := e.candidates(ctx, q.Collection, hits[:min(len(hits), window)])
	if err != nil {
		return nil, err
	}
	if deep > window && len(hits) > window && tableRows(out) < reserve {
		more, err := e.candidates(ctx, q.Collection, hits[window:min(len(hits), deep)])
		if err != nil {
			return nil, err
		}
		for _, r := range more {
			if r.Chunk.Kind == store.KindTable {
				out = append(out, r)
			}
		}
	}
	out = demoteRepeats(out)
	if reserve > 0 || q.MaxPerDoc > 0 {
		out = selectResults(out, n, q.MaxPerDoc, reserve)
	}
	if q.Rerank {
		out = rerank(q.Text, out)
	}
	if len(out) > q.TopK {
		out = out[:q.TopK]
	}
	return out, nil
}

// candidates reads the chunks of hits, in their order, with their fused
// scores: one read for all; a chunk deleted since the lists were built is
// left out, a store failure is an error (never an empty result).
func (e *Engine) candidates(ctx context.Context, coll string, hits []index.Hit) ([]Result, error) {
	refs := make([]store.ChunkRef, 0, len(hits))
	score := make(map[store.ChunkRef]float64, len(hits))
	for _, h := range hits {
		doc, seq, ok := splitChunkID(h.ID)
		if !ok {
			continue
		}
		r := store.ChunkRef{DocID: doc, Seq: seq}
		refs, score[r] = append(refs, r), h.Score
	}
	cs, err := e.st.Chunks(ctx, coll, refs)
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(cs))
	for i, c := range cs {
		out[i] = Result{c, score[store.ChunkRef{DocID: c.DocID, Seq: c.Seq}]}
	}
	return out, nil
}

// tableRows counts the table rows among rs.
func tableRows(rs []Result) int {
	n := 0
	for _, r := range rs {
		if r.Chunk.Kind == store.KindTable {
			n++
		}
	}
	return n
}

// embedQuery embeds one query under its own deadline.
func embedQuery(ctx context.Context, emb embed.Embedder, text string) ([]float32, error) {
	ectx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := emb.Embed(ectx, []string{text})
	if err == nil && len(v) != 1 {
		err = fmt.Errorf("embedder returned %d vectors for 1 query", len(v))
	}
	if err != nil {
		return nil, err
	}
	return v[0], nil
}

// selectResults keeps n of the candidates rs (best first): at most perDoc
// from any one document (0: no cap) and, when the candidates hold them, at
// least reserve table rows; spread over documents (perDoc > 0) with a
// reserve, each document's best table row is taken first. Constraints give
// way in that order when too few candidates meet them; the result stays in
// score order.
func selectResults(rs []Result, n, perDoc, reserve int) []Result {
	reserve = min(reserve, tableRows(rs), n)
	used := make([]bool, len(rs))
	per := map[string]int{}
	out := make([]Result, 0, n)
	other := 0
	pass := func(capped, mixed bool) {
		for i, r := range rs {
			if len(out) == n {
				return
			}
			if used[i] || (capped && perDoc > 0 && per[r.Chunk.DocID] >= perDoc) {
				continue
			}
			if mixed && r.Chunk.Kind != store.KindTable {
				if other >= n-reserve {
					continue
				}
				other++
			}
			used[i] = true
			per[r.Chunk.DocID]++
			out = append(out, r)
		}
	}
	if perDoc > 0 && reserve > 0 {
		// spread over documents: each document's best table row first, so
		// that every filing's own row of the figure asked about gets in
		got := map[string]bool{}
		for i, r := range rs {
			if len(out) == n {
				break
			}
			if r.Chunk.Kind == store.KindTable && !got[r.Chunk.DocID] {
				got[r.Chunk.DocID] = true
				used[i] = true
				per[r.Chunk.DocID]++
				out = append(out, r)
			}
		}
	}
	pass(true, true)
	pass(true, false)
	pass(false, false)
	slices.SortStableFunc(out, func(a, b Result) int { return cmp.Compare(b.Score, a.Score) })
	return out
}

// capPerDoc keeps at most k hits of each document, in order.
func capPerDoc(hits []index.Hit, k int) []index.Hit {
	per := map[string]int{}
	out := hits[:0:0]
	for _, h := range hits {
		doc, _, ok := splitChunkID(h.ID)
		if !ok || per[doc] >= k {
			continue
		}
		per[doc]++
		out = append(out, h)
	}
	return out
}

func (e *Engine) bm25(ctx context.Context, coll, text string, k int, allow map[string]bool) ([]index.Hit, error) {
	terms := uniq(index.Terms(text))
	weight := map[string]float64{}
	var expand []string
	if !e.cfg.NoExpansion {
		expand = index.Expand(terms)
	}
	for _, t := range expand {
		weight[t] = index.ExpansionWeight
		terms = append(terms, t)
	}
	if r, ok := e.st.(store.KeywordRanker); ok {
		return bm25Ranked(ctx, e.st, r, coll, terms, weight, k, allow)
	}
	c, err := e.st.GetCollection(ctx, coll)
	if err != nil {
		return nil, err
	}
	if c.Chunks <= 0 {
		return nil, nil
	}
	avg := float64(c.TotalLen) / float64(c.Chunks)
	scores := map[string]float64{}
	err = e.st.Postings(ctx, coll, terms, func(term string, df int64, ps []store.Posting) {
		w := 1.0
		if x, ok := weight[term]; ok {
			w = x
		}
		for _, p := range ps {
			if allow != nil && !allow[p.DocID] {
				continue
			}
			scores[chunkID(p.DocID, p.Seq)] += w * index.BM25(p.TF, p.Len, df, c.Chunks, avg)
		}
	})
	if err != nil {
		return nil, err
	}
	hits := make([]index.Hit, 0, len(scores))
	for id, s := range scores {
		hits = append(hits, index.Hit{ID: id, Score: s})
	}
	return index.TopK(hits, k), nil
}

func uniq(ts []string) []string {
	seen := map[string]bool{}
	out := ts[:0:0]
	for _, t := range ts {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// rerank is a cheap lexical reranker over the fused candidates: each score
// is multiplied by (1 + coverage + proximity), where coverage is the share
// of distinct query terms the passage contains and proximity is
// 1/(1+gap) for the shortest window of passage terms that holds all the
// query terms it contains (gap = window length minus terms matched). It
// favours passages that answer the whole question in one place.
func rerank(query string, rs []Result) []Result {
	qt := uniq(index.Terms(query))
	if len(qt) == 0 {
		return rs
	}
	for i := range rs {
		terms := index.Terms(rs[i].Chunk.Heading + "\n" + rs[i].Chunk.Text)
		want := map[string]int{}
		for j, t := range qt {
			want[t] = j
		}
		present := map[string]bool{}
		for _, t := range terms {
			if _, ok := want[t]; ok {
				present[t] = true
			}
		}
		cov := float64(len(present)) / float64(len(qt))
		prox := 0.0
		if len(present) > 1 {
			// shortest window containing every present query term
			count := map[string]int{}
			have, best, lo := 0, len(terms)+1, 0
			for hi, t := range terms {
				if !present[t] {
					continue
				}
				if count[t] == 0 {
					have++
				}
				count[t]++
				for have == len(present) {
					if w := hi - lo + 1; w < best {
						best = w
					}
					if lt := terms[lo]; present[lt] {
						count[lt]--
						if count[lt] == 0 {
							have--
						}
					}
					lo++
				}
			}
			prox = 1 / (1 + float64(best-len(present)))
		}
		rs[i].Score *= 1 + cov + prox
	}
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].Score > rs[j-1].Score; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	return rs
}
