-- Block-max BM25 (issue #12, store/blockmax.go): one row per (term,
-- document) with the term's postings in the document (seq, tf, len, by
-- seq) and, for each block of 16 consecutive chunks (seq / 16) holding the
-- term, its bound points (block, tf, len): the (tf, len) pairs no posting
-- of the block dominates. The search reads the bounds, orders the blocks
-- by them and reads the postings of the best blocks' documents only.
CREATE TABLE term_docs (
    coll text COLLATE "C" NOT NULL,
    term text COLLATE "C" NOT NULL,
    doc  text COLLATE "C" NOT NULL,
    n    int NOT NULL,
    blk  int[] NOT NULL,
    btf  int[] NOT NULL,
    blen int[] NOT NULL,
    seqs int[] NOT NULL,
    tfs  int[] NOT NULL,
    lens int[] NOT NULL,
    PRIMARY KEY (coll, term, doc)
);
CREATE INDEX term_docs_doc ON term_docs (coll, doc);

-- The rows of what was indexed before, from its postings; each block's
-- bound is one point here (its highest tf, its shortest chunk: still a
-- bound, if a looser one than the points CommitIndex writes).
INSERT INTO term_docs (coll, term, doc, n, blk, btf, blen, seqs, tfs, lens)
SELECT coll, term, doc, p.n, b.blk, b.btf, b.blen, p.seqs, p.tfs, p.lens
FROM (SELECT coll, term, doc, count(*)::int AS n,
             array_agg(seq ORDER BY seq) AS seqs, array_agg(tf ORDER BY seq) AS tfs, array_agg(len ORDER BY seq) AS lens
      FROM postings GROUP BY coll, term, doc) p
JOIN (SELECT coll, term, doc,
             array_agg(blk ORDER BY blk) AS blk, array_agg(mtf ORDER BY blk) AS btf, array_agg(mlen ORDER BY blk) AS blen
      FROM (SELECT coll, term, doc, seq / 16 AS blk, max(tf) AS mtf, min(len) AS mlen
            FROM postings GROUP BY coll, term, doc, seq / 16) x
      GROUP BY coll, term, doc) b USING (coll, term, doc);
