package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// UploadPath is the REST route of uploads. A raw application/pdf body or a
// multipart/form-data body is streamed to retrieval's UploadDocumentStream
// in uploadChunk pieces, never held whole; any other body (the JSON with
// base64 content) goes to grpc-gateway's UploadDocument route, bounded by
// the REST body limit.
const UploadPath = "POST /v1/collections/{collection}/documents"

// uploadChunk is the size of one streamed piece.
const uploadChunk = 256 << 10

// refusalWait bounds the wait for retrieval's refusal of an over-limit
// stream.
const refusalWait = 10 * time.Second

// PasswordHeader carries an encrypted PDF's password with a raw upload.
const PasswordHeader = "X-Pdf-Password"

// errUploadLarge is an upload past the limit (413).
var errUploadLarge = errors.New("upload exceeds the size limit")

// uploads serves UploadPath: streamed bodies here, JSON through next.
func (s *Service) uploads(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		coll := r.PathValue("collection")
		switch {
		case err == nil && (mt == "application/pdf" || mt == "application/octet-stream"):
			name := r.URL.Query().Get("name")
			if name == "" {
				if _, p, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil {
					name = p["filename"]
				}
			}
			s.streamUpload(w, r, &retrievalv1.UploadDocumentHeader{Collection: coll, Name: name, Password: r.Header.Get(PasswordHeader)}, r.Body)
		case err == nil && mt == "multipart/form-data" && params["boundary"] != "":
			s.multipartUpload(w, r, coll)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// maxField bounds a multipart form field other than the file.
const maxField = 4 << 10

// multipartUpload streams the first file part of a multipart/form-data
// body; the fields "name" and "password", when given, must come before it.
func (s *Service) multipartUpload(w http.ResponseWriter, r *http.Request, coll string) {
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, status.Error(codes.InvalidArgument, "multipart body: "+err.Error()))
		return
	}
	h := &retrievalv1.UploadDocumentHeader{Collection: coll}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			writeError(w, status.Error(codes.InvalidArgument, `multipart body has no file part (send the PDF as a part with a filename, e.g. curl -F file=@doc.pdf)`))
			return
		}
		if err != nil {
			s.writeBodyError(w, err)
			return
		}
		if part.FileName() != "" || part.FormName() == "file" {
			if h.Name == "" {
				h.Name = part.FileName()
			}
			s.streamUpload(w, r, h, part)
			return
		}
		v, err := io.ReadAll(io.LimitReader(part, maxField+1))
		if err != nil {
			s.writeBodyError(w, err)
			return
		}
		if len(v) > maxField {
			writeError(w, status.Errorf(codes.InvalidArgument, "multipart field %q is longer than %d bytes", part.FormName(), maxField))
			return
		}
		switch part.FormName() {
		case "name":
			h.Name = string(v)
		case "password":
			h.Password = string(v)
		}
	}
}

// streamUpload sends h, then body in uploadChunk pieces, to retrieval. Past
// the upload limit it stops at once (413) and cancels the stream, so
// retrieval keeps nothing.
func (s *Service) streamUpload(w http.ResponseWriter, r *http.Request, h *retrievalv1.UploadDocumentHeader, body io.Reader) {
	conn, err := s.retrievalConn()
	if err != nil {
		writeError(w, status.Error(codes.Unavailable, err.Error()))
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	st, err := retrievalv1.NewRetrievalServiceClient(conn).UploadDocumentStream(ctx)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := st.Send(&retrievalv1.UploadDocumentStreamRequest{Part: &retrievalv1.UploadDocumentStreamRequest_Header{Header: h}}); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, err)
		return
	}
	limit := s.settings.MaxUploadBytes
	var total int64
	for {
		// A fresh buffer each time: gRPC may still hold the last message.
		buf := make([]byte, uploadChunk)
		n, rerr := io.ReadFull(body, buf)
		total += int64(n)
		if limit > 0 && total > limit {
			// Retrieval checks the same limit: sent this piece, it refuses
			// the stream once it has removed what it wrote, so the 413
			// comes after the cleanup. The stream is cancelled when it
			// does not answer soon (a retrieval with a larger limit).
			_ = st.Send(&retrievalv1.UploadDocumentStreamRequest{Part: &retrievalv1.UploadDocumentStreamRequest_Chunk{Chunk: buf[:n]}})
			stop := time.AfterFunc(refusalWait, cancel)
			_ = st.RecvMsg(new(retrievalv1.UploadDocumentStreamResponse))
			stop.Stop()
			cancel()
			writeError(w, fmt.Errorf("%w: more than %d bytes", errUploadLarge, limit))
			return
		}
		if n > 0 {
			if err := st.Send(&retrievalv1.UploadDocumentStreamRequest{Part: &retrievalv1.UploadDocumentStreamRequest_Chunk{Chunk: buf[:n]}}); err != nil {
				break // retrieval ended the stream: CloseAndRecv says why
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			cancel()
			s.writeBodyError(w, rerr)
			return
		}
	}
	resp, err := st.CloseAndRecv()
	if err != nil {
		writeError(w, err)
		return
	}
	out, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(resp)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// retrievalConn is the gateway's connection to retrieval (its deadlines,
// retries and breaker).
func (s *Service) retrievalConn() (*grpc.ClientConn, error) {
	b, err := s.services.Of(&retrievalv1.RetrievalService_ServiceDesc)
	if err != nil {
		return nil, err
	}
	return s.clients.Conn(b.Downstream())
}

// writeBodyError answers a failure to read the request body: 413 past the
// REST body limit, else 400.
func (s *Service) writeBodyError(w http.ResponseWriter, err error) {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		writeError(w, fmt.Errorf("%w: the request body is larger than %d bytes", errUploadLarge, mb.Limit))
		return
	}
	writeError(w, status.Error(codes.InvalidArgument, "reading the upload: "+err.Error()))
}

// tooLarge reports whether err refuses a request for its size, a 413
// rather than the 429 grpc-gateway gives ResourceExhausted: the gateway's
// own check (errUploadLarge), retrieval's check of the same upload limit,
// a gRPC message past a side's size cap (the unary upload's content over
// 256 MiB), or a REST body past the body limit (http.MaxBytesReader's
// error, which grpc-gateway's decoder turns into InvalidArgument).
func tooLarge(err error) bool {
	var mb *http.MaxBytesError
	if errors.Is(err, errUploadLarge) || errors.As(err, &mb) {
		return true
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.ResourceExhausted:
		return strings.Contains(st.Message(), errUploadLarge.Error()) || strings.Contains(st.Message(), "message larger than max")
	case codes.InvalidArgument:
		return strings.Contains(st.Message(), "http: request body too large")
	}
	return false
}

// restError is the REST mux's error handler: grpc-gateway's, except that a
// request refused for its size is 413.
func restError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if tooLarge(err) {
		err = &runtime.HTTPStatusError{HTTPStatus: http.StatusRequestEntityTooLarge, Err: err}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// writeError answers err in the REST API's error shape ({"code",
// "message"}): a request refused for its size is 413, a gRPC status its
// grpc-gateway HTTP code.
func writeError(w http.ResponseWriter, err error) {
	st, code := status.Convert(err), 0
	switch {
	case errors.Is(err, errUploadLarge):
		st, code = status.New(codes.ResourceExhausted, err.Error()), http.StatusRequestEntityTooLarge
	case tooLarge(err):
		code = http.StatusRequestEntityTooLarge
	default:
		code = runtime.HTTPStatusFromCode(st.Code())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": int(st.Code()), "message": st.Message()})
}
