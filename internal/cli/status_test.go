package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/testenv"
)

// `pdfqa status` against a mesh that runs mutual TLS (`pdfqa up --tls`):
// with the data directory's tls/ folder, or --tls-dir, it reaches etcd and
// health-checks every instance over mTLS, all SERVING; without the
// certificates etcd refuses it. `pdfqa ingest` streams a sample PDF
// (UploadDocumentStream) into the same mesh and reports it READY.
func TestStatusOverMutualTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole mesh")
	}
	data := t.TempDir()
	m := mesh.StartForTest(t, mesh.UpOptions{Data: data, HTTPAddr: "127.0.0.1:0", LogLevel: "error", TLS: true})
	ep := strings.Join(m.Client.Endpoints(), ",")
	status := func(args ...string) (string, error) {
		var out, errs bytes.Buffer
		err := commands["status"].run(context.Background(), args, &out, &errs)
		return out.String() + errs.String(), err
	}
	var out string
	var err error
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if out, err = status("--data", data); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Fatalf("pdfqa status --data (tls/ inside): %v\n%s", err, out)
	}
	for _, s := range mesh.Registry() {
		if !strings.Contains(out, s.Name) {
			t.Errorf("status does not list %s:\n%s", s.Name, out)
		}
	}
	if strings.Contains(out, "UNREACHABLE") || strings.Contains(out, "NOT_SERVING") {
		t.Errorf("status over mTLS:\n%s", out)
	}
	if out, err := status("--data", t.TempDir(), "--etcd", ep, "--tls-dir", filepath.Join(data, mesh.TLSDirName)); err != nil || !strings.Contains(out, "SERVING") {
		t.Errorf("pdfqa status --tls-dir: %v\n%s", err, out)
	}
	if out, err := status("--data", t.TempDir(), "--etcd", ep); err == nil {
		t.Errorf("pdfqa status without the certificates succeeded against an mTLS etcd:\n%s", out)
	}

	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var iout, ierr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err = commands["ingest"].run(ctx, []string{"--data", data, "--collection", "cli", filepath.Join(root, "samples", "northwind-annual-report-2025.pdf")}, &iout, &ierr)
	if err != nil || !strings.Contains(iout.String(), "northwind-annual-report-2025.pdf") || !strings.Contains(iout.String(), "READY") {
		t.Fatalf("pdfqa ingest over mTLS: %v\n%s\n%s", err, iout.String(), ierr.String())
	}
}
