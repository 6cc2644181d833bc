// Package store persists the retrieval service's state in three parts, each
// an interface a server-backed store implements on its own:
//
//   - Meta: collections, documents and their durable ingestion jobs;
//   - Index: chunks, BM25 postings and vectors (fast and refined);
//   - Blobs: the uploaded PDF bytes, content-addressed by sha256.
//
// Meta and Index are one transactional database (Store): CommitIndex marks
// the document READY in the transaction that writes its index, and deleting
// a document drops its index with it. The embedded implementation is Bolt
// (one bbolt file) for Store and Files (a directory) for Blobs; no bbolt
// type appears in the interfaces.
package store

import (
	"context"
	"errors"
	"io"
	"time"
)

// Domain errors (mapped to gRPC codes by the service's table).
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	// ErrBadToken: a page token this store did not issue.
	ErrBadToken = errors.New("invalid argument")
	// ErrConflict: the document changed under a background update.
	ErrConflict = errors.New("conflict")
)

// Document states, mirroring the proto enum.
const (
	StatePending    = "PENDING"
	StateProcessing = "PROCESSING"
	StateReady      = "READY"
	StateFailed     = "FAILED"
)

// Collection is a named set of documents.
type Collection struct {
	Name       string    `json:"name"`
	CreateTime time.Time `json:"create_time"`
	Documents  int       `json:"documents"`
	Chunks     int64     `json:"chunks"`
	// TotalLen is the sum of chunk lengths in terms (for BM25's avgdl).
	TotalLen int64 `json:"total_len"`
}

// Document is one uploaded PDF and its ingestion state.
type Document struct {
	ID         string            `json:"id"`
	Collection string            `json:"collection"`
	Name       string            `json:"name"`
	SHA256     string            `json:"sha256"`
	Size       int64             `json:"size"`
	Seq        uint64            `json:"seq"` // upload order
	Pages      int               `json:"pages"`
	State      string            `json:"state"`
	Error      string            `json:"error,omitempty"`
	Chunks     int               `json:"chunks"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	OCRPages   []int32           `json:"ocr_pages,omitempty"`
	Warnings   []string          `json:"warnings,omitempty"`
	// EmbedModel names the model the stored vectors come from ("" for
	// documents indexed before models were recorded: the inference default).
	EmbedModel string `json:"embed_model,omitempty"`
	// RefinedModel names the model of the document's refined vectors (the
	// contextual model, computed in the background after READY); "" until
	// then. Re-indexing the document clears them.
	RefinedModel string `json:"refined_model,omitempty"`
	// Card says what the document is (derived at ingestion).
	Card       Card      `json:"card,omitempty"`
	CreateTime time.Time `json:"create_time"`
	UpdateTime time.Time `json:"update_time"`
	// Attempts counts ingestion starts (restart recovery gives up after a few).
	Attempts int `json:"attempts"`
}

// Card says what a document is: issuer, form, reporting and fiscal
// period; fields are empty when the document does not state them. Summary
// is the one-line context indexed with each of its chunks.
type Card struct {
	Title        string `json:"title,omitempty"`
	Issuer       string `json:"issuer,omitempty"`
	FormType     string `json:"form_type,omitempty"`
	Period       string `json:"period,omitempty"`
	PeriodEnd    string `json:"period_end,omitempty"` // YYYY-MM-DD
	FiscalPeriod string `json:"fiscal_period,omitempty"`
	Summary      string `json:"summary,omitempty"`
}

// Box is a rectangle on a 1-based page, in PDF points from the top-left.
type Box struct {
	Page           int32
	X0, Y0, X1, Y1 float32
}

// Chunk kinds.
const (
	KindText  = "TEXT"
	KindTable = "TABLE"
	KindOCR   = "OCR"
)

// Chunk is one indexed passage.
type Chunk struct {
	DocID   string `json:"doc"`
	Seq     int    `json:"seq"`
	DocName string `json:"name"`
	Page    int    `json:"page"`
	PageEnd int    `json:"page_end"`
	Text    string `json:"text"`
	Boxes   []Box  `json:"boxes,omitempty"`
	Kind    string `json:"kind"`
	Heading string `json:"heading,omitempty"`
	// Table names the table a TABLE chunk was cut from ("p4-t0": page 4,
	// first table); chunks of one table share it.
	Table string `json:"table,omitempty"`
	// Context is the document card's summary, indexed with the chunk (a
	// contextual chunk header: "Apple Inc. · Form 10-Q · Q3 2022 · ...").
	Context string `json:"context,omitempty"`
	// Images counts the image objects on the chunk's pages.
	Images int `json:"images,omitempty"`
	Tokens int `json:"tokens"`
	// Terms are the analysed index terms with their counts (kept so that
	// deleting the chunk can remove exactly its postings).
	Terms map[string]int `json:"terms"`
	Len   int            `json:"len"`
}

// Posting is one term occurrence list entry.
type Posting struct {
	DocID string
	Seq   int
	TF    int
	Len   int
}

// Meta holds collections, documents and their ingestion jobs (a job is a
// PENDING or PROCESSING document and its password).
type Meta interface {
	// CreateCollection creates the collection unless it exists; created
	// reports which.
	CreateCollection(ctx context.Context, name string) (c Collection, created bool, err error)
	GetCollection(ctx context.Context, name string) (Collection, error)
	ListCollections(ctx context.Context) ([]Collection, error)
	// DeleteCollection deletes a collection with its documents, jobs and
	// index, and returns the blob hashes no document references any more
	// (the caller deletes them from Blobs).
	DeleteCollection(ctx context.Context, name string) (unreferenced []string, err error)

	// AddDocument inserts d (PENDING) and its job unless the collection
	// already holds a document with the same id; then it returns that one
	// and true. The collection is created if missing.
	AddDocument(ctx context.Context, d Document, password string) (Document, bool, error)
	GetDocument(ctx context.Context, coll, id string) (Document, error)
	// ListDocuments lists a collection's documents in upload order.
	ListDocuments(ctx context.Context, coll string) ([]Document, error)
	// UpdateDocument applies fn to the document; a READY or FAILED
	// document's job is cleared.
	UpdateDocument(ctx context.Context, coll, id string, fn func(*Document)) (Document, error)
	// DeleteDocument deletes a document with its job and index, and returns
	// the blob hashes no document references any more.
	DeleteDocument(ctx context.Context, coll, id string) (unreferenced []string, err error)
	JobPassword(ctx context.Context, coll, id string) (string, error)
	// Unfinished lists documents left PENDING or PROCESSING.
	Unfinished(ctx context.Context) ([]Document, error)
}

// Index holds a collection's searchable index: chunks, postings and
// vectors, by document.
type Index interface {
	// CommitIndex writes a document's chunks, postings and vectors (nil when
	// unavailable), replacing what an earlier attempt wrote and dropping its
	// refined vectors, clears its job and applies fn to it, in one
	// transaction with the document's metadata.
	CommitIndex(ctx context.Context, coll, id string, chunks []Chunk, vecs [][]float32, fn func(*Document)) (Document, error)
	Chunk(ctx context.Context, coll, docID string, seq int) (Chunk, error)
	// Chunks returns the chunks refs name that exist, in the order of refs
	// (one read for a search's candidates; a chunk deleted meanwhile is
	// left out), without their keyword terms (Terms nil: decoding every
	// candidate's term counts was a fifth of a search's CPU at 100k chunks;
	// Chunk and ListChunks keep them).
	Chunks(ctx context.Context, coll string, refs []ChunkRef) ([]Chunk, error)
	// Postings calls fn for every posting of term in coll.
	Postings(ctx context.Context, coll string, terms []string, fn func(term string, df int64, ps []Posting)) error
	// Vectors calls fn for every stored vector of coll, by document.
	Vectors(ctx context.Context, coll string, fn func(docID string, seqs []int, vecs [][]float32)) error
	// PutRefinedVectors replaces a READY document's refined vectors (one per
	// chunk, by seq) and records their model, in one transaction. It fails
	// with ErrConflict when the document is not READY or its chunk count is
	// not chunks (it was re-indexed meanwhile).
	PutRefinedVectors(ctx context.Context, coll, id string, chunks int, seqs []int, vecs [][]float32, model string) (Document, error)
	// RefinedVectors is Vectors for the refined vectors.
	RefinedVectors(ctx context.Context, coll string, fn func(docID string, seqs []int, vecs [][]float32)) error
	// ListChunks returns up to limit chunks after the key token (exclusive).
	ListChunks(ctx context.Context, coll, docID, after string, limit int) ([]Chunk, string, error)
}

// ChunkRef names one chunk of a collection.
type ChunkRef struct {
	DocID string
	Seq   int
}

// Scored is one chunk and its score.
type Scored struct {
	DocID string
	Seq   int
	Score float64
}

// KeywordRanker is implemented by a store that scores BM25 where its
// postings are (a database server) instead of handing every posting of
// every query term to the caller. The caller computes the weights and idfs
// (from DocFreqs) with the arithmetic it uses on the postings itself; the
// ranker adds each chunk's contributions in the order of terms, so that
// scores, and the order of ties, are those of the caller's own BM25.
type KeywordRanker interface {
	// DocFreqs returns the collection (its chunk count and total length)
	// and, for each of terms, how many of its chunks hold it.
	DocFreqs(ctx context.Context, coll string, terms []string) (Collection, []int64, error)
	// RankBM25 returns the k best-scoring chunks, best first, and every
	// chunk tied with the k-th, of the documents allow (nil: all); chunk
	// (d, s) scores the sum over i of w[i] * BM25 with idf[i] of terms[i]
	// in it, mean chunk length avg.
	RankBM25(ctx context.Context, coll string, terms []string, w, idf []float64, avg float64, k int, allow []string) ([]Scored, error)
}

// Store is the transactional part of the persistence: metadata and index
// in one database.
type Store interface {
	Meta
	Index
	Close() error
}

// Blobs stores uploaded bytes under their sha256 (lowercase hex), the shape
// of an object store bucket (gocloud.dev/blob: file, S3, GCS, Azure).
type Blobs interface {
	// Put stores data durably and returns its sha256; storing bytes that
	// are already there is a no-op.
	Put(ctx context.Context, data []byte) (sha string, err error)
	// PutReader stores what r yields, hashing it while it streams (never
	// holding it whole), and returns its sha256 and size. When r fails
	// (an upload over the limit, a dropped client) or ctx ends, nothing is
	// left behind and r's error is returned, wrapped.
	PutReader(ctx context.Context, r io.Reader) (sha string, size int64, err error)
	// Get returns the bytes of sha; ErrNotFound when there are none.
	Get(ctx context.Context, sha string) ([]byte, error)
	// Delete removes sha; deleting a missing blob is not an error.
	Delete(ctx context.Context, sha string) error
	Close() error
}

// Queue is implemented by a store that several replicas share: ingestion
// jobs are claimed from it (each by one replica at a time, under a lease
// the claimer renews while it works) instead of from one process's memory,
// so a job of a replica that died is claimed again when its lease expires.
type Queue interface {
	// Claim leases the oldest job no live replica holds to owner; ok is
	// false when there is none.
	Claim(ctx context.Context, owner string, lease time.Duration) (coll, id string, ok bool, err error)
	// Renew extends owner's lease; false when owner lost it.
	Renew(ctx context.Context, coll, id, owner string, lease time.Duration) (bool, error)
	// Release gives owner's job back at once (an interrupted ingestion).
	Release(ctx context.Context, coll, id, owner string) error
}

// Leaser is implemented by a store several replicas share: background
// work only one replica may do at a time (refining a document's vectors)
// is done under a lease its holder renews while it works; the lease of a
// holder that died (never renewed nor released) expires, and another
// replica takes the work over.
type Leaser interface {
	// Acquire takes the lease on key for owner for lease from now, unless
	// another owner holds it unexpired; held reports whether owner holds it
	// now. Acquiring a lease owner holds renews it.
	Acquire(ctx context.Context, key, owner string, lease time.Duration) (held bool, err error)
	// ReleaseLease gives owner's lease on key back (a no-op when owner does
	// not hold it).
	ReleaseLease(ctx context.Context, key, owner string) error
}

// Change is a committed change another replica made: a document indexed,
// refined or deleted ("document", "refined", "document_deleted"), a
// collection deleted ("collection_deleted"), or a new job ("job").
type Change struct {
	Coll, Doc, What string
}

// Watcher is implemented by a shared store that announces other replicas'
// commits, so that in-memory caches can drop what they changed.
type Watcher interface {
	// Watch calls fn for every change committed by another store instance
	// until ctx ends; after a lost connection it reconnects and calls fn
	// with a zero Change (anything may have changed meanwhile).
	Watch(ctx context.Context, fn func(Change)) error
}
