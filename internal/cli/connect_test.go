package cli

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/tlsconf"
)

// The client commands present the "client" certificate of --tls-dir, or of
// the data directory's tls/ folder that `pdfqa up --tls` makes, and dial
// plaintext when there is neither.
func TestCommandsFindTheirTLSIdentity(t *testing.T) {
	data := t.TempDir()
	if id, err := (&meshFlags{data: data}).identity(); id != nil || err != nil {
		t.Fatalf("no certificates: identity %v, %v; want plaintext", id, err)
	}
	dir := filepath.Join(data, mesh.TLSDirName)
	if _, err := tlsconf.WriteDev(dir, tlsconf.DevOptions{Names: mesh.CertNames(), Hosts: mesh.DevHosts}); err != nil {
		t.Fatal(err)
	}
	id, err := (&meshFlags{data: data}).identity()
	if err != nil || id == nil || id.Certificate().Subject.CommonName != mesh.ClientIdentity && !slices.Contains(id.Certificate().DNSNames, mesh.ClientIdentity) {
		t.Fatalf("data directory's tls/: identity %v, %v", id, err)
	}
	if id, err := (&meshFlags{data: t.TempDir(), tlsDir: dir}).identity(); err != nil || id == nil {
		t.Fatalf("--tls-dir: identity %v, %v", id, err)
	}
	// a TLS directory without the client identity is a clear error
	other := t.TempDir()
	if _, err := tlsconf.WriteDev(other, tlsconf.DevOptions{Names: []string{"agents"}, Hosts: mesh.DevHosts}); err != nil {
		t.Fatal(err)
	}
	if _, err := (&meshFlags{tlsDir: other}).identity(); err == nil {
		t.Fatal("a TLS directory without the client identity was accepted")
	}
}
