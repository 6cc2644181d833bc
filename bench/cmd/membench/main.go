// Command membench measures the resident memory of a whole mesh (`pdfqa
// up`) by process — the Go process holding the five services and embedded
// etcd, the chat and embedding engines (llama-server), parse workers,
// tesseract — at idle, and its peak while it ingests the bundled samples
// plus synthetic documents (text, table, scanned pages) and answers one
// question. It samples /proc every 200 ms and writes JSON for bench/plots:
//
//	make build && go run ./bench/cmd/membench -out bench/recorded/memory.json
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pdfqa/pdfqa/bench/internal/benchutil"
	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/internal/samples"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
)

func main() {
	parse.RunWorkerIfRequested()
	bin := flag.String("bin", "bin/pdfqa", "pdfqa binary")
	httpAddr := flag.String("http", "127.0.0.1:18393", "gateway REST address for the run")
	out := flag.String("out", "", "JSON file to write (default: stdout)")
	serve := flag.Bool("serve", false, "each service a process of its own (pdfqa serve, embedded etcd in this process) instead of pdfqa up: memory per service")
	flag.Parse()
	benchutil.Main("membench", func() error { return run(*bin, *httpAddr, *out, *serve) })
}

func run(bin, httpAddr, out string, serve bool) error {
	started := benchutil.NewRun("memory", "membench") // the load before the mesh starts
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "membench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	data := filepath.Join(tmp, "data")
	docs := filepath.Join(tmp, "docs")
	if err := os.MkdirAll(docs, 0o755); err != nil {
		return err
	}
	// The workload: the samples and one synthetic document of each kind.
	render, err := parse.New(parse.Config{Instances: 1, DisableInterrupt: true})
	if err != nil {
		return err
	}
	if err := samples.Write(ctx, render, docs); err != nil {
		return err
	}
	for kind, n := range map[samples.Kind]int{samples.Text: 100, samples.Table: 100, samples.Scanned: 5} {
		b, err := samples.Synthetic(ctx, render, kind, n)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(docs, fmt.Sprintf("synthetic-%s-%d.pdf", kind, n)), b, 0o644); err != nil {
			return err
		}
	}
	render.Close()

	// roots are the processes measured with their children: pdfqa up, or
	// one pdfqa serve per service; clientArgs reach the mesh from the CLI.
	var roots map[int]string
	var clientArgs []string
	var exited chan error
	if serve {
		etcd, err := mesh.StartEmbedded(filepath.Join(tmp, "etcd"), "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer etcd.Close()
		roots, exited = map[int]string{}, make(chan error, len(serviceOrder))
		for _, svc := range serviceOrder {
			args := []string{"serve", svc, "--etcd", etcd.Endpoint(), "--data", filepath.Join(data, svc), "--insecure-no-auth", "--log-level", "warn"}
			if svc == "gateway" {
				args = append(args, "--http", httpAddr)
			}
			cmd := exec.Command(bin, args...)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			if err := cmd.Start(); err != nil {
				return err
			}
			roots[cmd.Process.Pid] = svc
			go func() { exited <- cmd.Wait() }()
			defer func() { _ = cmd.Process.Signal(os.Interrupt) }()
		}
		clientArgs = []string{"--etcd", etcd.Endpoint()}
	} else {
		up := exec.Command(bin, "up", "--data", data, "--http", httpAddr, "--log-level", "warn")
		up.Stdout, up.Stderr = os.Stderr, os.Stderr
		if err := up.Start(); err != nil {
			return err
		}
		exited = make(chan error, 1)
		go func() { exited <- up.Wait() }()
		defer func() { _ = up.Process.Signal(os.Interrupt); <-exited }()
		roots = map[int]string{up.Process.Pid: ""}
		clientArgs = []string{"--data", data}
	}
	deadline := time.Now().Add(4 * time.Minute)
	for {
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("the mesh exited before it was healthy: %v", err)
		default:
		}
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the mesh did not become healthy")
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(15 * time.Second) // engines loaded, the static table mapped
	idle := peak(func() { time.Sleep(3 * time.Second) }, roots)

	files, _ := filepath.Glob(filepath.Join(docs, "*.pdf"))
	sort.Strings(files)
	workload := func() {
		ingest := exec.Command(bin, append(append(append([]string{"ingest"}, clientArgs...), "--collection", "mem"), files...)...)
		ingest.Stdout, ingest.Stderr = nil, os.Stderr
		if err := ingest.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "membench: ingest:", err)
		}
		ask := exec.Command(bin, append(append([]string{"ask"}, clientArgs...), "--collection", "mem", "What was Northwind Ferries' total revenue in 2025?")...)
		ask.Stdout, ask.Stderr = os.Stderr, os.Stderr
		if err := ask.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "membench: ask:", err)
		}
	}
	load := peak(workload, roots)

	rep := benchutil.MemoryReport{Run: started, Workload: fmt.Sprintf("ingest %d PDFs (the 3 samples, synthetic text 100 pages, table 100 pages, scanned 5 pages), then one agentic ask", len(files)),
		Idle: idle, Peak: load}
	for _, u := range idle {
		rep.IdleMiB += u.RSSMiB
	}
	for _, u := range load {
		rep.PeakMiB += u.RSSMiB
	}
	rep.IdleMiB = float64(int(rep.IdleMiB*10+0.5)) / 10
	rep.PeakMiB = float64(int(rep.PeakMiB*10+0.5)) / 10
	return benchutil.WriteJSON(out, rep)
}

// peak runs f while sampling the process trees under roots every 200 ms
// and returns each class's largest sum of RSS seen (and most instances).
func peak(f func(), roots map[int]string) []benchutil.MemoryUsage {
	var mu sync.Mutex
	best := map[string]*benchutil.MemoryUsage{}
	sample := func() {
		now := map[string]*benchutil.MemoryUsage{}
		for root, svc := range roots {
			for _, p := range tree(root) {
				c := classify(p, root, svc)
				u := now[c]
				if u == nil {
					u = &benchutil.MemoryUsage{Process: c}
					now[c] = u
				}
				u.Instances++
				u.RSSMiB += benchutil.RSSMiB(p)
			}
		}
		mu.Lock()
		for c, u := range now {
			if b := best[c]; b == nil {
				best[c] = &benchutil.MemoryUsage{Process: c, Instances: u.Instances, RSSMiB: u.RSSMiB}
			} else {
				b.Instances = max(b.Instances, u.Instances)
				b.RSSMiB = max(b.RSSMiB, u.RSSMiB)
			}
		}
		mu.Unlock()
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(done)
	sample()
	var out []benchutil.MemoryUsage
	for _, u := range best {
		u.RSSMiB = float64(int(u.RSSMiB*10+0.5)) / 10
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Process < out[j].Process })
	return out
}

// tree lists root and its descendants.
func tree(root int) []int {
	parent := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 {
			pp, _ := strconv.Atoi(f[1])
			parent[pp] = append(parent[pp], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, parent[out[i]]...)
	}
	return out
}

// serviceOrder is the start order of -serve (inference first: the others
// find it through etcd).
var serviceOrder = []string{"inference", "retrieval", "agents", "trainer", "gateway"}

// classify names pid's class; svc is its root's service ("" for pdfqa up).
func classify(pid, root int, svc string) string {
	c := classOf(pid, root)
	if svc == "" {
		return c
	}
	if pid == root {
		return svc + ": pdfqa serve " + svc
	}
	return svc + ": " + c
}

func classOf(pid, root int) string {
	if pid == root {
		return "pdfqa up (5 services + etcd)"
	}
	cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	c := strings.ToLower(strings.ReplaceAll(string(cmd), "\x00", " "))
	env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	switch {
	case strings.Contains(c, "llama-server") && strings.Contains(c, "smollm"):
		return "chat engine (llama-server)"
	case strings.Contains(c, "llama-server"):
		return "embedding engine (llama-server)"
	case strings.Contains(string(env), parse.WorkerEnv+"="):
		return "parse workers"
	case strings.Contains(c, "tesseract"):
		return "tesseract"
	default:
		return "other children"
	}
}
