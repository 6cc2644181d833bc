package server

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/pdfqa/pdfqa/platform/telemetry"
)

// trace records which links saw which calls, in order.
type trace struct {
	mu   sync.Mutex
	seen []string
}

func (t *trace) add(s string) {
	t.mu.Lock()
	t.seen = append(t.seen, s)
	t.mu.Unlock()
}

func (t *trace) get() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.seen...)
}

func (t *trace) link(name string) Interceptor {
	return Interceptor{
		Name: name,
		Unary: func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			t.add(name + " " + info.FullMethod)
			return h(ctx, req)
		},
		Stream: func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			t.add(name + " " + info.FullMethod)
			return h(srv, ss)
		},
	}
}

// panicDesc is a one-method service whose handler panics.
var panicDesc = grpc.ServiceDesc{
	ServiceName: "test.Panic",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Boom",
		Handler: func(_ any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			in := new(healthpb.HealthCheckRequest)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(context.Context, any) (any, error) { panic("boom") }
			if ic == nil {
				return h(ctx, in)
			}
			return ic(ctx, in, &grpc.UnaryServerInfo{FullMethod: "/test.Panic/Boom"}, h)
		},
	}},
}

// serve starts a server with opts and returns a client connection to it.
func serve(t *testing.T, opts Options) *grpc.ClientConn {
	t.Helper()
	opts.Name, opts.MetricsAddr = "test", "off"
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.GRPC.RegisterService(&panicDesc, struct{}{})
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	conn, err := grpc.NewClient("passthrough:///"+s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return conn
}

func callBoth(t *testing.T, conn *grpc.ClientConn) (header metadata.MD) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hc := healthpb.NewHealthClient(conn)
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&header)); err != nil {
		t.Fatal(err)
	}
	w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return header
}

func TestInterceptorsRunInListedOrder(t *testing.T) {
	var tr trace
	conn := serve(t, Options{Interceptors: []Interceptor{tr.link("a"), tr.link("b")}})
	hdr := callBoth(t, conn)
	got := tr.get()
	want := []string{
		"a /grpc.health.v1.Health/Check", "b /grpc.health.v1.Health/Check",
		"a /grpc.health.v1.Health/Watch", "b /grpc.health.v1.Health/Watch",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("links saw %q, want %q", got, want)
	}
	if len(hdr.Get(InstanceHeader)) != 1 {
		t.Errorf("instance header missing after a custom chain: %v", hdr)
	}
}

func TestInterceptorOnlyAppliesToMatchedCalls(t *testing.T) {
	var tr trace
	notHealth := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		return c.Service != healthpb.Health_ServiceDesc.ServiceName
	})
	conn := serve(t, Options{Interceptors: []Interceptor{tr.link("all"), tr.link("auth").Only(notHealth), Recovery(slog.New(slog.DiscardHandler))}})
	callBoth(t, conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = conn.Invoke(ctx, "/test.Panic/Boom", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
	for _, s := range tr.get() {
		if strings.HasPrefix(s, "auth /grpc.health.v1") {
			t.Errorf("Only let a health call through the link: %q", s)
		}
	}
	if got := tr.get(); len(got) == 0 || got[len(got)-1] != "auth /test.Panic/Boom" {
		t.Errorf("the matched call skipped the link: %q", got)
	}
}

func TestHalfLinksPassTheOtherKindThrough(t *testing.T) {
	var tr trace
	unaryOnly := tr.link("u")
	unaryOnly.Stream = nil
	streamOnly := tr.link("s")
	streamOnly.Unary = nil
	conn := serve(t, Options{Interceptors: []Interceptor{unaryOnly, streamOnly}})
	callBoth(t, conn)
	for _, s := range tr.get() {
		if strings.HasPrefix(s, "u ") && strings.HasSuffix(s, "/Watch") || strings.HasPrefix(s, "s ") && strings.HasSuffix(s, "/Check") {
			t.Errorf("a half link saw the other kind of call: %q", s)
		}
	}
}

func TestDefaultChainRecoversPanicsWithRequestID(t *testing.T) {
	for name, links := range map[string][]Interceptor{
		"nil (defaults)": nil,
		"explicit":       DefaultInterceptors(slog.New(slog.DiscardHandler), telemetry.NewMetrics()),
	} {
		t.Run(name, func(t *testing.T) {
			conn := serve(t, Options{Interceptors: links})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ctx = metadata.AppendToOutgoingContext(ctx, telemetry.RequestIDHeader, "req-panic-1")
			var hdr metadata.MD
			err := conn.Invoke(ctx, "/test.Panic/Boom", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{}, grpc.Header(&hdr))
			if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "req-panic-1") {
				t.Fatalf("panicking handler: got %v, want Internal naming the request id", err)
			}
			if got := hdr.Get(telemetry.RequestIDHeader); len(got) != 1 || got[0] != "req-panic-1" {
				t.Errorf("request id header %q", got)
			}
		})
	}
}

func TestEmptyChainRunsNoLinks(t *testing.T) {
	conn := serve(t, Options{Interceptors: []Interceptor{}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, telemetry.RequestIDHeader, "req-none")
	var hdr metadata.MD
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	if got := hdr.Get(telemetry.RequestIDHeader); len(got) != 0 {
		t.Errorf("no links, yet a request id header came back: %q", got)
	}
}
