package mesh

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/platform/testenv"
)

// cluster is a scripts/cluster topology started for a test.
type cluster struct {
	t        *testing.T
	dir      string
	gateways []string // REST base URLs
	env      []string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	if _, err := exec.LookPath("etcd"); err != nil {
		testenv.Missing(t, "etcd binary (Debian's etcd-server; scripts/setup/system.sh)")
	}
	if _, err := pgtest.Home(); err != nil {
		testenv.Missing(t, "%v", err)
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "scripts", "cluster")
	bin := buildBinary(t)
	var c *cluster
	var base int
	for attempt := 1; ; attempt++ {
		// Port ranges of this run's own, away from a developer's cluster
		// (18080, 25432) and below the kernel's ephemeral range (32768+),
		// where other tests' listeners and clients take theirs. A port taken
		// anyway between the script's check and its listen: another range.
		base = 20000 + rand.IntN(120)*100
		c = &cluster{t: t, dir: filepath.Join(t.TempDir(), "cluster")}
		c.env = append(os.Environ(), "PDFQA_BIN="+bin, "PDFQA_LOG_LEVEL=warn",
			"PDFQA_CLUSTER_HTTP_BASE="+strconv.Itoa(base), "PDFQA_CLUSTER_ETCD_BASE="+strconv.Itoa(base+20),
			"PDFQA_CLUSTER_PG_PORT="+strconv.Itoa(base+50))
		down := func(c *cluster) {
			cmd := exec.Command(script, "down", c.dir)
			cmd.Env = c.env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Logf("cluster down: %v\n%s", err, out)
			}
		}
		cmd := exec.Command(script, "up", c.dir)
		cmd.Env = c.env
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Cleanup(func() { down(c) })
			break
		}
		down(c)
		if attempt == 3 || !strings.Contains(string(out), "address already in use") {
			t.Fatalf("cluster up: %v\n%s", err, out)
		}
		t.Logf("cluster up, attempt %d: a port was taken, another range: %s", attempt, out)
	}
	for r := 1; r <= 2; r++ {
		c.gateways = append(c.gateways, fmt.Sprintf("http://127.0.0.1:%d", base+r))
	}
	for _, g := range c.gateways {
		if err := testenv.WaitHTTP(g+"/healthz", 3*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// pid is the process id of a cluster part ("retrieval-1", "etcd-2").
func (c *cluster) pid(name string) int {
	b, err := os.ReadFile(filepath.Join(c.dir, "pids", name))
	if err != nil {
		c.t.Fatal(err)
	}
	p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return p
}

func (c *cluster) kill(name string) {
	if err := syscall.Kill(c.pid(name), syscall.SIGKILL); err != nil {
		c.t.Fatalf("kill %s: %v", name, err)
	}
}

// errorLogs logs the last error lines of the named replicas' logs.
func (c *cluster) errorLogs(t *testing.T, names ...string) {
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(c.dir, "logs", name+".log"))
		if err != nil {
			t.Logf("%s: %v", name, err)
			continue
		}
		var errs []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, `"level":"ERROR"`) || strings.Contains(l, "level=ERROR") || strings.Contains(l, "panic") {
				errs = append(errs, l)
			}
		}
		t.Logf("%s: %d error lines, the last: %s", name, len(errs), strings.Join(errs[max(0, len(errs)-8):], "\n"))
	}
}

// grpcAddr is the gRPC address a replica printed when it started.
func (c *cluster) grpcAddr(name string) string {
	b, err := os.ReadFile(filepath.Join(c.dir, "logs", name+".log"))
	if err != nil {
		c.t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 4 && f[1] == "serving" && f[2] == "grpc" {
			return f[3]
		}
	}
	c.t.Fatalf("no serving line in %s's log", name)
	return ""
}

// pgctl stops or starts the cluster's PostgreSQL, as its unprivileged user.
func (c *cluster) pgctl(args ...string) {
	home, _ := pgtest.Home()
	argv := append([]string{filepath.Join(home, "bin", "pg_ctl"), "-D", filepath.Join(c.pgDir(), "data")}, args...)
	if os.Getuid() == 0 {
		u := os.Getenv("PDFQA_PG_USER")
		if u == "" {
			u = "pdfqa-pg"
		}
		argv = append([]string{"runuser", "-u", u, "--"}, argv...)
	}
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		c.t.Fatalf("pg_ctl %v: %v\n%s", args, err, out)
	}
}

// rest calls the gateway's REST API; it returns the status and the body.
func rest(method, url string, body any) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return testenv.Call(ctx, nil, method, url, "", body)
}

func mustREST(t *testing.T, method, url string, body, out any) {
	t.Helper()
	code, b, err := rest(method, url, body)
	if err != nil || code != http.StatusOK {
		t.Fatalf("%s %s: %d %v %s", method, url, code, err, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
}

type docJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	State      string `json:"state"`
	ChunkCount int    `json:"chunk_count"`
}

func (c *cluster) upload(t *testing.T, gw, coll, file string) docJSON {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Document docJSON }
	mustREST(t, "POST", gw+"/v1/collections/"+coll+"/documents",
		map[string]string{"name": filepath.Base(file), "content": base64.StdEncoding.EncodeToString(b)}, &res)
	return res.Document
}

func (c *cluster) docs(t *testing.T, gw, coll string) []docJSON {
	t.Helper()
	var res struct{ Documents []docJSON }
	mustREST(t, "GET", gw+"/v1/collections/"+coll+"/documents", nil, &res)
	return res.Documents
}

func search(gw, coll, q string) (int, int, error) {
	code, b, err := rest("POST", gw+"/v1/collections/"+coll+":search", map[string]any{"query": q, "top_k": 3})
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("HTTP %d: %.300s", code, b)
	}
	if err != nil {
		return code, 0, err
	}
	var res struct{ Passages []json.RawMessage }
	err = json.Unmarshal(b, &res)
	return code, len(res.Passages), err
}

// The proof on scripts/cluster's topology (3 etcd members,
// PostgreSQL, 2 replicas of every service, each a process).
func TestClusterTopology(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	calls := testenv.GlobData(t, "dev", "earnings-calls", "*.pdf")
	c := startCluster(t)
	a, b := c.gateways[0], c.gateways[1]

	// Upload through gateway A, search through gateway B.
	mustREST(t, "POST", a+"/v1/collections", map[string]string{"name": "one"}, nil)
	c.upload(t, a, "one", calls[0])
	waitFor(t, "the upload READY through B", 2*time.Minute, func() bool {
		ds := c.docs(t, b, "one")
		return len(ds) == 1 && ds[0].State == "DOCUMENT_STATE_READY"
	})
	if code, n, err := search(b, "one", "revenue growth"); err != nil || code != 200 || n == 0 {
		t.Fatalf("search through B: %d, %d passages, %v", code, n, err)
	}

	// A run asked on agents replica 1 reads through replica 2.
	conn := func(name string) agentsv1.AgentsServiceClient {
		cc, err := grpc.NewClient(c.grpcAddr(name), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		return agentsv1.NewAgentsServiceClient(cc)
	}
	ag1, ag2 := conn("agents-1"), conn("agents-2")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, err := askRun(ctx, ag1, &agentsv1.AskRequest{Collection: "one", Question: "What was product revenue?"}, nil)
	if err != nil {
		t.Fatalf("ask on agents-1: %v", err)
	}
	runID := run.GetId()
	got, err := ag2.GetRun(ctx, &agentsv1.GetRunRequest{RunId: runID})
	if err != nil || got.GetRun().GetStatus() != agentsv1.RunStatus_RUN_STATUS_SUCCEEDED {
		t.Fatalf("GetRun %q through agents-2: %v, %v", runID, got, err)
	}

	// The 10 earnings calls while retrieval replica 1 is SIGKILLed
	// mid-ingestion: all READY, each once.
	mustREST(t, "POST", a+"/v1/collections", map[string]string{"name": "calls"}, nil)
	for _, f := range calls {
		c.upload(t, a, "calls", f)
	}
	time.Sleep(500 * time.Millisecond)
	c.kill("retrieval-1")
	start := time.Now()
	var ds []docJSON
	waitFor(t, "all earnings calls READY after a retrieval replica died", 4*time.Minute, func() bool {
		_, body, err := rest("GET", b+"/v1/collections/calls/documents", nil)
		if err != nil {
			return false
		}
		var res struct{ Documents []docJSON }
		if json.Unmarshal(body, &res) != nil {
			return false
		}
		ds = res.Documents
		ready := 0
		for _, d := range ds {
			if d.State == "DOCUMENT_STATE_READY" {
				ready++
			}
		}
		return ready == len(calls)
	})
	t.Logf("%d calls READY %v after SIGKILL of retrieval-1", len(calls), time.Since(start).Round(time.Second))
	seen := map[string]bool{}
	for _, d := range ds {
		if seen[d.Name] || d.ChunkCount == 0 {
			t.Fatalf("document %s twice or without chunks: %+v", d.Name, ds)
		}
		seen[d.Name] = true
	}
	if len(ds) != len(calls) {
		t.Fatalf("%d documents for %d uploads", len(ds), len(calls))
	}

	// One etcd member SIGKILLed: traffic continues.
	c.kill("etcd-1")
	for i := range 20 {
		if code, n, err := search(b, "calls", "cloud revenue"); err != nil || code != 200 || n == 0 {
			t.Fatalf("search %d with an etcd member down: %d, %d, %v", i, code, n, err)
		}
	}

	// PostgreSQL stopped for 10 s under a search load: clear Unavailable
	// (503) errors, then full recovery without restarting a service.
	var ok, unavailable, other atomic.Int64
	var firstOther atomic.Value // what the first other failure was
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, gw := range []string{a, b} {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, n, err := search(gw, "calls", "operating margin")
				switch {
				case err == nil && code == 200 && n > 0:
					ok.Add(1)
				case code == http.StatusServiceUnavailable:
					unavailable.Add(1)
				default:
					other.Add(1)
					firstOther.CompareAndSwap(nil, fmt.Sprintf("HTTP %d, %d passages, %v", code, n, err))
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	time.Sleep(time.Second)
	c.pgctl("-m", "immediate", "-w", "stop")
	time.Sleep(10 * time.Second)
	c.pgctl("-l", filepath.Join(c.pgDir(), "log"), "-w", "-t", "60", "-o",
		fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=300", c.pgPort()), "start")
	waitFor(t, "searches succeed after PostgreSQL returned", 30*time.Second, func() bool {
		code, n, err := search(b, "calls", "operating margin")
		return err == nil && code == 200 && n > 0
	})
	close(stop)
	wg.Wait()
	t.Logf("searches during the outage: %d ok, %d Unavailable, %d other", ok.Load(), unavailable.Load(), other.Load())
	if unavailable.Load() == 0 {
		t.Fatal("no search answered Unavailable while PostgreSQL was down")
	}
	if other.Load() != 0 {
		c.errorLogs(t, "gateway-1", "gateway-2", "retrieval-1", "retrieval-2")
		t.Fatalf("%d searches failed other than Unavailable, the first: %v", other.Load(), firstOther.Load())
	}
	if n := len(c.docs(t, a, "calls")); n != len(calls) {
		t.Fatalf("%d documents after the outage, want %d", n, len(calls))
	}
}

func (c *cluster) pgDir() string {
	b, err := os.ReadFile(filepath.Join(c.dir, "pgdir"))
	if err != nil {
		c.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func (c *cluster) pgPort() int {
	for _, e := range c.env {
		if v, ok := strings.CutPrefix(e, "PDFQA_CLUSTER_PG_PORT="); ok {
			p, _ := strconv.Atoi(v)
			return p
		}
	}
	return 25432
}
