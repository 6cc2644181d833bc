package pdfqa

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
)

// standInInference keeps one adapter and unloads it like the service does
// (only the version named, when one is). A stand-in because the SDK module
// does not depend on the services: the service's own behaviour (the etcd
// transaction, the embedded registry) is tested in services/inference;
// here it is what the SDK sends and how it reports the refusal.
type standInInference struct {
	inferencev1.UnimplementedInferenceServiceServer
	mu      sync.Mutex
	adapter *inferencev1.Adapter // nil: none loaded
}

func (s *standInInference) ListAdapters(context.Context, *inferencev1.ListAdaptersRequest) (*inferencev1.ListAdaptersResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.adapter == nil {
		return &inferencev1.ListAdaptersResponse{}, nil
	}
	return &inferencev1.ListAdaptersResponse{Adapters: []*inferencev1.Adapter{s.adapter}}, nil
}

func (s *standInInference) UnloadAdapter(_ context.Context, r *inferencev1.UnloadAdapterRequest) (*inferencev1.UnloadAdapterResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.adapter == nil || s.adapter.GetName() != r.GetName():
		return nil, status.Errorf(codes.NotFound, "adapter not found: %q", r.GetName())
	case r.GetSha256() != "" && r.GetSha256() != s.adapter.GetSha256():
		return nil, status.Errorf(codes.Aborted, "aborted: adapter %q is now the version with sha256 %s, not %s", r.GetName(), s.adapter.GetSha256(), r.GetSha256())
	}
	s.adapter = nil
	return &inferencev1.UnloadAdapterResponse{}, nil
}

// UnloadAdapter sends the name and the version the caller saw: a stale
// version is refused (ErrFailedPrecondition, code Aborted, the current
// digest in the message) and the adapter stays; the listed version
// unloads it; then the name is ErrNotFound.
func TestUnloadAdapterNamesTheVersionSeen(t *testing.T) {
	v1, v2 := strings.Repeat("1", 64), strings.Repeat("2", 64)
	inf := &standInInference{adapter: &inferencev1.Adapter{Name: "ft", Sha256: v2}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	inferencev1.RegisterInferenceServiceServer(srv, inf)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Dial(ctx, lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	err = c.UnloadAdapter(ctx, "ft", v1)
	var e *Error
	if !errors.Is(err, ErrFailedPrecondition) || !errors.As(err, &e) || e.Code != codes.Aborted || !strings.Contains(err.Error(), v2) {
		t.Fatalf("a stale version: %v, want ErrFailedPrecondition (Aborted) naming %s", err, v2)
	}
	ads, err := c.Adapters(ctx)
	if err != nil || len(ads) != 1 || ads[0].GetSha256() != v2 {
		t.Fatalf("after the refusal: %v, %v, want ft (v2) kept", ads, err)
	}
	if err := c.UnloadAdapter(ctx, "ft", ads[0].GetSha256()); err != nil {
		t.Fatalf("the listed version: %v", err)
	}
	if err := c.UnloadAdapter(ctx, "ft", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("again: %v, want ErrNotFound", err)
	}
}
