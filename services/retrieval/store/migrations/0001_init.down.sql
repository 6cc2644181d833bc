DROP FUNCTION IF EXISTS notify_change(text, text, text, text);
DROP TABLE IF EXISTS vectors_refined, vectors, postings, chunks, jobs, documents, collections;
DROP SEQUENCE IF EXISTS doc_seq;
