package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/tlsconf"
)

func init() {
	flagCommand("health", "check one service instance's grpc.health.v1 (a container probe that speaks mutual TLS): pdfqa health --service NAME --addr HOST:PORT", healthCommand)
}

// healthCommand is the probe the Helm chart runs in a pod whose service
// requires mutual TLS, where the kubelet's own gRPC probe (plaintext) is
// refused: it presents the pod's own certificate (--tls-dir, the pod's
// PDFQA_TLS_DIR) and accepts the instance only when its certificate names
// --service. It exits 0 when the instance answers SERVING.
func healthCommand(fs *flag.FlagSet) body {
	service := fs.String("service", config.Env("PDFQA_HEALTH_SERVICE", ""), "the service the instance registered as (its certificate must name it with TLS; env PDFQA_HEALTH_SERVICE)")
	addr := fs.String("addr", config.Env("PDFQA_HEALTH_ADDR", ""), "the instance's gRPC address (env PDFQA_HEALTH_ADDR)")
	tlsDir := fs.String("tls-dir", config.Env("PDFQA_TLS_DIR", ""), "certificates of a mesh that runs mutual TLS; the probe presents --service's identity from it (env PDFQA_TLS_DIR); unset: plaintext")
	timeout := fs.Duration("timeout", 4*time.Second, "how long to wait for the answer")
	return func(ctx context.Context, c *call) error {
		switch {
		case *service == "":
			return usageErr("--service is required")
		case *addr == "":
			return usageErr("--addr is required")
		case *timeout <= 0:
			return usageErr("--timeout must be positive")
		}
		creds := grpc.WithTransportCredentials(insecure.NewCredentials())
		if *tlsDir != "" {
			id, err := tlsconf.Load(*tlsDir, *service, nil)
			if err != nil {
				return err
			}
			creds = grpc.WithTransportCredentials(credentials.NewTLS(id.ClientConfig(*service)))
		}
		conn, err := grpc.NewClient("passthrough:///"+*addr, creds)
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return fmt.Errorf("%s at %s: %w", *service, *addr, err)
		}
		if r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("%s at %s: %s", *service, *addr, r.GetStatus())
		}
		fmt.Fprintf(c.stdout, "%s at %s: SERVING\n", *service, *addr)
		return nil
	}
}
