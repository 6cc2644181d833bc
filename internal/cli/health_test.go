package cli

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/server"
	"github.com/pdfqa/pdfqa/platform/server/servertest"
	"github.com/pdfqa/pdfqa/platform/tlsconf"
)

// `pdfqa health` (the chart's container probe once TLS is on) reaches an
// instance that requires mutual TLS with the pod's certificate and says
// SERVING; it fails against the same instance without the certificates
// (what the kubelet's plaintext gRPC probe would get), when the instance
// is certified as another service, and when nothing listens.
func TestHealthProbeOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	if _, err := tlsconf.WriteDev(dir, tlsconf.DevOptions{Names: mesh.CertNames(), Hosts: mesh.DevHosts}); err != nil {
		t.Fatal(err)
	}
	id, err := tlsconf.Load(dir, "retrieval", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{Name: "retrieval", MetricsAddr: "off", TLS: id, Logger: slog.New(slog.DiscardHandler), DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	servertest.Run(t, srv)
	addr := srv.Addr()
	health := func(args ...string) (string, error) {
		var out, errs bytes.Buffer
		err := commands["health"].run(context.Background(), args, &out, &errs)
		return out.String() + errs.String(), err
	}
	var out string
	deadline := time.Now().Add(30 * time.Second)
	for {
		if out, err = health("--service", "retrieval", "--addr", addr, "--tls-dir", dir); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || !strings.Contains(out, "SERVING") {
		t.Fatalf("pdfqa health over mTLS: %v %s", err, out)
	}
	if _, err := health("--service", "retrieval", "--addr", addr); err == nil {
		t.Error("a plaintext health check of an mTLS instance succeeded")
	}
	if _, err := health("--service", "inference", "--addr", addr, "--tls-dir", dir); err == nil {
		t.Error("the probe accepted an instance certified as retrieval for inference")
	}
	if _, err := health("--service", "retrieval", "--addr", "127.0.0.1:1", "--tls-dir", dir, "--timeout", "1s"); err == nil {
		t.Error("the probe passed with nothing listening")
	}
	if _, err := health("--addr", addr); err == nil {
		t.Error("no --service accepted")
	}
}
