-- The documents each run quotes (its passages', evidence's and citations'),
-- so that deleting a document finds the runs to scrub without reading
-- every run. Runs written before this index are added by the store at
-- start (runs.cited false).
CREATE TABLE run_documents (
    tenant      text NOT NULL,
    collection  text NOT NULL,
    document_id text NOT NULL,
    run_id      text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    PRIMARY KEY (tenant, collection, document_id, run_id)
);
CREATE INDEX run_documents_run ON run_documents (run_id);
ALTER TABLE runs ADD COLUMN cited boolean NOT NULL DEFAULT false;
