// Command tlsbench measures what mutual TLS and API-key auth cost on the
// mesh's hops: it starts four `pdfqa up` meshes at once — plaintext without
// auth, plaintext with API keys, mTLS without auth, mTLS with API keys —
// and calls each in alternating rounds, so machine noise hits every
// configuration alike. Paths: an empty hop (client → inference
// ListAdapters, gRPC), a search (client → retrieval → inference embed,
// gRPC), the same search through the REST gateway, and a fresh connection
// per call (TLS handshake included).
package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/pdfqa/pdfqa/bench/internal/benchutil"
	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/auth"
	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/platform/tlsconf"
	"github.com/pdfqa/pdfqa/services/retrieval/parse/pdftest"
)

type config struct {
	name      string
	tls, auth bool
}

var configs = []config{
	{"plaintext, no auth", false, false},
	{"plaintext, API key", false, true},
	{"mTLS, no auth", true, false},
	{"mTLS, API key", true, true},
}

// target is one running mesh and its clients.
type target struct {
	config
	cmd     *exec.Cmd
	data    string
	base    string
	key     string
	f       *client.Factory
	fresh   func() (*client.Factory, func(), error)
	closeF  func()
	inf     inferencev1.InferenceServiceClient
	ret     retrievalv1.RetrievalServiceClient
	samples map[string][]time.Duration
}

func main() {
	bin := flag.String("bin", "bin/pdfqa", "pdfqa binary")
	n := flag.Int("n", 1000, "calls per path and configuration (fresh connections: n/10)")
	port := flag.Int("port", 18180, "first REST port (one per configuration)")
	flag.Parse()
	benchutil.Main("tlsbench", func() error { return run(*bin, *n, *port) })
}

func run(bin string, n, port int) error {
	var (
		ts []*target
		mu sync.Mutex
	)
	stopAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, t := range ts {
			t.stop()
		}
		ts = nil
	}
	defer stopAll()
	// Interrupted: stop the meshes rather than leave them running.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		stopAll()
		os.Exit(1)
	}()
	for i, c := range configs {
		t, err := start(bin, c, fmt.Sprintf("127.0.0.1:%d", port+i))
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		mu.Lock()
		ts = append(ts, t)
		mu.Unlock()
	}
	for _, t := range ts {
		if err := t.ready(); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		fmt.Fprintf(os.Stderr, "tlsbench: %s ready\n", t.name)
	}
	paths := []struct {
		name  string
		calls int
		call  func(t *target) error
	}{
		{"hop: client → inference ListAdapters (gRPC)", n, (*target).hop},
		{"search: client → retrieval → inference (gRPC)", n, (*target).search},
		{"search: client → gateway REST → retrieval → inference", n, (*target).restSearch},
		{"fresh connection + ListAdapters (handshake included)", max(n/10, 1), (*target).freshHop},
	}
	// Warm every path once, then alternate configurations in rounds.
	for _, t := range ts {
		for _, p := range paths {
			if err := p.call(t); err != nil {
				return fmt.Errorf("%s, %s: %w", t.name, p.name, err)
			}
		}
	}
	const rounds = 10
	for r := 0; r < rounds; r++ {
		fmt.Fprintf(os.Stderr, "tlsbench: round %d of %d\n", r+1, rounds)
		for _, p := range paths {
			for _, t := range ts {
				for i := 0; i < max(p.calls/rounds, 1); i++ {
					t0 := time.Now()
					if err := p.call(t); err != nil {
						return fmt.Errorf("%s, %s: %w", t.name, p.name, err)
					}
					t.samples[p.name] = append(t.samples[p.name], time.Since(t0))
				}
			}
		}
	}
	fmt.Printf("| path | configuration | calls | p50 | p99 |\n|---|---|---|---|---|\n")
	for _, p := range paths {
		for _, t := range ts {
			s := t.samples[p.name]
			fmt.Printf("| %s | %s | %d | %s | %s |\n", p.name, t.name, len(s), pct(s, .50), pct(s, .99))
		}
	}
	return nil
}

func start(bin string, c config, httpAddr string) (*target, error) {
	data, err := os.MkdirTemp("", "tlsbench")
	if err != nil {
		return nil, err
	}
	args := []string{"up", "--data", data, "--http", httpAddr, "--log-level", "warn"}
	if c.tls {
		// mutual TLS between the services; the REST front door (only
		// the readiness wait uses it) stays plain, as behind a proxy
		args = append(args, "--tls", "--rest-tls", "0")
	}
	if !c.auth {
		args = append(args, "--insecure-no-auth")
	}
	cmd := exec.Command(bin, args...)
	// The per-key rate limit would throttle the benchmark's own key: lift it
	// (the limiter still runs on every call with auth). Queries embed with
	// the static model only (no background refinement), so a search is the
	// mesh's hops and the index, not the llama.cpp engine's CPU share.
	cmd.Env = append(os.Environ(), "PDFQA_RATE_LIMIT=1000000", "PDFQA_RATE_BURST=1000000", "PDFQA_RETRIEVAL_REFINE_MODEL=none")
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		os.RemoveAll(data)
		return nil, err
	}
	return &target{config: c, cmd: cmd, data: data, base: "http://" + httpAddr, samples: map[string][]time.Duration{}}, nil
}

func (t *target) stop() {
	if t.closeF != nil {
		t.closeF()
	}
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	_ = t.cmd.Wait()
	_ = os.RemoveAll(t.data)
}

// ready waits for the mesh, dials it as the CLI would (etcd from the data
// directory, the client identity with mTLS, the admin key with auth) and
// ingests a one-page document to search.
func (t *target) ready() error {
	if err := testenv.WaitHTTP(t.base+"/healthz", 10*time.Minute); err != nil {
		return err
	}
	if t.auth {
		t.key = mesh.ReadKeyFile(t.data)
	}
	tlsDir := ""
	if t.tls {
		tlsDir = filepath.Join(t.data, mesh.TLSDirName)
	}
	ep := mesh.FindEtcd("", t.data)
	t.fresh = func() (*client.Factory, func(), error) {
		cli, err := mesh.EtcdClient([]string{ep}, tlsDir, mesh.ClientIdentity)
		if err != nil {
			return nil, nil, err
		}
		f, err := client.NewFactory(cli, nil)
		if err != nil {
			_ = cli.Close()
			return nil, nil, err
		}
		closeAll := func() { _ = f.Close(); _ = cli.Close() }
		if tlsDir != "" {
			id, err := tlsconf.Load(tlsDir, mesh.ClientIdentity, nil)
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			f.TLS(id)
		}
		if t.key != "" {
			f.Use(auth.KeyClient(t.key))
		}
		return f, closeAll, nil
	}
	f, closeF, err := t.fresh()
	if err != nil {
		return err
	}
	t.f, t.closeF = f, closeF
	reg := mesh.Registry()
	conn := func(desc *grpc.ServiceDesc) (*grpc.ClientConn, error) {
		s, err := reg.Of(desc)
		if err != nil {
			return nil, err
		}
		return f.Conn(s.Downstream())
	}
	ic, err := conn(&inferencev1.InferenceService_ServiceDesc)
	if err != nil {
		return err
	}
	rc, err := conn(&retrievalv1.RetrievalService_ServiceDesc)
	if err != nil {
		return err
	}
	t.inf, t.ret = inferencev1.NewInferenceServiceClient(ic), retrievalv1.NewRetrievalServiceClient(rc)
	pdf := pdftest.OnePage("Northwind ferry revenue was 48.2 million euros in 2025")
	code, b, err := t.rest("POST", "/v1/collections/bench/documents", map[string]any{"name": "ferry.pdf", "content": base64.StdEncoding.EncodeToString(pdf)})
	if err != nil || code != 200 {
		return fmt.Errorf("upload: %d %s %v", code, b, err)
	}
	// Ingestion is asynchronous, and the engines may still be loading.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		err := t.search()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not searchable after 5 minutes: %w", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (t *target) rest(method, path string, body any) (int, []byte, error) {
	return testenv.Call(context.Background(), nil, method, t.base+path, t.key, body)
}

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

func (t *target) hop() error {
	c, cancel := ctx()
	defer cancel()
	_, err := t.inf.ListAdapters(c, &inferencev1.ListAdaptersRequest{})
	return err
}

func (t *target) search() error {
	c, cancel := ctx()
	defer cancel()
	r, err := t.ret.Search(c, &retrievalv1.SearchRequest{Collection: "bench", Query: "ferry revenue", TopK: 3})
	if err == nil && len(r.GetPassages()) == 0 {
		err = fmt.Errorf("search found nothing")
	}
	return err
}

func (t *target) restSearch() error {
	code, b, err := t.rest("POST", "/v1/collections/bench:search", map[string]any{"query": "ferry revenue", "top_k": 3})
	if err == nil && (code != 200 || !strings.Contains(string(b), "48.2")) {
		err = fmt.Errorf("REST search: %d %s", code, b)
	}
	return err
}

// freshHop dials inference on a new connection (and a new etcd client):
// discovery, TCP and, with mTLS, the handshakes are in the time.
func (t *target) freshHop() error {
	f, closeF, err := t.fresh()
	if err != nil {
		return err
	}
	defer closeF()
	s, err := mesh.Registry().Of(&inferencev1.InferenceService_ServiceDesc)
	if err != nil {
		return err
	}
	conn, err := f.Conn(s.Downstream())
	if err != nil {
		return err
	}
	c, cancel := ctx()
	defer cancel()
	_, err = inferencev1.NewInferenceServiceClient(conn).ListAdapters(c, &inferencev1.ListAdaptersRequest{})
	return err
}

// pct is the nearest-rank percentile p (0-1) of ds in µs.
func pct(ds []time.Duration, p float64) string {
	return fmt.Sprintf("%.0f µs", float64(benchutil.Percentile(ds, p).Nanoseconds())/1000)
}
