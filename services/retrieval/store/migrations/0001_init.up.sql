-- Retrieval's schema (search_path = retrieval, public). Text keys are
-- COLLATE "C" so that orders match the embedded store's byte order.
CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;

CREATE SEQUENCE doc_seq;

CREATE TABLE collections (
    name        text COLLATE "C" PRIMARY KEY,
    create_time timestamptz NOT NULL,
    documents   int         NOT NULL DEFAULT 0,
    chunks      bigint      NOT NULL DEFAULT 0,
    total_len   bigint      NOT NULL DEFAULT 0
);

-- A document's fields are its JSON (the embedded store's encoding, so new
-- fields travel without a migration); the columns are what queries select by.
CREATE TABLE documents (
    coll   text COLLATE "C" NOT NULL REFERENCES collections (name) ON DELETE CASCADE,
    id     text COLLATE "C" NOT NULL,
    seq    bigint NOT NULL,
    state  text   NOT NULL,
    sha256 text   NOT NULL,
    doc    jsonb  NOT NULL,
    PRIMARY KEY (coll, id)
);
CREATE INDEX documents_sha256 ON documents (sha256);
CREATE INDEX documents_unfinished ON documents (seq) WHERE state IN ('PENDING', 'PROCESSING');

-- Ingestion jobs: a shared queue. A replica claims the oldest job whose
-- lease is free or expired (FOR UPDATE SKIP LOCKED) and renews the lease
-- while it works; a killed replica's job is claimed again once it expires.
CREATE TABLE jobs (
    coll        text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    seq         bigint NOT NULL,
    password    text   NOT NULL DEFAULT '',
    owner       text,
    lease_until timestamptz,
    PRIMARY KEY (coll, id),
    FOREIGN KEY (coll, id) REFERENCES documents (coll, id) ON DELETE CASCADE
);
CREATE INDEX jobs_seq ON jobs (seq);

CREATE TABLE chunks (
    coll  text COLLATE "C" NOT NULL,
    doc   text COLLATE "C" NOT NULL,
    seq   int   NOT NULL,
    chunk jsonb NOT NULL,
    PRIMARY KEY (coll, doc, seq),
    FOREIGN KEY (coll, doc) REFERENCES documents (coll, id) ON DELETE CASCADE
);

-- BM25 postings, one row per (term, chunk), the embedded store's key order.
CREATE TABLE postings (
    coll text COLLATE "C" NOT NULL,
    term text COLLATE "C" NOT NULL,
    doc  text COLLATE "C" NOT NULL,
    seq  int NOT NULL,
    tf   int NOT NULL,
    len  int NOT NULL,
    PRIMARY KEY (coll, term, doc, seq)
);
CREATE INDEX postings_doc ON postings (coll, doc);

-- Fast and refined vectors. The dimension is the model's; an HNSW index
-- (cosine) covers the 384-dimension models pdfqa ships.
CREATE TABLE vectors (
    coll      text COLLATE "C" NOT NULL,
    doc       text COLLATE "C" NOT NULL,
    seq       int NOT NULL,
    dim       int NOT NULL,
    embedding vector NOT NULL,
    PRIMARY KEY (coll, doc, seq),
    FOREIGN KEY (coll, doc) REFERENCES documents (coll, id) ON DELETE CASCADE
);
CREATE INDEX vectors_hnsw_384 ON vectors USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE dim = 384;

CREATE TABLE vectors_refined (
    coll      text COLLATE "C" NOT NULL,
    doc       text COLLATE "C" NOT NULL,
    seq       int NOT NULL,
    dim       int NOT NULL,
    embedding vector NOT NULL,
    PRIMARY KEY (coll, doc, seq),
    FOREIGN KEY (coll, doc) REFERENCES documents (coll, id) ON DELETE CASCADE
);
CREATE INDEX vectors_refined_hnsw_384 ON vectors_refined USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE dim = 384;

-- Committed changes, for other replicas' caches (LISTEN/NOTIFY).
CREATE FUNCTION notify_change(origin text, coll text, doc text, what text) RETURNS void AS $$
    SELECT pg_notify('retrieval_changes', json_build_object('origin', origin, 'coll', coll, 'doc', doc, 'what', what)::text);
$$ LANGUAGE sql;
