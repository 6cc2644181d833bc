package pdfqa

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/client"
)

// The contracts' types, used as they are.
type (
	Collection = retrievalv1.Collection
	Document   = retrievalv1.Document
	Passage    = retrievalv1.Passage
	Adapter    = inferencev1.Adapter
)

// Collections lists the collections.
func (c *Client) Collections(ctx context.Context) ([]*Collection, error) {
	r, err := c.retrieval.ListCollections(c.call(ctx), &retrievalv1.ListCollectionsRequest{})
	if err != nil {
		return nil, wrap(err)
	}
	return r.GetCollections(), nil
}

// Collection returns the collection named name (ErrNotFound when there is none).
func (c *Client) Collection(ctx context.Context, name string) (*Collection, error) {
	cs, err := c.Collections(ctx)
	if err != nil {
		return nil, err
	}
	for _, col := range cs {
		if col.GetName() == name {
			return col, nil
		}
	}
	return nil, &Error{Code: codes.NotFound, Message: fmt.Sprintf("collection %q not found", name)}
}

// Documents lists a collection's documents.
func (c *Client) Documents(ctx context.Context, collection string) ([]*Document, error) {
	r, err := c.retrieval.ListDocuments(c.call(ctx), &retrievalv1.ListDocumentsRequest{Collection: collection})
	if err != nil {
		return nil, wrap(err)
	}
	return r.GetDocuments(), nil
}

// Adapters lists the LoRA adapters the answering model can use.
func (c *Client) Adapters(ctx context.Context) ([]*Adapter, error) {
	r, err := c.inference.ListAdapters(c.call(ctx), &inferencev1.ListAdaptersRequest{})
	if err != nil {
		return nil, wrap(err)
	}
	return r.GetAdapters(), nil
}

// UnloadAdapter removes the LoRA adapter name. With sha256 (the Sha256 of
// the Adapter that Adapters listed), only while name is still that
// version: when another version has replaced it since (another load, a
// trainer's publish), nothing is removed and the error matches
// ErrFailedPrecondition (its Code is Aborted) and names the current
// digest. sha256 "" removes whatever version name has; a name not loaded
// is ErrNotFound.
func (c *Client) UnloadAdapter(ctx context.Context, name, sha256 string) error {
	_, err := c.inference.UnloadAdapter(c.call(ctx), &inferencev1.UnloadAdapterRequest{Name: name, Sha256: sha256})
	return wrap(err)
}

// DocumentState is where a document is in its ingestion.
type DocumentState = retrievalv1.DocumentState

// Document states: queued or being ingested, searchable, or failed (the
// reason in Document.Error).
const (
	DocumentPending    = retrievalv1.DocumentState_DOCUMENT_STATE_PENDING
	DocumentProcessing = retrievalv1.DocumentState_DOCUMENT_STATE_PROCESSING
	DocumentReady      = retrievalv1.DocumentState_DOCUMENT_STATE_READY
	DocumentFailed     = retrievalv1.DocumentState_DOCUMENT_STATE_FAILED
)

// SearchMode picks how Search ranks passages.
type SearchMode = retrievalv1.SearchMode

// Search modes.
const (
	Hybrid  = retrievalv1.SearchMode_SEARCH_MODE_HYBRID
	Keyword = retrievalv1.SearchMode_SEARCH_MODE_KEYWORD
	Vector  = retrievalv1.SearchMode_SEARCH_MODE_VECTOR
)

// SearchOptions tune Search; the zero value is the service's defaults.
type SearchOptions struct {
	TopK           int
	Mode           SearchMode
	DocumentIDs    []string
	Rerank         bool
	MaxPerDocument int
}

// Search returns the passages of collection that best answer query.
func (c *Client) Search(ctx context.Context, collection, query string, o *SearchOptions) ([]*Passage, error) {
	if strings.TrimSpace(query) == "" {
		return nil, invalid("search: empty query")
	}
	if o == nil {
		o = &SearchOptions{}
	}
	if o.TopK < 0 {
		return nil, invalid("search: negative top-k")
	}
	r, err := c.retrieval.Search(c.call(ctx), &retrievalv1.SearchRequest{Collection: collection, Query: query, TopK: int32(o.TopK),
		Mode: o.Mode, DocumentIds: o.DocumentIDs, Rerank: o.Rerank, MaxPerDocument: int32(o.MaxPerDocument)})
	if err != nil {
		return nil, wrap(err)
	}
	return r.GetPassages(), nil
}

// Progress is one step of one document's ingestion.
type Progress struct {
	// File is the path given; Name the document's name in the collection.
	File, Name string
	// Index is the file's position among those given (0-based), of Files.
	Index, Files int
	DocumentID   string
	// Stage is store, parse, ocr, chunk, embed, index or done.
	Stage       string
	Done, Total int
	Message     string
	// Duplicate: the collection already held these bytes.
	Duplicate bool
}

var stages = map[retrievalv1.IngestionStage]string{
	retrievalv1.IngestionStage_INGESTION_STAGE_STORE: "store", retrievalv1.IngestionStage_INGESTION_STAGE_PARSE: "parse",
	retrievalv1.IngestionStage_INGESTION_STAGE_OCR: "ocr", retrievalv1.IngestionStage_INGESTION_STAGE_CHUNK: "chunk",
	retrievalv1.IngestionStage_INGESTION_STAGE_EMBED: "embed", retrievalv1.IngestionStage_INGESTION_STAGE_INDEX: "index",
	retrievalv1.IngestionStage_INGESTION_STAGE_DONE: "done",
}

// Ingested is the outcome of one file: its document once ingestion ended
// (READY, or FAILED with the reason in Document.Error), or Err when it
// could not be read, uploaded or followed.
type Ingested struct {
	File     string
	Document *Document
	Err      error
}

// ErrIngestFailed marks an Ingest in which some document did not become READY.
var ErrIngestFailed = errors.New("ingestion failed")

// Ingest uploads each file into collection (created on first upload) and
// follows its ingestion to the end, calling progress (if not nil) with each
// step. It returns one Ingested per file, in order; the error joins every
// failure (errors.Is(err, ErrIngestFailed) for a document that FAILED).
func (c *Client) Ingest(ctx context.Context, collection string, progress func(Progress), files ...string) ([]Ingested, error) {
	if len(files) == 0 {
		return nil, invalid("ingest: no files")
	}
	out := make([]Ingested, len(files))
	var errs []error
	for i, f := range files {
		out[i] = Ingested{File: f}
		doc, err := c.ingestOne(ctx, collection, f, i, len(files), progress)
		out[i].Document, out[i].Err = doc, err
		if err == nil && doc.GetState() != retrievalv1.DocumentState_DOCUMENT_STATE_READY {
			err = fmt.Errorf("%w: %s: %s", ErrIngestFailed, f, doc.GetError())
		} else if err != nil {
			err = fmt.Errorf("%s: %w", f, err)
		}
		if err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return out, errors.Join(errs...)
}

func (c *Client) ingestOne(ctx context.Context, collection, file string, i, n int, progress func(Progress)) (*Document, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return c.ingest(ctx, collection, filepath.Base(file), f, Progress{File: file, Index: i, Files: n}, progress)
}

// IngestDocument uploads one PDF given as bytes under name and follows its
// ingestion as Ingest does; the document's state says how it ended.
func (c *Client) IngestDocument(ctx context.Context, collection, name string, data []byte, progress func(Progress)) (*Document, error) {
	if strings.TrimSpace(name) == "" {
		return nil, invalid("ingest: empty document name")
	}
	return c.ingest(ctx, collection, name, bytes.NewReader(data), Progress{File: name, Files: 1}, progress)
}

func (c *Client) ingest(ctx context.Context, collection, name string, r io.Reader, p Progress, progress func(Progress)) (*Document, error) {
	up, err := c.UploadStream(ctx, collection, name, r, nil)
	if err != nil {
		return nil, err
	}
	p.Name, p.DocumentID, p.Duplicate = name, up.Document.GetId(), up.Duplicate
	return c.follow(ctx, collection, p, progress)
}

// UploadOptions tune Upload; the zero value (or nil) is none.
type UploadOptions struct {
	// Password opens an encrypted PDF.
	Password string
}

// Uploaded is the answer to an upload: the document (PENDING, or its
// current state when the collection already held the same bytes:
// Duplicate).
type Uploaded struct {
	Document  *Document
	Duplicate bool
}

// Upload stores one PDF, given as bytes, under name in collection (created
// on first upload) and queues it for ingestion; Follow follows it. Ingest
// is both steps for files. It streams the bytes as UploadStream does.
func (c *Client) Upload(ctx context.Context, collection, name string, data []byte, o *UploadOptions) (*Uploaded, error) {
	return c.UploadStream(ctx, collection, name, bytes.NewReader(data), o)
}

// uploadChunk is the size of one streamed piece of an upload.
const uploadChunk = 256 << 10

// UploadStream is Upload of a PDF read from r (a file, a request body):
// the bytes go to retrieval's UploadDocumentStream in pieces and are never
// held whole, so a PDF of any size up to the mesh's upload limit uploads
// in bounded memory. Past the limit retrieval refuses the stream
// (ErrResourceExhausted) and keeps nothing; a failing r cancels it.
func (c *Client) UploadStream(ctx context.Context, collection, name string, r io.Reader, o *UploadOptions) (*Uploaded, error) {
	switch {
	case strings.TrimSpace(collection) == "":
		return nil, invalid("upload: no collection")
	case strings.TrimSpace(name) == "":
		return nil, invalid("upload: empty document name")
	case r == nil:
		return nil, invalid("upload: no content")
	}
	if o == nil {
		o = &UploadOptions{}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.retrieval.UploadDocumentStream(c.call(ctx))
	if err != nil {
		return nil, wrap(err)
	}
	h := &retrievalv1.UploadDocumentHeader{Collection: collection, Name: name, Password: o.Password}
	err = st.Send(&retrievalv1.UploadDocumentStreamRequest{Part: &retrievalv1.UploadDocumentStreamRequest_Header{Header: h}})
	for err == nil {
		// A fresh buffer each time: gRPC may still hold the last message.
		buf := make([]byte, uploadChunk)
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			err = st.Send(&retrievalv1.UploadDocumentStreamRequest{Part: &retrievalv1.UploadDocumentStreamRequest_Chunk{Chunk: buf[:n]}})
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return nil, fmt.Errorf("upload: reading %s: %w", name, rerr) // the deferred cancel ends the stream: nothing is kept
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, wrap(err)
	}
	// io.EOF from Send: retrieval ended the stream; CloseAndRecv says why.
	up, err := st.CloseAndRecv()
	if err != nil {
		return nil, wrap(err)
	}
	return &Uploaded{Document: up.GetDocument(), Duplicate: up.GetDuplicate()}, nil
}

// Follow follows one document's ingestion until it ends, calling progress
// (if not nil) with each step, and returns the document as it ended (READY,
// or FAILED with the reason in Document.Error).
func (c *Client) Follow(ctx context.Context, collection, documentID string, progress func(Progress)) (*Document, error) {
	if strings.TrimSpace(documentID) == "" {
		return nil, invalid("follow: empty document id")
	}
	return c.follow(ctx, collection, Progress{DocumentID: documentID, Files: 1}, progress)
}

func (c *Client) follow(ctx context.Context, collection string, p Progress, progress func(Progress)) (*Document, error) {
	st, err := c.retrieval.WatchIngestion(c.call(ctx), &retrievalv1.WatchIngestionRequest{Collection: collection, DocumentId: p.DocumentID}, grpc.WaitForReady(true))
	if err != nil {
		return nil, wrap(err)
	}
	err = client.Drain(st, func(ev *retrievalv1.WatchIngestionResponse) error {
		if progress != nil {
			p.Stage, p.Done, p.Total, p.Message = stages[ev.GetStage()], int(ev.GetDone()), int(ev.GetTotal()), ev.GetMessage()
			progress(p)
		}
		return nil
	})
	if err != nil {
		return nil, wrap(err)
	}
	return c.Document(ctx, collection, p.DocumentID)
}

// Document returns one document of collection by id.
func (c *Client) Document(ctx context.Context, collection, id string) (*Document, error) {
	got, err := c.retrieval.GetDocument(c.call(ctx), &retrievalv1.GetDocumentRequest{Collection: collection, DocumentId: id})
	if err != nil {
		return nil, wrap(err)
	}
	return got.GetDocument(), nil
}

// CreateCollection creates an empty collection (ErrAlreadyExists when one
// has that name; Upload creates one on first upload too).
func (c *Client) CreateCollection(ctx context.Context, name string) (*Collection, error) {
	r, err := c.retrieval.CreateCollection(c.call(ctx), &retrievalv1.CreateCollectionRequest{Name: name})
	if err != nil {
		return nil, wrap(err)
	}
	return r.GetCollection(), nil
}
