package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func dev(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := WriteDev(dir, DevOptions{Names: names, Hosts: []string{"localhost", "127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func load(t *testing.T, dir, name string) *Identity {
	t.Helper()
	id, err := Load(dir, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestWriteDevFilesAndSANs(t *testing.T) {
	dir := dev(t, "retrieval", "etcd")
	for _, k := range []string{CAKeyFile, "retrieval/" + KeyFile, "etcd/" + KeyFile} {
		fi, err := os.Stat(filepath.Join(dir, k))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", k, fi.Mode().Perm())
		}
	}
	c := load(t, dir, "retrieval").Certificate()
	if !slices.Equal(c.DNSNames, []string{"retrieval", "localhost"}) {
		t.Errorf("DNS SANs %v", c.DNSNames)
	}
	if len(c.IPAddresses) != 1 || !c.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) {
		t.Errorf("IP SANs %v", c.IPAddresses)
	}
	if !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		t.Errorf("usages %v, want server and client", c.ExtKeyUsage)
	}
	if c.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key %v, want ECDSA", c.PublicKeyAlgorithm)
	}

	// No overwrite without Force: nothing changes, the error names the file.
	before, _ := os.ReadFile(filepath.Join(dir, CAFile))
	_, err := WriteDev(dir, DevOptions{Names: []string{"retrieval"}})
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("second WriteDev: %v, want an 'exists' error", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, CAFile))
	if string(before) != string(after) {
		t.Fatal("a refused WriteDev changed ca.crt")
	}
	if _, err := WriteDev(dir, DevOptions{Names: []string{"retrieval"}, Force: true}); err != nil {
		t.Fatal(err)
	}
	forced, _ := os.ReadFile(filepath.Join(dir, CAFile))
	if string(forced) == string(before) {
		t.Fatal("WriteDev with Force kept the old CA")
	}

	for _, bad := range []DevOptions{{}, {Names: []string{"a b"}}, {Names: []string{"x", "x"}}, {Names: []string{"x"}, Hosts: []string{"not/a host"}}} {
		if _, err := WriteDev(t.TempDir(), bad); err == nil {
			t.Errorf("WriteDev(%+v) accepted", bad)
		}
	}
}

func TestLoadRefusesACertificateForAnotherService(t *testing.T) {
	dir := dev(t, "inference")
	// A single-identity directory (as a mounted secret) holding inference's pair.
	one := t.TempDir()
	for _, f := range []string{CertFile, KeyFile, CAFile} {
		b, err := os.ReadFile(filepath.Join(dir, "inference", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(one, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Load(one, "inference", nil); err != nil {
		t.Fatalf("flat layout: %v", err)
	}
	if _, err := Load(one, "retrieval", nil); err == nil || !strings.Contains(err.Error(), "does not name") {
		t.Fatalf("Load as retrieval with inference's certificate: %v", err)
	}
	if _, err := Load(t.TempDir(), "retrieval", nil); err == nil {
		t.Fatal("Load of an empty directory succeeded")
	}
}

// handshake serves one TLS connection with srv and dials it with cli; it
// returns the client's and the server's handshake errors.
func handshake(t *testing.T, srv, cli *tls.Config) (clientErr, serverErr error) {
	t.Helper()
	lis, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := lis.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		err = c.(*tls.Conn).HandshakeContext(context.Background())
		if err == nil {
			_, err = c.Write([]byte("ok"))
		}
		errc <- err
	}()
	d := tls.Dialer{Config: cli, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	c, err := d.DialContext(context.Background(), "tcp", lis.Addr().String())
	if err == nil {
		// TLS 1.3: the server's verdict on the client certificate arrives
		// with the first read.
		_, err = io.ReadFull(c, make([]byte, 2))
		c.Close()
	}
	return err, <-errc
}

func TestMutualTLS(t *testing.T) {
	dir := dev(t, "retrieval", "inference", "agents")
	other := dev(t, "retrieval", "agents")
	ret, inf, ag := load(t, dir, "retrieval"), load(t, dir, "inference"), load(t, dir, "agents")
	foreignAgents, foreignRet := load(t, other, "agents"), load(t, other, "retrieval")

	if ce, se := handshake(t, ret.ServerConfig(), ag.ClientConfig("retrieval")); ce != nil || se != nil {
		t.Fatalf("agents -> retrieval: client %v, server %v", ce, se)
	}
	// An endpoint registered as retrieval that presents inference's certificate.
	ce, _ := handshake(t, inf.ServerConfig(), ag.ClientConfig("retrieval"))
	if !errors.Is(ce, ErrWrongPeer) {
		t.Fatalf("retrieval presenting inference's certificate: %v, want ErrWrongPeer", ce)
	}
	// A server from another CA, even naming the right service.
	if ce, _ := handshake(t, foreignRet.ServerConfig(), ag.ClientConfig("retrieval")); ce == nil || errors.Is(ce, ErrWrongPeer) {
		t.Fatalf("retrieval from another CA: %v, want an unknown-authority error", ce)
	}
	// A client with another CA's certificate, and one with none.
	if ce, se := handshake(t, ret.ServerConfig(), foreignAgents.ClientConfig("retrieval")); se == nil || ce == nil {
		t.Fatalf("client from another CA: client %v, server %v; want both to fail", ce, se)
	}
	noCert := &tls.Config{MinVersion: tls.VersionTLS13, ServerName: "retrieval", RootCAs: x509.NewCertPool()}
	noCert.RootCAs.AddCert(caOf(t, dir))
	if ce, se := handshake(t, ret.ServerConfig(), noCert); se == nil || ce == nil {
		t.Fatalf("client without a certificate: client %v, server %v; want both to fail", ce, se)
	}
}

func caOf(t *testing.T, dir string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("ca.crt holds no PEM block")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReloadOnFileChange(t *testing.T) {
	dir := dev(t, "retrieval", "agents")
	ret, ag := load(t, dir, "retrieval"), load(t, dir, "agents")
	ret.recheck, ag.recheck = 0, 0
	first := ret.Certificate().SerialNumber
	// A new CA and certificates in place (a renewed secret): both sides pick
	// them up on the next handshake without being rebuilt.
	time.Sleep(10 * time.Millisecond) // a distinct modification time
	if _, err := WriteDev(dir, DevOptions{Names: []string{"retrieval", "agents"}, Force: true}); err != nil {
		t.Fatal(err)
	}
	if ce, se := handshake(t, ret.ServerConfig(), ag.ClientConfig("retrieval")); ce != nil || se != nil {
		t.Fatalf("after renewal: client %v, server %v", ce, se)
	}
	if ret.Certificate().SerialNumber.Cmp(first) == 0 {
		t.Fatal("the server still presents the old certificate")
	}
	// A half-written file: the previous pair stays in use.
	if err := os.WriteFile(ret.CertPath, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ce, se := handshake(t, ret.ServerConfig(), ag.ClientConfig("retrieval")); ce != nil || se != nil {
		t.Fatalf("with a broken file: client %v, server %v", ce, se)
	}
}
