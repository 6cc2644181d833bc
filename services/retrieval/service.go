// Package retrieval is the retrieval service: PDF ingestion (parse, OCR,
// tables, chunk, embed, index) and hybrid cited search.
//
// Service (service.go) maps gRPC onto Engine (engine.go), which composes:
//   - jobQueue (queue.go): documents waiting to be ingested;
//   - pipeline (ingest.go): one document's stages, parse → chunk → embed →
//     commit, with progress events (events.go);
//   - vectorCache (vectors.go): the in-memory fast and refined vector
//     indexes and READY documents per collection;
//   - the refiner (refine.go): background re-embedding with a better model;
//   - search (search.go, scope.go): BM25 + vectors, fused and scoped;
//   - the catalogue (catalogue.go): collections and documents created,
//     listed, uploaded and deleted;
//
// over the store package's Meta + Index (store.Store) and Blobs.
package retrieval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/auth"
	"github.com/pdfqa/pdfqa/platform/grpcerr"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// errTable is the one place domain errors become gRPC codes (ErrInvalid,
// the shared one, has grpcerr's).
var errTable = grpcerr.Table{
	{Err: store.ErrNotFound, Code: codes.NotFound},
	{Err: store.ErrAlreadyExists, Code: codes.AlreadyExists},
	{Err: store.ErrBadToken, Code: codes.InvalidArgument},
	{Err: parse.ErrPageRange, Code: codes.InvalidArgument},
	{Err: parse.ErrEncrypted, Code: codes.FailedPrecondition},
	{Err: parse.ErrInvalidPDF, Code: codes.FailedPrecondition},
	{Err: ErrUploadLarge, Code: codes.ResourceExhausted},
	{Err: ErrQueueFull, Code: codes.ResourceExhausted},
	{Err: ErrClosed, Code: codes.Unavailable},
	{Err: parse.ErrClosed, Code: codes.Unavailable},
	{Err: embed.ErrUnavailable, Code: codes.Unavailable},
	{Err: store.ErrUnavailable, Code: codes.Unavailable},
}

// Service implements retrievalv1.RetrievalServiceServer over an Engine.
type Service struct {
	retrievalv1.UnimplementedRetrievalServiceServer
	log *slog.Logger
	e   *Engine
}

// New opens the engine described by cfg and returns the service.
func New(cfg Config) (*Service, error) {
	e, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	return &Service{log: e.log, e: e}, nil
}

// Engine returns the domain engine (tests, benchmarks).
func (s *Service) Engine() *Engine { return s.e }

// Register adds the service to g.
func (s *Service) Register(g *grpc.Server) { retrievalv1.RegisterRetrievalServiceServer(g, s) }

// Close stops the ingestion workers and closes the store.
func (s *Service) Close() error { return s.e.Close() }

func collPB(c store.Collection) *retrievalv1.Collection {
	return &retrievalv1.Collection{Name: publicColl(c.Name), DocumentCount: int32(c.Documents), ChunkCount: c.Chunks, CreateTime: timestamppb.New(c.CreateTime)}
}

var states = map[string]retrievalv1.DocumentState{
	store.StatePending:    retrievalv1.DocumentState_DOCUMENT_STATE_PENDING,
	store.StateProcessing: retrievalv1.DocumentState_DOCUMENT_STATE_PROCESSING,
	store.StateReady:      retrievalv1.DocumentState_DOCUMENT_STATE_READY,
	store.StateFailed:     retrievalv1.DocumentState_DOCUMENT_STATE_FAILED,
}

var kinds = map[string]retrievalv1.PassageKind{
	store.KindText:  retrievalv1.PassageKind_PASSAGE_KIND_TEXT,
	store.KindTable: retrievalv1.PassageKind_PASSAGE_KIND_TABLE,
	store.KindOCR:   retrievalv1.PassageKind_PASSAGE_KIND_OCR,
}

func docPB(d store.Document) *retrievalv1.Document {
	return &retrievalv1.Document{Id: d.ID, Collection: publicColl(d.Collection), Name: d.Name, Sha256: d.SHA256, SizeBytes: d.Size,
		PageCount: int32(d.Pages), State: states[d.State], Error: d.Error, ChunkCount: int32(d.Chunks), Metadata: d.Metadata,
		CreateTime: timestamppb.New(d.CreateTime), UpdateTime: timestamppb.New(d.UpdateTime), OcrPages: d.OCRPages, Warnings: d.Warnings,
		EmbeddingModel: d.EmbedModel, RefinedModel: d.RefinedModel, Card: cardPB(d.Card)}
}

func cardPB(c store.Card) *retrievalv1.DocumentCard {
	if c == (store.Card{}) {
		return nil
	}
	return &retrievalv1.DocumentCard{Title: c.Title, Issuer: c.Issuer, FormType: c.FormType, Period: c.Period,
		PeriodEnd: c.PeriodEnd, FiscalPeriod: c.FiscalPeriod, Summary: c.Summary}
}

func passagePB(c store.Chunk, score float64, card store.Card) *retrievalv1.Passage {
	p := &retrievalv1.Passage{ChunkId: chunkID(c.DocID, c.Seq), DocumentId: c.DocID, DocumentName: c.DocName,
		Page: int32(c.Page), PageEnd: int32(c.PageEnd), Text: c.Text, Score: float32(score), Kind: kinds[c.Kind], Heading: c.Heading,
		PageImages: int32(c.Images), DocumentCard: cardPB(card)}
	if c.Table != "" {
		p.TableId = c.Table
	}
	for _, b := range c.Boxes {
		p.Boxes = append(p.Boxes, &retrievalv1.BoundingBox{Page: b.Page, X0: b.X0, Y0: b.Y0, X1: b.X1, Y1: b.Y1})
	}
	return p
}

func required(what, v string) error {
	if v == "" {
		return errors.Join(ErrInvalid, errors.New(what+" is required"))
	}
	return nil
}

// CreateCollection creates a collection (returning it unchanged if it exists).
func (s *Service) CreateCollection(ctx context.Context, r *retrievalv1.CreateCollectionRequest) (*retrievalv1.CreateCollectionResponse, error) {
	name, err := coll(ctx, r.GetName())
	if err != nil {
		return nil, errTable.Status(err)
	}
	c, err := s.e.CreateCollection(ctx, name)
	if err != nil {
		return nil, errTable.Status(err)
	}
	return &retrievalv1.CreateCollectionResponse{Collection: collPB(c)}, nil
}

// ListCollections lists the caller's tenant's collections.
func (s *Service) ListCollections(ctx context.Context, _ *retrievalv1.ListCollectionsRequest) (*retrievalv1.ListCollectionsResponse, error) {
	cs, err := s.e.ListCollections(ctx)
	if err != nil {
		return nil, errTable.Status(err)
	}
	out := &retrievalv1.ListCollectionsResponse{}
	tenant := auth.Tenant(ctx)
	for _, c := range cs {
		if t, _ := splitColl(c.Name); t != tenant {
			continue
		}
		out.Collections = append(out.Collections, collPB(c))
	}
	return out, nil
}

// DeleteCollection deletes a collection.
func (s *Service) DeleteCollection(ctx context.Context, r *retrievalv1.DeleteCollectionRequest) (*retrievalv1.DeleteCollectionResponse, error) {
	if err := required("name", r.GetName()); err != nil {
		return nil, errTable.Status(err)
	}
	name, err := coll(ctx, r.GetName())
	if err != nil {
		return nil, errTable.Status(err)
	}
	if err := s.e.DeleteCollection(ctx, name); err != nil {
		return nil, errTable.Status(err)
	}
	return &retrievalv1.DeleteCollectionResponse{}, nil
}

// UploadDocument stores a PDF and starts ingestion.
func (s *Service) UploadDocument(ctx context.Context, r *retrievalv1.UploadDocumentRequest) (*retrievalv1.UploadDocumentResponse, error) {
	c, err := coll(ctx, r.GetCollection())
	if err != nil {
		return nil, errTable.Status(err)
	}
	d, dup, err := s.e.Upload(c, r.GetName(), r.GetContent(), r.GetPassword())
	if err != nil {
		return nil, errTable.Status(err)
	}
	return &retrievalv1.UploadDocumentResponse{Document: docPB(d), Duplicate: dup}, nil
}

// UploadDocumentStream stores a streamed PDF (header, then chunks) and
// starts ingestion; the bytes go to the blob store as they arrive.
func (s *Service) UploadDocumentStream(st grpc.ClientStreamingServer[retrievalv1.UploadDocumentStreamRequest, retrievalv1.UploadDocumentStreamResponse]) error {
	first, err := st.Recv()
	if err != nil {
		return errTable.Status(errors.Join(ErrInvalid, fmt.Errorf("no upload header: %w", err)))
	}
	h := first.GetHeader()
	if h == nil {
		return errTable.Status(errors.Join(ErrInvalid, errors.New("the first message of an upload stream must be its header")))
	}
	c, err := coll(st.Context(), h.GetCollection())
	if err != nil {
		return errTable.Status(err)
	}
	d, dup, err := s.e.UploadStream(st.Context(), c, h.GetName(), &chunkReader{st: st}, h.GetPassword())
	if err != nil {
		return errTable.Status(err)
	}
	return st.SendAndClose(&retrievalv1.UploadDocumentStreamResponse{Document: docPB(d), Duplicate: dup})
}

// chunkReader reads an upload stream's chunks as one byte stream.
type chunkReader struct {
	st  grpc.ClientStreamingServer[retrievalv1.UploadDocumentStreamRequest, retrievalv1.UploadDocumentStreamResponse]
	buf []byte
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		m, err := r.st.Recv()
		if err != nil {
			return 0, err // io.EOF at the end of the stream
		}
		if m.GetHeader() != nil {
			return 0, errors.Join(ErrInvalid, errors.New("a second upload header"))
		}
		r.buf = m.GetChunk()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// GetDocument returns a document.
func (s *Service) GetDocument(ctx context.Context, r *retrievalv1.GetDocumentRequest) (*retrievalv1.GetDocumentResponse, error) {
	c, err := coll(ctx, r.GetCollection())
	if err != nil {
		return nil, errTable.Status(err)
	}
	d, err := s.e.Document(ctx, c, r.GetDocumentId())
	if err != nil {
		return nil, errTable.Status(err)
	}
	return &retrievalv1.GetDocumentResponse{Document: docPB(d)}, nil
}

// ListDocuments lists documents.
func (s *Service) ListDocuments(ctx context.Context, r *retrievalv1.ListDocumentsRequest) (*retrievalv1.ListDocumentsResponse, error) {
	c, err := coll(ctx, r.GetCollection())
	if err != nil {
		return nil, errTable.Status(err)
	}
	ds, err := s.e.Documents(ctx, c)
	if err != nil {
		return nil, errTable.Status(err)
	}
	out := &retrievalv1.ListDocumentsResponse{}
	for _, d := range ds {
		out.Documents = append(out.Documents, docPB(d))
	}
	return out, nil
}

// DeleteDocument deletes a document.
func (s *Service) DeleteDocument(ctx context.Context, r *retrievalv1.DeleteDocumentRequest) (*retrievalv1.DeleteDocumentResponse, error) {
	c, err := coll(ctx, r.GetCollection())
	if err != nil {
		return nil, errTable.Status(err)
	}
	if err := s.e.DeleteDocument(ctx, c, r.GetDocumentId()); err != nil {
		return nil, errTable.Status(err)
	}
	return &retrievalv1.DeleteDocumentResponse{}, nil
}

// WatchIngestion streams ingestion progress until READY or FAILED.
func (s *Service) WatchIngestion(r *retrievalv1.WatchIngestionRequest, st grpc.ServerStreamingServer[retrievalv1.WatchIngestionResponse]) error {
	c, err := coll(st.Context(), r.GetCollection())
	if err != nil {
		return errTable.Status(err)
	}
	err = s.e.Watch(st.Context(), c, r.GetDocumentId(), func(ev Event) error {
		return st.Send(&retrievalv1.WatchIngestionResponse{DocumentId: ev.DocID, Stage: ev.Stage, State: states[ev.State],
			Done: int32(ev.Done), Total: int32(ev.Total), Message: ev.Message, Time: timestamppb.New(ev.Time)})
	})
	return errTable.Status(err)
}

var modes = map[retrievalv1.SearchMode]string{
	retrievalv1.SearchMode_SEARCH_MODE_UNSPECIFIED: ModeHybrid,
	retrievalv1.SearchMode_SEARCH_MODE_HYBRID:      ModeHybrid,
	retrievalv1.SearchMode_SEARCH_MODE_KEYWORD:     ModeKeyword,
	retrievalv1.SearchMode_SEARCH_MODE_VECTOR:      ModeVector,
}

// Search searches a collection.
func (s *Service) Search(ctx context.Context, r *retrievalv1.SearchRequest) (*retrievalv1.SearchResponse, error) {
	mode, ok := modes[r.GetMode()]
	if !ok || r.GetTopK() < 0 {
		return nil, errTable.Status(errors.Join(ErrInvalid, errors.New("bad mode or top_k")))
	}
	c, err := coll(ctx, r.GetCollection())
	if err != nil {
		return nil, errTable.Status(err)
	}
	rs, err := s.e.Search(ctx, Query{Collection: c, Text: r.GetQuery(), TopK: int(r.GetTopK()),
		DocIDs: r.GetDocumentIds(), Mode: mode, Rerank: r.GetRerank(), MaxPerDoc: int(r.GetMaxPerDocument())})
	if err != nil {
		return nil, errTable.Status(err)
	}
	out := &retrievalv1.SearchResponse{}
	for _, x := range rs {
		out.Passages = append(out.Passages, passagePB(x.Chunk, x.Score, s.e.cardOf(c, x.Chunk.DocID)))
	}
	return out, nil
}

// ListChunks pages through chunks.
func (s *Service) ListChunks(ctx context.Context, r *retrievalv1.ListChunksRequest) (*retrievalv1.ListChunksResponse, error) {
	if r.GetPageSize() < 0 {
		return nil, errTable.Status(errors.Join(ErrInvalid, errors.New("page_size < 0")))
	}
	c, err := coll(ctx, r.GetCollection())
	if err != nil {
		return nil, errTable.Status(err)
	}
	var cs []store.Chunk
	var next string
	if r.GetTableId() != "" {
		cs, err = s.e.TableChunks(ctx, c, r.GetDocumentId(), r.GetTableId())
	} else {
		cs, next, err = s.e.ListChunks(ctx, c, r.GetDocumentId(), r.GetPageToken(), int(r.GetPageSize()))
	}
	if err != nil {
		return nil, errTable.Status(err)
	}
	out := &retrievalv1.ListChunksResponse{NextPageToken: next}
	for _, ch := range cs {
		out.Chunks = append(out.Chunks, passagePB(ch, 0, s.e.cardOf(c, ch.DocID)))
	}
	return out, nil
}

// RenderPage renders a page as PNG.
func (s *Service) RenderPage(ctx context.Context, r *retrievalv1.RenderPageRequest) (*retrievalv1.RenderPageResponse, error) {
	c, err := coll(ctx, r.GetCollection())
	if err != nil {
		return nil, errTable.Status(err)
	}
	png, w, h, err := s.e.RenderPage(ctx, c, r.GetDocumentId(), int(r.GetPage()), int(r.GetDpi()))
	if err != nil {
		return nil, s.briefStatus("render page", err)
	}
	return &retrievalv1.RenderPageResponse{Png: png, Width: int32(w), Height: int32(h)}, nil
}

// briefStatus is errTable.Status with the message bounded to parse.Brief's
// one line: an engine failure's WebAssembly (or Go) trace is logged here,
// never returned.
func (s *Service) briefStatus(what string, err error) error {
	msg := err.Error()
	brief := parse.Brief(err)
	if brief == msg {
		return errTable.Status(err)
	}
	s.log.Warn(what+" failed", "err", msg)
	return status.Error(status.Code(errTable.Status(err)), brief)
}
