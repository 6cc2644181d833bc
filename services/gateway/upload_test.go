package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/registry"
)

// sizeRetrieval stands in for retrieval (its module is not the gateway's
// to import): it refuses content over limit bytes with retrieval's
// wording (the real refusal is TestSecurity's REST/API4_UploadOverLimit_413
// on a whole mesh) and counts the uploads that reached it.
type sizeRetrieval struct {
	retrievalv1.UnimplementedRetrievalServiceServer
	limit   int
	reached int
}

func (s *sizeRetrieval) UploadDocument(_ context.Context, r *retrievalv1.UploadDocumentRequest) (*retrievalv1.UploadDocumentResponse, error) {
	s.reached++
	if r.GetName() == "rate-limited.pdf" {
		return nil, status.Error(codes.ResourceExhausted, "rate limit: retry in 1s")
	}
	if len(r.GetContent()) > s.limit {
		return nil, status.Errorf(codes.ResourceExhausted, "upload exceeds the size limit: %d bytes > %d", len(r.GetContent()), s.limit)
	}
	return &retrievalv1.UploadDocumentResponse{Document: &retrievalv1.Document{Name: r.GetName()}}, nil
}

// The JSON upload (base64 content, through grpc-gateway) is answered 413
// when it is refused for its size — retrieval's limit, the gRPC message
// cap (content over 256 MiB: the gateway's client will not send it) or the
// REST body limit — where grpc-gateway answered 429 (ResourceExhausted)
// or 400; a rate limit's ResourceExhausted stays 429.
func TestJSONUploadTooLargeIs413(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(512 << 20))
	ret := &sizeRetrieval{limit: 1 << 20}
	retrievalv1.RegisterRetrievalServiceServer(srv, ret)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	reg, err := registry.New(registry.Service{Name: "retrieval", Desc: &retrievalv1.RetrievalService_ServiceDesc, REST: retrievalv1.RegisterRetrievalServiceHandler})
	if err != nil {
		t.Fatal(err)
	}
	h := testHandler(t, reg, map[string]string{"retrieval": lis.Addr().String()})
	const bodyLimit = 4 << 20
	bounded := http.MaxBytesHandler(h, bodyLimit) // as the mesh bounds the REST body

	send := func(h http.Handler, name string, content []byte) (int, string) {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"name": name, "content": base64.StdEncoding.EncodeToString(content)})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/collections/c/documents", bytes.NewReader(b)))
		return rec.Code, rec.Body.String()
	}
	post := func(content []byte) (int, string) { return send(h, "doc.pdf", content) }
	if code, body := post([]byte("%PDF-1.7 small")); code != http.StatusOK {
		t.Fatalf("a small JSON upload: %d %s", code, body)
	}
	if code, body := post(make([]byte, 2<<20)); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "size limit") {
		t.Errorf("content over retrieval's limit: %d %s, want 413 naming the size limit", code, body)
	}
	before := ret.reached
	if code, body := post(make([]byte, 256<<20+64<<10)); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than max") {
		t.Errorf("content over the 256 MiB gRPC message cap: %d %s, want 413", code, body)
	}
	if ret.reached != before {
		t.Error("content over the gRPC message cap reached retrieval")
	}
	if code, body := send(bounded, "doc.pdf", make([]byte, bodyLimit*3/4+1<<20)); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "too large") {
		t.Errorf("a body over the REST body limit: %d %s, want 413", code, body)
	}
	// Not every ResourceExhausted is about size.
	if code, body := send(h, "rate-limited.pdf", []byte("%PDF")); code != http.StatusTooManyRequests {
		t.Errorf("a rate limit's ResourceExhausted: %d %s, want 429", code, body)
	}
}
