package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/tlsconf"
)

func TestCertsCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), append([]string{"certs"}, args...), &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := run("--dir", dir, "--hosts", "pdfqa.internal,10.0.0.7"); code != 0 {
		t.Fatalf("certs: exit %d: %s", code, out)
	}
	for _, n := range mesh.CertNames() {
		id, err := tlsconf.Load(dir, n, nil)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		c := id.Certificate()
		if len(c.DNSNames) != 2 || c.DNSNames[0] != n || c.DNSNames[1] != "pdfqa.internal" || len(c.IPAddresses) != 1 || c.IPAddresses[0].String() != "10.0.0.7" {
			t.Errorf("%s: SANs %v %v", n, c.DNSNames, c.IPAddresses)
		}
		if fi, err := os.Stat(id.KeyPath); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s key: %v %v", n, fi, err)
		}
	}
	before, _ := os.ReadFile(filepath.Join(dir, "retrieval", tlsconf.CertFile))
	if code, out := run("--dir", dir); code != 1 || !strings.Contains(out, "--force") {
		t.Fatalf("certs over existing files: exit %d: %s", code, out)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "retrieval", tlsconf.CertFile)); !bytes.Equal(before, after) {
		t.Fatal("a refused certs run changed a certificate")
	}
	if code, out := run("--dir", dir, "--force", "--services", "retrieval,etcd"); code != 0 {
		t.Fatalf("certs --force: exit %d: %s", code, out)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "retrieval", tlsconf.CertFile)); bytes.Equal(before, after) {
		t.Fatal("certs --force kept the old certificate")
	}
	for _, bad := range [][]string{{}, {"--dir", t.TempDir(), "--services", "retrieval,nosuch"}, {"--dir", t.TempDir(), "extra"}} {
		if code, out := run(bad...); code != 2 {
			t.Errorf("certs %v: exit %d, want 2 (usage): %s", bad, code, out)
		}
	}
}
