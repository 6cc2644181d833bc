DROP INDEX IF EXISTS term_docs_wide;
DROP INDEX IF EXISTS term_docs_bounds;
