DROP FUNCTION IF EXISTS bm25_top(text, text[], float8[], float8[], float8, int, text[]);
ALTER TABLE postings DROP CONSTRAINT postings_pkey;
ALTER TABLE postings ADD PRIMARY KEY (coll, term, doc, seq);
