package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/discovery"
	"github.com/pdfqa/pdfqa/platform/etcdtest"
	"github.com/pdfqa/pdfqa/platform/server"
	"github.com/pdfqa/pdfqa/platform/server/servertest"
	"github.com/pdfqa/pdfqa/platform/tlsconf"
)

func identity(t *testing.T, dir, name string) *tlsconf.Identity {
	t.Helper()
	id, err := tlsconf.Load(dir, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func etcdAs(t *testing.T, eps []string, id *tlsconf.Identity) *clientv3.Client {
	t.Helper()
	return etcdtest.Client(t, eps, id.EtcdConfig())
}

// serve runs a server registered in etcd as name (with tls, or plaintext
// when nil) until the test ends.
func serve(t *testing.T, name string, cli *clientv3.Client, id *tlsconf.Identity) *server.Server {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	s, err := server.New(server.Options{Name: name, MetricsAddr: "off", Etcd: cli, TLS: id, Logger: log, DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	servertest.Run(t, s)
	return s
}

// Discovery over mutual TLS: of four endpoints registered in etcd as
// retrieval — the real one, one presenting inference's certificate (from the
// mesh's CA), one with a retrieval certificate from another CA and one
// plaintext — only the real one is ever called; a plaintext client and a
// client with another CA's certificate are refused by it.
func TestDiscoveryDialsOnlyEndpointsCertifiedAsTheService(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	hosts := []string{"127.0.0.1", "localhost"}
	if _, err := tlsconf.WriteDev(dir, tlsconf.DevOptions{Names: []string{"etcd", "retrieval", "inference", "agents"}, Hosts: hosts}); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsconf.WriteDev(other, tlsconf.DevOptions{Names: []string{"retrieval", "agents"}, Hosts: hosts}); err != nil {
		t.Fatal(err)
	}
	e := etcdtest.StartTLS(t, 1, etcdtest.TLS{
		Cert: filepath.Join(dir, "etcd", tlsconf.CertFile), Key: filepath.Join(dir, "etcd", tlsconf.KeyFile), CA: filepath.Join(dir, tlsconf.CAFile)})
	ret, inf, ag := identity(t, dir, "retrieval"), identity(t, dir, "inference"), identity(t, dir, "agents")
	// The rogues reach etcd with the mesh's client certificates (a
	// compromised inference pod, a leaked key): etcd's client-cert auth
	// lets them register; the callers' check of the name stops them.
	honest := serve(t, "retrieval", etcdAs(t, e.Endpoints(), ret), ret)
	serve(t, "retrieval", etcdAs(t, e.Endpoints(), inf), inf)
	serve(t, "retrieval", etcdAs(t, e.Endpoints(), inf), identity(t, other, "retrieval"))
	serve(t, "retrieval", etcdAs(t, e.Endpoints(), inf), nil)

	cli := etcdAs(t, e.Endpoints(), ag)
	deadline := time.Now().Add(20 * time.Second)
	for {
		insts, err := discovery.List(context.Background(), cli)
		if err == nil && len(insts) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registered: %v (%v), want 4 instances", insts, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	f, err := client.NewFactory(cli, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.TLS(ag)
	conn, err := f.Conn(client.Downstream{Service: "retrieval"})
	if err != nil {
		t.Fatal(err)
	}
	hc := healthpb.NewHealthClient(conn)
	served := map[string]int{}
	for range 40 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var md metadata.MD
		_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&md), grpc.WaitForReady(true))
		cancel()
		if err != nil {
			t.Fatalf("call through discovery: %v", err)
		}
		served[first(md.Get(server.InstanceHeader))]++
	}
	if len(served) != 1 || served[honest.Addr()] != 40 {
		t.Fatalf("calls served by %v, want all 40 by the honest instance %s", served, honest.Addr())
	}

	// The honest instance refuses a plaintext client and a client whose
	// certificate comes from another CA.
	plain, err := grpc.NewClient("passthrough:///"+honest.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(plain).Check(ctx, &healthpb.HealthCheckRequest{}); err == nil {
		t.Fatal("a plaintext client was answered")
	}
	// It trusts the mesh's CA, so only the server can be the one refusing.
	pem, err := os.ReadFile(filepath.Join(dir, tlsconf.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	// check health-checks the server as a client trusting the mesh's CA
	// and presenting the certificate in certFile and keyFile.
	check := func(certFile, keyFile string) error {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := grpc.NewClient("passthrough:///"+honest.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
			MinVersion: tls.VersionTLS13, ServerName: "retrieval", RootCAs: roots, Certificates: []tls.Certificate{cert}})))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	if err := check(filepath.Join(other, "agents", tlsconf.CertFile), filepath.Join(other, "agents", tlsconf.KeyFile)); err == nil {
		t.Fatal("a client with another CA's certificate was answered")
	}
	// The same client with the mesh's certificate is answered: the refusals
	// above are about the certificates, not the connection.
	if err := check(ag.CertPath, ag.KeyPath); err != nil {
		t.Fatalf("a client with the mesh's certificate: %v", err)
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
