package mesh

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/auth"
	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/discovery"
	"github.com/pdfqa/pdfqa/platform/etcdtest"
	"github.com/pdfqa/pdfqa/platform/server"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/platform/tlsconf"
	"github.com/pdfqa/pdfqa/services/retrieval/parse/pdftest"
)

// counting is an interceptor link counting the calls a server received.
func counting(n *atomic.Int64) server.Interceptor {
	return server.Interceptor{Name: "count",
		Unary: func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			n.Add(1)
			return h(ctx, req)
		},
		Stream: func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			n.Add(1)
			return h(srv, ss)
		}}
}

// The whole mesh over mutual TLS (`pdfqa up --tls`): certificates made on
// first start, etcd with client-cert auth, every hop mTLS. It ingests,
// searches and answers; plaintext and foreign-CA callers are refused by
// etcd and the services; an instance registered in etcd as retrieval that
// presents inference's certificate never receives a call.
func TestUpOverMutualTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole mesh and asks the embedded model")
	}
	data := t.TempDir()
	m := StartForTest(t, UpOptions{Data: data, HTTPAddr: "127.0.0.1:0", LogLevel: "error", TLS: true})
	dir := filepath.Join(data, TLSDirName)
	if m.TLSDir != dir {
		t.Fatalf("mesh TLS dir %q, want %q", m.TLSDir, dir)
	}
	for _, n := range CertNames() {
		fi, err := os.Stat(filepath.Join(dir, n, tlsconf.KeyFile))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s key: %v, %v", n, fi, err)
		}
	}
	base := "http://" + m.Gateway().HTTPAddr
	// /healthz probes every instance over mTLS.
	if err := testenv.WaitHTTP(base+"/healthz", 3*time.Minute); err != nil {
		t.Fatal(err)
	}

	// A rogue instance registered as retrieval, presenting inference's
	// certificate (from the mesh's own CA), with etcd reached by the
	// client identity: it must receive no call.
	inf, err := tlsconf.Load(dir, "inference", nil)
	if err != nil {
		t.Fatal(err)
	}
	var rogueCalls atomic.Int64
	rogue, err := server.New(server.Options{Name: "retrieval", MetricsAddr: "off", Etcd: m.Client, TLS: inf,
		Logger: slog.New(slog.DiscardHandler), Interceptors: []server.Interceptor{counting(&rogueCalls)}, DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	retrievalv1.RegisterRetrievalServiceServer(rogue.GRPC, retrievalv1.UnimplementedRetrievalServiceServer{})
	rctx, rcancel := context.WithCancel(context.Background())
	rdone := make(chan struct{})
	go func() { _ = rogue.Serve(rctx); close(rdone) }()
	t.Cleanup(func() { rcancel(); <-rdone })
	waitRegistered(t, m.Client, "retrieval", 2)

	rest := func(method, path string, body any) (int, []byte) {
		t.Helper()
		code, out, err := testenv.Call(context.Background(), nil, method, base+path, m.AdminKey, body)
		if err != nil {
			t.Fatal(err)
		}
		return code, out
	}
	pdf := pdftest.OnePage("Northwind ferry revenue was 48.2 million euros in 2025")
	if code, b := rest("POST", "/v1/collections/tls/documents", map[string]any{"name": "ferry.pdf", "content": base64.StdEncoding.EncodeToString(pdf)}); code != 200 {
		t.Fatalf("upload over mTLS: %d %s", code, b)
	}
	// Ingestion is asynchronous: wait for the document to be searchable.
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		code, b := rest("POST", "/v1/collections/tls:search", map[string]any{"query": "ferry revenue", "top_k": 3})
		if code == 200 && strings.Contains(string(b), "48.2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("document not searchable over mTLS: %d %s", code, b)
		}
	}
	for i := range 20 {
		code, b := rest("POST", "/v1/collections/tls:search", map[string]any{"query": "ferry revenue", "top_k": 3})
		if code != 200 || !strings.Contains(string(b), "48.2") {
			t.Fatalf("search #%d over mTLS: %d %s", i, code, b)
		}
	}

	// Ask over gRPC as a CLI would: the client identity and the admin key.
	cid, err := tlsconf.Load(dir, ClientIdentity, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := client.NewFactory(m.Client, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.TLS(cid)
	f.Use(auth.KeyClient(m.AdminKey))
	ag, err := Registry().Of(&agentsv1.AgentsService_ServiceDesc)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := f.Conn(ag.Downstream())
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer acancel()
	run, err := askRun(actx, agentsv1.NewAgentsServiceClient(ac), &agentsv1.AskRequest{Collection: "tls", Question: "What was Northwind's ferry revenue in 2025?", Mode: agentsv1.AskMode_ASK_MODE_SINGLE_SHOT}, nil)
	if err != nil {
		t.Fatalf("Ask over mTLS: %v", err)
	}
	if run == nil || run.GetStatus() != agentsv1.RunStatus_RUN_STATUS_SUCCEEDED || !strings.Contains(run.GetAnswer(), "48.2") || len(run.GetCitations()) == 0 {
		t.Fatalf("Ask over mTLS: run %v, want a succeeded, cited answer with 48.2", run)
	}
	// The Go SDK as the CLI dials it (mesh flags with the data directory's
	// tls/ folder): the client identity searches over etcd and mTLS; the
	// same SDK without it reaches neither etcd nor a service.
	sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
	defer scancel()
	sc, err := pdfqa.Dial(sctx, "etcd://"+m.Etcd.Endpoint(), pdfqa.WithIdentity(cid), pdfqa.WithAPIKey(m.AdminKey))
	if err != nil {
		t.Fatalf("SDK over mTLS: %v", err)
	}
	defer sc.Close()
	ps, err := sc.Search(sctx, "tls", "ferry revenue", nil)
	if err != nil || len(ps) == 0 || !strings.Contains(ps[0].GetText(), "48.2") {
		t.Fatalf("SDK search over mTLS: %v, %v", ps, err)
	}
	if plain, err := pdfqa.Dial(sctx, "etcd://"+m.Etcd.Endpoint(), pdfqa.WithAPIKey(m.AdminKey)); err == nil {
		plain.Close()
		t.Fatal("a plaintext SDK client reached the mesh's etcd")
	}
	waitRegistered(t, m.Client, "retrieval", 2) // the rogue was registered all along
	if calls := rogueCalls.Load(); calls != 0 {
		t.Fatalf("the rogue retrieval instance (inference's certificate) received %d calls", calls)
	}

	// Refused: a plaintext etcd client, a plaintext gRPC client, a client
	// presenting a certificate from another CA.
	pe := etcdtest.Client(t, []string{m.Etcd.Endpoint()}, nil)
	ectx, ecancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer ecancel()
	if _, err := pe.Put(ectx, discovery.Prefix+"retrieval/evil", `{"Addr":"127.0.0.1:1"}`); err == nil {
		t.Fatal("a plaintext client wrote to the mesh's etcd")
	}
	var retAddr string
	for _, i := range m.Instances {
		if i.Name == "retrieval" {
			retAddr = i.Server.Addr()
		}
	}
	search := func(creds grpc.DialOption) error {
		ku, _ := auth.KeyClient(m.AdminKey)
		c, err := grpc.NewClient("passthrough:///"+retAddr, creds, grpc.WithUnaryInterceptor(ku))
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = retrievalv1.NewRetrievalServiceClient(c).Search(ctx, &retrievalv1.SearchRequest{Collection: "tls", Query: "ferry"})
		return err
	}
	if err := search(grpc.WithTransportCredentials(insecure.NewCredentials())); err == nil {
		t.Fatal("a plaintext gRPC client was answered by retrieval")
	}
	other := t.TempDir()
	if _, err := tlsconf.WriteDev(other, tlsconf.DevOptions{Names: []string{ClientIdentity}}); err != nil {
		t.Fatal(err)
	}
	foreign, err := tls.LoadX509KeyPair(filepath.Join(other, ClientIdentity, tlsconf.CertFile), filepath.Join(other, ClientIdentity, tlsconf.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	trusting := cid.ClientConfig("retrieval") // trusts the mesh; presents the foreign certificate
	trusting.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &foreign, nil }
	if err := search(grpc.WithTransportCredentials(credentials.NewTLS(trusting))); err == nil {
		t.Fatal("a client with another CA's certificate was answered by retrieval")
	}
	if err := search(grpc.WithTransportCredentials(credentials.NewTLS(cid.ClientConfig("retrieval")))); err != nil {
		t.Fatalf("the same call with the mesh's client certificate: %v", err)
	}
}

func waitRegistered(t *testing.T, cli *clientv3.Client, service string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		insts, err := discovery.List(context.Background(), cli)
		got := 0
		for _, i := range insts {
			if i.Service == service {
				got++
			}
		}
		if err == nil && got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d instances of %s registered (%v), want %d", got, service, err, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pdfqa up --tls makes the certificates once, into the data directory, and
// reuses them; a configured directory without a CA is an error naming the
// command that makes one.
func TestUpTLSDir(t *testing.T) {
	data := t.TempDir()
	if dir, err := upTLSDir(UpOptions{Data: data}); err != nil || dir != "" {
		t.Fatalf("plaintext: %q, %v", dir, err)
	}
	dir, err := upTLSDir(UpOptions{Data: data, TLS: true})
	if err != nil || dir != filepath.Join(data, TLSDirName) {
		t.Fatalf("--tls: %q, %v", dir, err)
	}
	ca, err := os.ReadFile(filepath.Join(dir, tlsconf.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range CertNames() {
		if _, err := tlsconf.Load(dir, n, nil); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if again, err := upTLSDir(UpOptions{Data: data, TLS: true}); err != nil || again != dir {
		t.Fatalf("second start: %q, %v", again, err)
	}
	if ca2, _ := os.ReadFile(filepath.Join(dir, tlsconf.CAFile)); !bytes.Equal(ca, ca2) {
		t.Fatal("a second start made a new CA")
	}
	empty := t.TempDir()
	if _, err := upTLSDir(UpOptions{Data: data, TLSDir: empty}); err == nil || !strings.Contains(err.Error(), "pdfqa certs") {
		t.Fatalf("--tls-dir without a CA: %v", err)
	}
	if got, err := upTLSDir(UpOptions{Data: data, TLSDir: dir}); err != nil || got != dir {
		t.Fatalf("--tls-dir %s: %q, %v", dir, got, err)
	}
}
