package cli

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
)

// adapterStandIn keeps adapters and unloads them as the service does (the
// version named, when one is). A stand-in because the real service needs
// the llama.cpp engine to accept adapters; its unload is tested against
// real etcd in services/inference. Here: what the command sends and shows.
type adapterStandIn struct {
	inferencev1.UnimplementedInferenceServiceServer
	mu  sync.Mutex
	ads map[string]*inferencev1.Adapter
	got []*inferencev1.UnloadAdapterRequest
}

func (s *adapterStandIn) ListAdapters(context.Context, *inferencev1.ListAdaptersRequest) (*inferencev1.ListAdaptersResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &inferencev1.ListAdaptersResponse{}
	for _, a := range s.ads {
		r.Adapters = append(r.Adapters, a)
	}
	return r, nil
}

func (s *adapterStandIn) UnloadAdapter(_ context.Context, r *inferencev1.UnloadAdapterRequest) (*inferencev1.UnloadAdapterResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, r)
	a := s.ads[r.GetName()]
	switch {
	case a == nil:
		return nil, status.Errorf(codes.NotFound, "adapter not found: %q", r.GetName())
	case r.GetSha256() != "" && r.GetSha256() != a.GetSha256():
		return nil, status.Errorf(codes.Aborted, "aborted: adapter %q is now the version with sha256 %s, not %s; nothing was unloaded", r.GetName(), a.GetSha256(), r.GetSha256())
	}
	delete(s.ads, r.GetName())
	return &inferencev1.UnloadAdapterResponse{}, nil
}

// `pdfqa adapters` lists each adapter's sha256; `pdfqa adapters unload
// --sha256 D NAME` sends that precondition (flags before or after the
// name): a stale digest fails (exit 1) naming the current one and the
// adapter stays; the listed digest unloads it; without --sha256 the
// request carries none. Missing or extra names are usage errors.
func TestAdaptersUnloadSendsTheVersionSeen(t *testing.T) {
	v1, v2 := strings.Repeat("1", 64), strings.Repeat("2", 64)
	inf := &adapterStandIn{ads: map[string]*inferencev1.Adapter{
		"ft":    {Name: "ft", Sha256: v2, Scale: 1, BaseModel: "base"},
		"other": {Name: "other", Sha256: v1, Scale: 0.5},
	}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	inferencev1.RegisterInferenceServiceServer(srv, inf)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	addr := lis.Addr().String()
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), append(args, "--addr", addr, "--data", t.TempDir()), &out, &errOut)
		return code, out.String(), errOut.String()
	}

	code, out, _ := run("adapters")
	if code != 0 || !strings.Contains(out, "ft") || !strings.Contains(out, v2) || !strings.Contains(out, "other") {
		t.Fatalf("pdfqa adapters: exit %d\n%s", code, out)
	}
	code, _, errOut := run("adapters", "unload", "--sha256", v1, "ft")
	if code != 1 || !strings.Contains(errOut, v2) {
		t.Fatalf("unload with a stale digest: exit %d, %q; want 1 naming %s", code, errOut, v2)
	}
	if inf.ads["ft"] == nil {
		t.Fatal("the refused unload removed ft")
	}
	if code, out, errOut = run("adapters", "unload", "ft", "--sha256", v2); code != 0 || !strings.Contains(out, "unloaded adapter ft") {
		t.Fatalf("unload with the listed digest (flag after the name): exit %d, %q %q", code, out, errOut)
	}
	if code, _, errOut = run("adapters", "unload", "other"); code != 0 {
		t.Fatalf("unload without a digest: exit %d, %q", code, errOut)
	}
	if len(inf.got) != 3 || inf.got[0].GetSha256() != v1 || inf.got[1].GetSha256() != v2 || inf.got[2].GetSha256() != "" {
		t.Fatalf("requests sent: %v", inf.got)
	}
	if code, _, errOut = run("adapters", "unload", "ft"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("unload of a name not loaded: exit %d, %q", code, errOut)
	}
	for _, args := range [][]string{{"adapters", "unload"}, {"adapters", "unload", "a", "b"}, {"adapters", "drop", "a"}, {"adapters", "list", "--sha256", v1}} {
		if code, _, errOut := run(args...); code != 2 {
			t.Errorf("pdfqa %s: exit %d, %q; want a usage error", strings.Join(args, " "), code, errOut)
		}
	}
	if len(inf.got) != 4 {
		t.Fatalf("usage errors reached the service: %d requests", len(inf.got))
	}
}
