package servertest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/pdfqa/pdfqa/platform/server"
)

// A server Run in a subtest answers health checks while the subtest runs
// and is stopped when it ends.
func TestRunServesUntilTheTestEnds(t *testing.T) {
	var addr string
	t.Run("serving", func(t *testing.T) {
		s, err := server.New(server.Options{Name: "test", MetricsAddr: "off", Logger: slog.New(slog.DiscardHandler), DrainTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		Run(t, s)
		addr = s.Addr()
		if err := check(t, addr); err != nil {
			t.Fatalf("health check while the test runs: %v", err)
		}
	})
	if err := check(t, addr); err == nil {
		t.Fatal("the server still answers after its test ended")
	}
}

func check(t *testing.T, addr string) error {
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err == nil && r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("status %v", r.GetStatus())
	}
	return err
}
