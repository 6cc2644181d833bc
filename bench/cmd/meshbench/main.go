// Command meshbench measures the mesh's plumbing: round-trip latency of an
// empty call client→gateway(REST)→service and client→service(gRPC) on
// loopback, and the idle RSS of `pdfqa up`. It starts bin/pdfqa up itself.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pdfqa/pdfqa/bench/internal/benchutil"
	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/discovery"
	"github.com/pdfqa/pdfqa/platform/testenv"
)

func main() {
	bin := flag.String("bin", "bin/pdfqa", "pdfqa binary")
	n := flag.Int("n", 2000, "calls per path")
	httpAddr := flag.String("http", "127.0.0.1:18080", "gateway REST address for the run")
	flag.Parse()
	benchutil.Main("meshbench", func() error { return run(*bin, *n, *httpAddr) })
}

func run(bin string, n int, httpAddr string) error {
	data, err := os.MkdirTemp("", "meshbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	cmd := exec.Command(bin, "up", "--data", data, "--http", httpAddr, "--log-level", "warn")
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	base := "http://" + httpAddr
	if err := testenv.WaitHTTP(base+"/healthz", 60*time.Second); err != nil {
		return err
	}
	ep, err := os.ReadFile(filepath.Join(data, "etcd.endpoint"))
	if err != nil {
		return err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{strings.TrimSpace(string(ep))}, DialTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer cli.Close()
	insts, err := discovery.List(context.Background(), cli)
	if err != nil {
		return err
	}
	var inferAddr string
	for _, i := range insts {
		if i.Service == "inference" {
			inferAddr = i.Addr
		}
	}
	conn, err := grpc.NewClient("passthrough:///"+inferAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ic := inferencev1.NewInferenceServiceClient(conn)
	hc := &http.Client{Timeout: 5 * time.Second}

	grpcCall := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := ic.ListAdapters(ctx, &inferencev1.ListAdaptersRequest{})
		return err
	}
	restCall := func() error {
		resp, err := hc.Get(base + "/v1/adapters")
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("REST status %d", resp.StatusCode)
		}
		return nil
	}
	// Alternate the two paths in rounds so machine noise hits both alike.
	var g, r []time.Duration
	for round := 0; round < 10; round++ {
		for _, p := range []struct {
			f   func() error
			out *[]time.Duration
		}{{grpcCall, &g}, {restCall, &r}} {
			for i := 0; i < n/10; i++ {
				t0 := time.Now()
				if err := p.f(); err != nil {
					return err
				}
				*p.out = append(*p.out, time.Since(t0))
			}
		}
	}
	time.Sleep(3 * time.Second)
	rss, err := benchutil.RSSKiB(cmd.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("| path | calls | p50 | p99 |\n|---|---|---|---|\n")
	fmt.Printf("| client → inference (gRPC, ListAdapters) | %d | %s | %s |\n", len(g), pct(g, .50), pct(g, .99))
	fmt.Printf("| client → gateway (REST GET /v1/adapters) → inference | %d | %s | %s |\n", len(r), pct(r, .50), pct(r, .99))
	fmt.Printf("\nidle RSS of `pdfqa up` (embedded etcd + 5 services): %.1f MiB\n", float64(rss)/1024)
	return nil
}

// pct is the nearest-rank percentile p (0-1) of ds in µs.
func pct(ds []time.Duration, p float64) string {
	return fmt.Sprintf("%.0f µs", float64(benchutil.Percentile(ds, p).Nanoseconds())/1000)
}
