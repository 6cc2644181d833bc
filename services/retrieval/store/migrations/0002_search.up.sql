-- Search on the server (issue #12): the postings of a term are read from
-- the index alone (tf and len ride in the primary key's leaf pages, so a
-- posting list is one index range, no heap page per posting), and BM25 is
-- summed and cut to the top k where the postings are.
ALTER TABLE postings DROP CONSTRAINT postings_pkey;
ALTER TABLE postings ADD PRIMARY KEY (coll, term, doc, seq) INCLUDE (tf, len);

-- bm25_top returns the k best chunks of p_coll for the query terms (with
-- their weights and idfs, computed by the caller as the embedded store
-- does) and every chunk tied with the k-th, restricted to the documents
-- p_allow (NULL: all). Each score is the embedded store's float64
-- arithmetic term by term, summed in the order of p_terms (float addition
-- is not associative): the lateral subquery (OFFSET 0: never flattened
-- into a join the planner may reorder) is read term by term in order, the
-- hash aggregate (sorting is off: a sort would not keep the arrival
-- order) adds each chunk's contributions as they arrive, and no parallel
-- plan splits a chunk's sum. Identical scores, identical ties.
CREATE FUNCTION bm25_top(p_coll text, p_terms text[], p_w float8[], p_idf float8[], p_avg float8, p_k int, p_allow text[])
RETURNS TABLE (doc text, seq int, score float8)
LANGUAGE sql STABLE
SET max_parallel_workers_per_gather = 0
SET enable_sort = off
SET work_mem = '64MB'
AS $$
    SELECT p.doc, p.seq,
           sum(q.w * (q.idf * p.tf::float8 * 2.2::float8 / (p.tf::float8 + 1.2::float8 * (0.25::float8 + 0.75::float8 * p.len::float8 / p_avg)))) AS score
    FROM unnest(p_terms, p_w, p_idf) WITH ORDINALITY AS q (term, w, idf, ord)
    CROSS JOIN LATERAL (
        SELECT ps.doc, ps.seq, ps.tf, ps.len FROM postings ps
        WHERE ps.coll = p_coll AND ps.term = q.term AND (p_allow IS NULL OR ps.doc = ANY (p_allow))
        OFFSET 0
    ) p
    GROUP BY p.doc, p.seq
    ORDER BY score DESC
    FETCH FIRST p_k ROWS WITH TIES
$$;
