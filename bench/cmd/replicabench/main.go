// Command replicabench measures searches/s through the mesh with 1 and 2
// retrieval replicas on the shared store, and counts failed searches while
// one of two replicas is SIGKILLed under load.
//
// It starts, on loopback only, an embedded etcd, a PostgreSQL with pgvector
// (platform/pgtest, scripts/setup/postgres.sh's install) and, as separate
// `pdfqa serve` processes on the shared store and one file bucket,
// inference and the gateway once and retrieval twice (--insecure-no-auth,
// local only). It ingests samples/ through the gateway's REST API, then
// drives POST /v1/collections/{c}:search on the gateway with vegeta
// (github.com/tsenart/vegeta), a bounded number of requests over a bounded
// time each phase:
//
//  1. one: retrieval-2 stopped, as many searches as -workers keep in flight
//     for -duration;
//
//  2. two: retrieval-2 started again, the same load;
//
//  3. kill: a fixed rate (-kill-rate, default half the lower of phases 1
//     and 2's throughputs, so that the survivor alone can carry it: a
//     failure then is the kill's, not an overload's) for -duration,
//     retrieval-2 SIGKILLed a third of the way in: every failed request
//     counts;
//
//  4. one-after: the survivor alone, the same load as 1 (the machine's
//     drift between 1 and 2 shows as the difference between 1 and 4).
//
//     nice -n 19 go run ./bench/cmd/replicabench -out bench/recorded/replicas.json
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/pdfqa/pdfqa/bench/internal/benchutil"
	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// Report is bench/recorded/replicas.json.
type Report struct {
	benchutil.Run
	Workload string  `json:"workload"`
	Phases   []Phase `json:"phases"`
}

// Phase is one load phase's result.
type Phase struct {
	Name     string  `json:"name"`
	Replicas string  `json:"replicas"`
	Load     string  `json:"load"`
	Requests uint64  `json:"requests"`
	Failed   uint64  `json:"failed"`
	PerSec   float64 `json:"searches_per_second"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Max      float64 `json:"max_ms"`
	// Errors are the distinct failures (empty when none failed).
	Errors []string `json:"errors,omitempty"`
	// KilledAt is when the replica was killed, seconds into the phase.
	KilledAt float64 `json:"killed_at_s,omitempty"`
	// Load1 is the machine's 1-minute load average as the phase started
	// (other work on the machine shows here).
	Load1 float64 `json:"load1_at_start"`
}

var queries = []string{
	"revenue growth", "harbour inspection findings", "tide timetable accuracy", "operating margin",
	"corrosion on the pier", "two-column method evaluation", "net income 2025", "recommendations of the memo",
}

func main() { benchutil.Main("replicabench", run) }

func run() error {
	bin := flag.String("bin", "bin/pdfqa", "the pdfqa binary (built with `make build` when missing)")
	duration := flag.Duration("duration", 20*time.Second, "length of each load phase")
	workers := flag.Uint64("workers", 8, "requests in flight in the throughput phases")
	killRate := flag.Int("kill-rate", 0, "searches/s during the kill phase (0: half the lower of the one- and two-replica throughputs)")
	out := flag.String("out", "", "write the report as JSON here")
	work := flag.String("dir", "", "working directory (default: a temporary one, removed after)")
	flag.Parse()
	if *duration <= 0 || *duration > 10*time.Minute || *workers == 0 || *workers > 256 {
		return errors.New("-duration must be in (0, 10m] and -workers in [1, 256]")
	}
	rep := Report{Run: benchutil.NewRun("replicabench", "replicabench")}
	if _, err := os.Stat(*bin); err != nil {
		if b, err := exec.Command("go", "build", "-o", *bin, "./cmd/pdfqa").CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", *bin, err, b)
		}
	}
	dir, done, err := benchutil.WorkDir(*work, "replicabench")
	if err != nil {
		return err
	}
	defer done()
	etcd, err := mesh.StartEmbedded(filepath.Join(dir, "etcd"), "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer etcd.Close()
	pg, err := pgtest.Start()
	if err != nil {
		return err
	}
	defer pg.Close()
	dsn, err := pg.CreateDatabase()
	if err != nil {
		return err
	}
	blobs, err := store.FileBucketURL(filepath.Join(dir, "blobs"))
	if err != nil {
		return err
	}
	c := &cluster{bin: *bin, dir: dir, etcd: etcd.Endpoint(), store: dsn, blobs: blobs, procs: map[string]*exec.Cmd{}}
	defer c.stopAll()
	httpPort, err := testenv.FreePort()
	if err != nil {
		return err
	}
	gw := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	for _, s := range []struct{ name, svc string }{{"inference", "inference"}, {"retrieval-1", "retrieval"}, {"retrieval-2", "retrieval"}, {"gateway", "gateway"}} {
		var extra []string
		if s.svc == "gateway" {
			extra = []string{"--http", "127.0.0.1:" + strconv.Itoa(httpPort)}
		}
		if err := c.start(s.name, s.svc, extra...); err != nil {
			return err
		}
	}
	n, err := ingest(gw, "bench")
	if err != nil {
		return err
	}
	rep.Workload = fmt.Sprintf("%d sample PDFs (samples/) in one collection; %d queries in turn, top_k 5, POST /v1/collections/bench:search on one gateway; inference 1, gateway 1; PostgreSQL store, file bucket; no background refinement; vegeta, keep-alive, 10 s request timeout", n, len(queries))
	url := gw + "/v1/collections/bench:search"
	for i := 0; i < 2*len(queries); i++ { // every replica's vector cache loaded
		if err := searchOnce(url, queries[i%len(queries)]); err != nil {
			return fmt.Errorf("warm-up search: %w", err)
		}
	}

	maxLoad := func(name, replicas string) (Phase, error) {
		return attack(url, name, replicas, vegeta.Rate{Freq: 0}, *workers, *duration, nil)
	}
	if err := c.stop("retrieval-2"); err != nil {
		return err
	}
	one, err := maxLoad("one", "1")
	if err != nil {
		return err
	}
	if err := c.start("retrieval-2", "retrieval"); err != nil {
		return err
	}
	// Until round robin has picked up the new replica and its cache is warm.
	time.Sleep(3 * time.Second)
	for i := 0; i < 2*len(queries); i++ {
		if err := searchOnce(url, queries[i%len(queries)]); err != nil {
			return fmt.Errorf("warm-up search: %w", err)
		}
	}
	two, err := maxLoad("two", "2")
	if err != nil {
		return err
	}
	rate := *killRate
	if rate <= 0 {
		rate = max(1, int(0.5*min(one.PerSec, two.PerSec)))
	}
	killAt := *duration / 3
	kill, err := attack(url, "kill", "2, then 1 (retrieval-2 SIGKILLed)", vegeta.Rate{Freq: rate, Per: time.Second}, 0, *duration, &killPlan{at: killAt, do: func() error { return c.kill("retrieval-2") }})
	if err != nil {
		return err
	}
	after, err := maxLoad("one-after", "1")
	if err != nil {
		return err
	}
	rep.Phases = []Phase{one, two, kill, after}
	for _, p := range rep.Phases {
		fmt.Printf("%-10s replicas %-36s %-22s %6d requests %4d failed %7.1f searches/s  p50 %6.1f ms  p99 %6.1f ms  load %.1f\n",
			p.Name, p.Replicas, p.Load, p.Requests, p.Failed, p.PerSec, p.P50, p.P99, p.Load1)
		for _, e := range p.Errors {
			fmt.Printf("           error: %s\n", e)
		}
	}
	if *out != "" {
		if err := benchutil.WriteJSON(*out, rep); err != nil {
			return err
		}
	}
	if kill.Failed > 0 {
		return fmt.Errorf("%d of %d searches failed while a replica was killed", kill.Failed, kill.Requests)
	}
	return nil
}

type killPlan struct {
	at time.Duration
	do func() error
}

// attack runs one phase: rate (Freq 0: as fast as workers allow) for d.
func attack(url, name, replicas string, rate vegeta.Rate, workers uint64, d time.Duration, kp *killPlan) (Phase, error) {
	opts := []func(*vegeta.Attacker){vegeta.Timeout(10 * time.Second), vegeta.KeepAlive(true)}
	load := fmt.Sprintf("%d/s for %v", rate.Freq, d)
	if rate.Freq == 0 {
		opts = append(opts, vegeta.Workers(workers), vegeta.MaxWorkers(workers))
		load = fmt.Sprintf("%d in flight for %v", workers, d)
	}
	atk := vegeta.NewAttacker(opts...)
	i := 0
	targeter := func(t *vegeta.Target) error {
		body, _ := json.Marshal(map[string]any{"query": queries[i%len(queries)], "topK": 5})
		i++
		*t = vegeta.Target{Method: http.MethodPost, URL: url, Body: body, Header: http.Header{"Content-Type": {"application/json"}}}
		return nil
	}
	var m vegeta.Metrics
	load1 := benchutil.Load1()
	killed := make(chan error, 1)
	if kp != nil {
		go func() { time.Sleep(kp.at); killed <- kp.do() }()
	}
	for res := range atk.Attack(targeter, rate, d, name) {
		if res.Code == http.StatusOK && !bytes.Contains(res.Body, []byte(`"passages"`)) {
			res.Code, res.Error = 0, "200 without passages: "+string(res.Body)
		}
		m.Add(res)
	}
	m.Close()
	p := Phase{Name: name, Replicas: replicas, Load: load, Requests: m.Requests, PerSec: m.Throughput,
		P50: ms(m.Latencies.P50), P99: ms(m.Latencies.P99), Max: ms(m.Latencies.Max), Errors: m.Errors, Load1: load1}
	p.Failed = m.Requests - uint64(m.StatusCodes["200"])
	if kp != nil {
		if err := <-killed; err != nil {
			return p, err
		}
		p.KilledAt = kp.at.Seconds()
	}
	return p, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func searchOnce(url, q string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, b, err := testenv.Call(ctx, nil, http.MethodPost, url, "", map[string]any{"query": q, "topK": 5})
	if err != nil {
		return err
	}
	if code != http.StatusOK || !bytes.Contains(b, []byte(`"passages"`)) {
		return fmt.Errorf("%d: %s", code, b)
	}
	return nil
}

// ingest uploads samples/*.pdf into coll and waits until each is READY.
func ingest(gw, coll string) (int, error) {
	files, err := filepath.Glob("samples/*.pdf")
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("no samples/*.pdf (run from the repository root): %v", err)
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	ctx := context.Background()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		code, b, err := testenv.Call(ctx, client, http.MethodPost, gw+"/v1/collections/"+coll+"/documents", "",
			map[string]any{"name": filepath.Base(f), "content": base64.StdEncoding.EncodeToString(data)})
		if err != nil {
			return 0, err
		}
		var up struct {
			Document struct{ ID string } `json:"document"`
		}
		if code != http.StatusOK || json.Unmarshal(b, &up) != nil || up.Document.ID == "" {
			return 0, fmt.Errorf("upload %s: %d: %s", f, code, b)
		}
		deadline := time.Now().Add(10 * time.Minute)
		for {
			_, b, err := testenv.Call(ctx, client, http.MethodGet, gw+"/v1/collections/"+coll+"/documents/"+up.Document.ID, "", nil)
			if err != nil {
				return 0, err
			}
			var got struct {
				Document struct{ State string } `json:"document"`
			}
			_ = json.Unmarshal(b, &got)
			if st := got.Document.State; st == "DOCUMENT_STATE_READY" {
				break
			}
			if got.Document.State == "DOCUMENT_STATE_FAILED" || time.Now().After(deadline) {
				return 0, fmt.Errorf("ingest %s: %s", f, b)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	return len(files), nil
}

// cluster is the `pdfqa serve` processes.
type cluster struct {
	bin, dir, etcd, store, blobs string
	procs                        map[string]*exec.Cmd
}

func (c *cluster) start(name, svc string, extra ...string) error {
	logPath := filepath.Join(c.dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	args := append([]string{"serve", svc, "--etcd", c.etcd, "--store", c.store, "--data", filepath.Join(c.dir, "data", name),
		"--lease-ttl", "3", "--insecure-no-auth", "--log-level", "warn"}, extra...)
	cmd := exec.Command(c.bin, args...)
	// No background refinement: its re-embedding would compete with the
	// searches measured.
	cmd.Env = append(os.Environ(), "PDFQA_BLOBS="+c.blobs, "PDFQA_RETRIEVAL_REFINE_MODEL=none")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = io.MultiWriter(logf, pw), logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	c.procs[name] = cmd
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.Contains(sc.Text(), "serving grpc") {
				close(ready)
				signalled = true
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); pw.Close(); logf.Close() }()
	select {
	case <-ready:
		go func() { <-exited }() // reaped when it stops
		return nil
	case err := <-exited:
		b, _ := os.ReadFile(logPath)
		return fmt.Errorf("%s exited (%v):\n%s", name, err, tail(b))
	case <-time.After(10 * time.Minute):
		return fmt.Errorf("%s not serving after 10 minutes", name)
	}
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}

// stop stops a process gracefully (SIGTERM to its group, drained).
func (c *cluster) stop(name string) error { return c.signal(name, syscall.SIGTERM) }

// kill SIGKILLs a process group: no drain, no deregistration.
func (c *cluster) kill(name string) error { return c.signal(name, syscall.SIGKILL) }

func (c *cluster) signal(name string, sig syscall.Signal) error {
	cmd := c.procs[name]
	if cmd == nil {
		return fmt.Errorf("no process %s", name)
	}
	delete(c.procs, name)
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for range 300 {
		if syscall.Kill(cmd.Process.Pid, 0) != nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return nil
}

func (c *cluster) stopAll() {
	for name := range c.procs {
		_ = c.stop(name)
	}
}
