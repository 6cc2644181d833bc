package client

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/pdfqa/pdfqa/platform/breaker"
	"github.com/pdfqa/pdfqa/platform/telemetry"
	"github.com/pdfqa/pdfqa/platform/testenv"
)

// scripted answers health checks with a programmable error and records what
// the handler saw.
type scripted struct {
	healthpb.UnimplementedHealthServer
	code       atomic.Int32 // codes.Code to return; OK for success
	calls      atomic.Int32
	deadline   atomic.Int64 // remaining time seen by the handler, ns
	requestIDs chan string
}

func (s *scripted) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	s.calls.Add(1)
	if dl, ok := ctx.Deadline(); ok {
		s.deadline.Store(int64(time.Until(dl)))
	} else {
		s.deadline.Store(-1)
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get(telemetry.RequestIDHeader)) > 0 {
		select {
		case s.requestIDs <- md.Get(telemetry.RequestIDHeader)[0]:
		default:
		}
	}
	if c := codes.Code(s.code.Load()); c != codes.OK {
		return nil, status.Error(c, "scripted failure")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func start(t *testing.T, d Downstream) (*scripted, healthpb.HealthClient, *Factory) {
	t.Helper()
	sc := &scripted{requestIDs: make(chan string, 16)}
	lis := testenv.ServeGRPC(t, func(g *grpc.Server) { healthpb.RegisterHealthServer(g, sc) })
	f, err := NewFactory(nil, telemetry.NewMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	d.Address = "bufnet"
	d.DialOptions = append(d.DialOptions, testenv.BufDialer(lis))
	conn, err := f.Conn(d)
	if err != nil {
		t.Fatal(err)
	}
	return sc, healthpb.NewHealthClient(conn), f
}

func TestBreakerOpensAfterFailuresAndRecovers(t *testing.T) {
	sc, hc, f := start(t, Downstream{Service: "svc", Breaker: breaker.Settings{ConsecutiveFailures: 3, OpenTimeout: 200 * time.Millisecond}})
	ctx := context.Background()
	sc.code.Store(int32(codes.Internal))
	for i := 0; i < 3; i++ {
		if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Internal {
			t.Fatalf("#%d: got %v, want Internal", i, err)
		}
	}
	if got := f.BreakerState("svc"); got != "open" {
		t.Fatalf("breaker state after 3 failures: got %q, want open", got)
	}
	before := sc.calls.Load()
	_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("call on open breaker: got %v, want Unavailable", err)
	}
	if sc.calls.Load() != before {
		t.Fatalf("open breaker let a call through to the server")
	}
	// Downstream heals; after the open timeout a probe closes the breaker.
	sc.code.Store(int32(codes.OK))
	time.Sleep(250 * time.Millisecond)
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("probe after timeout: %v", err)
	}
	if got := f.BreakerState("svc"); got != "closed" {
		t.Fatalf("breaker state after successful probe: got %q, want closed", got)
	}
}

func TestClientErrorsDoNotTripBreaker(t *testing.T) {
	cases := []codes.Code{codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.Unauthenticated, codes.FailedPrecondition, codes.OutOfRange, codes.Unimplemented, codes.Canceled}
	for i, c := range cases {
		sc, hc, f := start(t, Downstream{Service: "svc", Breaker: breaker.Settings{ConsecutiveFailures: 2}})
		sc.code.Store(int32(c))
		for j := 0; j < 5; j++ {
			if _, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != c {
				t.Fatalf("#%d: got %v, want %v", i, err, c)
			}
		}
		if got := f.BreakerState("svc"); got != "closed" {
			t.Errorf("#%d (%v): breaker %q after 5 client errors, want closed", i, c, got)
		}
	}
}

func TestDeadlines(t *testing.T) {
	sc, hc, _ := start(t, Downstream{Service: "svc", UnaryTimeout: 2 * time.Second})
	// No deadline from the caller: the default applies.
	if _, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(sc.deadline.Load()); got <= 0 || got > 2*time.Second {
		t.Errorf("default deadline seen by server: got %v, want in (0, 2s]", got)
	}
	// A caller's tighter deadline propagates unchanged.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(sc.deadline.Load()); got <= 0 || got > 300*time.Millisecond {
		t.Errorf("propagated deadline: got %v, want in (0, 300ms]", got)
	}
}

func TestRequestIDCrossesHop(t *testing.T) {
	sc, hc, _ := start(t, Downstream{Service: "svc"})
	ctx := telemetry.WithRequestID(context.Background(), "req-123")
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-sc.requestIDs:
		if got != "req-123" {
			t.Errorf("request id at server: got %q, want req-123", got)
		}
	default:
		t.Error("request id did not reach the server")
	}
}

func TestServiceConfigRetriesOnlyIdempotent(t *testing.T) {
	sc, hc, _ := start(t, Downstream{Service: "svc", Idempotent: []string{"grpc.health.v1.Health/Check"}, Breaker: breaker.Settings{ConsecutiveFailures: 100}})
	sc.code.Store(int32(codes.Unavailable))
	_, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("got %v, want Unavailable", err)
	}
	if got := sc.calls.Load(); got != 4 {
		t.Errorf("attempts for idempotent call: got %d, want 4", got)
	}
	sc2, hc2, _ := start(t, Downstream{Service: "svc"})
	sc2.code.Store(int32(codes.Unavailable))
	_, _ = hc2.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if got := sc2.calls.Load(); got != 1 {
		t.Errorf("attempts for non-idempotent call: got %d, want 1", got)
	}
}
