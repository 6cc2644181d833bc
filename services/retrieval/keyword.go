package retrieval

import (
	"context"
	"slices"

	"github.com/pdfqa/pdfqa/services/retrieval/index"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// BM25 on a store that ranks where its postings are (PostgreSQL).
//
// The scores are the embedded store's, bit for bit: the same weights,
// idfs and mean length, each chunk's contributions added in the order of
// the query's terms (float addition is not associative), ties by id. The
// work is bounded with MaxScore (Turtle & Flood 1995): a term adds at most
// ub = w * idf * (k1+1) to a chunk (tf/(tf+c) < 1). The rarest terms'
// posting lists name the first candidates, scored exactly in Go with the
// other terms' counts fetched for those chunks only; the k-th best of them
// is a threshold θ. A chunk holding none of the rare terms scores at most
// the sum of the other terms' ubs: when that is below θ, no such chunk
// reaches the top k, and the candidates' top k is the answer. Otherwise
// (every term common, or too few candidates) the server sums the whole
// lists itself (bm25_top) and returns only the top k.

// maxCandidateShare bounds the postings fetched for candidates: past a
// fifth of the collection, summing on the server is cheaper.
const maxCandidateShare = 5

// rankPath, when set (by tests), is told which path each ranking took.
var rankPath func(pruned bool)

func bm25Ranked(ctx context.Context, st store.Index, r store.KeywordRanker, coll string, terms []string, weight map[string]float64, k int, allow map[string]bool) ([]index.Hit, error) {
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
	var ws, idfs, ub []float64
	var df []int64
	for i, t := range terms {
		if dfs[i] <= 0 {
			continue
		}
		w := 1.0
		if x, ok := weight[t]; ok {
			w = x
		}
		idf := index.IDF(dfs[i], c.Chunks)
		ts, ws, idfs, df = append(ts, t), append(ws, w), append(idfs, idf), append(df, dfs[i])
		// (1+1e-9): no rounding lets a contribution pass its bound
		ub = append(ub, w*idf*(index.BM25K1+1)*(1+1e-9))
	}
	if len(ts) == 0 {
		return nil, nil
	}
	hits, pruned, err := maxScore(ctx, st, r, coll, ts, ws, df, ub, c.Chunks, avg, k, allow)
	if rankPath != nil && err == nil {
		rankPath(pruned)
	}
	if err != nil || pruned {
		return hits, err
	}
	var docs []string
	if allow != nil {
		docs = make([]string, 0, len(allow))
		for d := range allow {
			docs = append(docs, d)
		}
	}
	srvAvg := avg
	if srvAvg <= 0 {
		srvAvg = 1 // as index.BM25
	}
	scored, err := r.RankBM25(ctx, coll, ts, ws, idfs, srvAvg, k, docs)
	if err != nil {
		return nil, err
	}
	hits = make([]index.Hit, len(scored))
	for i, s := range scored {
		hits[i] = index.Hit{ID: chunkID(s.DocID, s.Seq), Score: s.Score}
	}
	return index.TopK(hits, k), nil
}

// maxScore is the pruned path; ok is false when it cannot prove its
// candidates hold the top k (the caller then ranks on the server).
func maxScore(ctx context.Context, st store.Index, r store.KeywordRanker, coll string, ts []string, ws []float64, df []int64, ub []float64,
	n int64, avg float64, k int, allow map[string]bool) ([]index.Hit, bool, error) {
	// terms by bound, highest (rarest) first
	order := make([]int, len(ts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case ub[a] > ub[b]:
			return -1
		case ub[a] < ub[b]:
			return 1
		}
		return 0
	})
	// the rare terms: the fewest whose lists can fill the top k
	var sum int64
	p := 0
	for p < len(order) && sum < int64(k) {
		sum += df[order[p]]
		p++
	}
	if p == len(order) || sum > n/maxCandidateShare {
		return nil, false, nil
	}
	// the bound of a chunk holding none of the rare terms
	rest := 0.0
	for _, i := range order[p:] {
		rest += ub[i]
	}
	rare := make([]string, p)
	for j, i := range order[:p] {
		rare[j] = ts[i]
	}
	// candidates: every chunk of the rare lists (in allow), with its
	// length and its counts of every term, by term position
	type cand struct {
		len int
		tf  []int
	}
	at := map[store.ChunkRef]int{}
	var refs []store.ChunkRef
	var cands []cand
	err := st.Postings(ctx, coll, rare, func(term string, _ int64, ps []store.Posting) {
		for _, x := range ps {
			if allow != nil && !allow[x.DocID] {
				continue
			}
			ref := store.ChunkRef{DocID: x.DocID, Seq: x.Seq}
			j, ok := at[ref]
			if !ok {
				j = len(refs)
				at[ref] = j
				refs = append(refs, ref)
				cands = append(cands, cand{len: x.Len, tf: make([]int, len(ts))})
			}
			for i, t := range ts {
				if t == term {
					cands[j].tf[i] = x.TF
				}
			}
		}
	})
	if err != nil {
		return nil, false, err
	}
	if len(cands) < k {
		// fewer candidates than k: the threshold would be 0
		return nil, false, nil
	}
	others := make([]string, 0, len(order)-p)
	pos := make([]int, 0, len(order)-p)
	for _, i := range order[p:] {
		others, pos = append(others, ts[i]), append(pos, i)
	}
	if err := r.TermCounts(ctx, coll, others, refs, func(ref, term, tf int) { cands[ref].tf[pos[term]] = tf }); err != nil {
		return nil, false, err
	}
	hits := make([]index.Hit, len(cands))
	for j, cd := range cands {
		s := 0.0
		for i, tf := range cd.tf {
			if tf > 0 {
				s += ws[i] * index.BM25(tf, cd.len, df[i], n, avg)
			}
		}
		hits[j] = index.Hit{ID: chunkID(refs[j].DocID, refs[j].Seq), Score: s}
	}
	hits = index.TopK(hits, k)
	if rest >= hits[k-1].Score {
		return nil, false, nil // a chunk outside the candidates could rank
	}
	return hits, true, nil
}
