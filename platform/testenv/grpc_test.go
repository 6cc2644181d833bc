package testenv

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

func healthServer(hs *health.Server) func(*grpc.Server) {
	return func(g *grpc.Server) { healthpb.RegisterHealthServer(g, hs) }
}

// TestGRPCServesAndStops: the in-memory server answers the registered
// service through GRPC's connection, and once StartGRPC's stop has run a
// call fails instead of hanging.
func TestGRPCServesAndStops(t *testing.T) {
	hs := health.NewServer()
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_NOT_SERVING)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	r, err := healthpb.NewHealthClient(GRPC(t, healthServer(hs))).Check(ctx, &healthpb.HealthCheckRequest{Service: "svc"})
	if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Check through GRPC: %v %v", r, err)
	}

	lis, stop := StartGRPC(healthServer(hs), grpc.MaxRecvMsgSize(1<<10))
	conn, err := DialBuf(lis)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "unknown"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown service: %v, want NotFound", err)
	}
	// The server option applies: a request over 1 KiB is refused.
	big := make([]byte, 2<<10)
	for i := range big {
		big[i] = 'x'
	}
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: string(big)}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("request over MaxRecvMsgSize: %v, want ResourceExhausted", err)
	}
	stop()
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "svc"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("after stop: %v, want Unavailable", err)
	}
}

// TestDialGRPCTakesCallOptions: DialGRPC passes its dial options on (a
// send limit below the request's size fails the call on the client).
func TestDialGRPCTakesCallOptions(t *testing.T) {
	lis := ServeGRPC(t, healthServer(health.NewServer()))
	conn := DialGRPC(t, lis, grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(16)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "a service name longer than sixteen bytes"})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("request over MaxCallSendMsgSize: %v, want ResourceExhausted", err)
	}
}
