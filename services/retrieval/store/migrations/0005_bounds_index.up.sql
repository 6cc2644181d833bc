-- Search reads, for each query term, the counts and bound points of all
-- its term_docs rows (store.pgQueryStats, one statement a search). From
-- the heap that is one page per (term, document) row, scattered over a
-- table written a document at a time; from this index it is the term's
-- entries side by side, an index-only scan (issue #12). A btree entry
-- holds at most about 2.7 kB, so the rows whose bound points or names
-- could pass that (documents of more than ~500 chunks holding a term in
-- most blocks, very long names) are not in it and are read through
-- term_docs_wide, from the heap; the two predicates are each other's
-- negation and pgQueryStats names them as written here.
CREATE INDEX term_docs_bounds ON term_docs (coll, term, doc) INCLUDE (n, blk, btf, blen)
    WHERE cardinality(blk) <= 128 AND octet_length(coll) + octet_length(term) + octet_length(doc) <= 600;
CREATE INDEX term_docs_wide ON term_docs (coll, term)
    WHERE NOT (cardinality(blk) <= 128 AND octet_length(coll) + octet_length(term) + octet_length(doc) <= 600);
