package retrieval

import (
	"context"

	"github.com/pdfqa/pdfqa/services/retrieval/index"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// BM25 on a store that ranks where its postings are (both stores:
// block-max ranking, store/blockmax.go).
//
// The scores are the engine's exhaustive BM25, bit for bit: the same
// weights, idfs and mean length, each chunk's contributions added in the
// order of the query's terms (float addition is not associative), ties by
// id. Every query goes straight to the store's RankBM25: the MaxScore
// pre-pass that used to run first (candidates from the rarest terms'
// postings, the other terms probed chunk by chunk) returned the same top k
// and cost a third of the ranking itself at 100k chunks (issue #12).

func bm25Ranked(ctx context.Context, _ store.Index, r store.KeywordRanker, coll string, terms []string, weight map[string]float64, k int, allow map[string]bool) ([]index.Hit, error) {
	var docs []string
	if allow != nil {
		docs = make([]string, 0, len(allow))
		for d := range allow {
			docs = append(docs, d)
		}
	}
	if q, ok := r.(store.QueryRanker); ok {
		// the frequencies and the ranking in one call (the same arithmetic)
		ws := make([]float64, len(terms))
		for i, t := range terms {
			ws[i] = 1.0
			if x, ok := weight[t]; ok {
				ws[i] = x
			}
		}
		scored, err := q.RankQuery(ctx, coll, terms, ws, k, docs)
		return scoredHits(scored, k), err
	}
	c, dfs, err := r.DocFreqs(ctx, coll, terms)
	if err != nil {
		return nil, err
	}
	if c.Chunks <= 0 {
		return nil, nil
	}
	avg := float64(c.TotalLen) / float64(c.Chunks)
	// terms no chunk holds score nothing (index.BM25 of df 0)
	var ts []string
	var ws, idfs []float64
	for i, t := range terms {
		if dfs[i] <= 0 {
			continue
		}
		w := 1.0
		if x, ok := weight[t]; ok {
			w = x
		}
		ts, ws, idfs = append(ts, t), append(ws, w), append(idfs, index.IDF(dfs[i], c.Chunks))
	}
	if len(ts) == 0 {
		return nil, nil
	}
	if avg <= 0 {
		avg = 1 // as index.BM25
	}
	scored, err := r.RankBM25(ctx, coll, ts, ws, idfs, avg, k, docs)
	return scoredHits(scored, k), err
}

// scoredHits are a ranking's k best as hits (ties with the k-th cut by id).
func scoredHits(scored []store.Scored, k int) []index.Hit {
	if len(scored) == 0 {
		return nil
	}
	hits := make([]index.Hit, len(scored))
	for i, s := range scored {
		hits[i] = index.Hit{ID: chunkID(s.DocID, s.Seq), Score: s.Score}
	}
	return index.TopK(hits, k)
}
