package mesh

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/discovery"
	"github.com/pdfqa/pdfqa/platform/etcdtest"
	"github.com/pdfqa/pdfqa/platform/server"
)

var pdfqaBin string

func buildBinary(t *testing.T) string {
	t.Helper()
	if pdfqaBin != "" {
		return pdfqaBin
	}
	out := filepath.Join(os.TempDir(), fmt.Sprintf("pdfqa-itest-%d", os.Getpid()))
	cmd := exec.Command("go", "build", "-o", out, "github.com/pdfqa/pdfqa/cmd/pdfqa")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build pdfqa: %v", err)
	}
	pdfqaBin = out
	return out
}

// replica is one `pdfqa serve` process.
type replica struct {
	cmd  *exec.Cmd
	addr string
}

func startReplica(t *testing.T, bin, etcd, service string) *replica {
	t.Helper()
	cmd := exec.Command(bin, "serve", service, "--etcd", etcd, "--lease-ttl", "2", "--data", t.TempDir(), "--log-level", "warn")
	cmd.Env = append(os.Environ(), ServiceTokenEnv+"=test-mesh-token") // as every replica of a deployment shares one
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	lines := make(chan string, 1)
	go func() {
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case l := <-lines:
		// "<service> serving grpc ADDR metrics ADDR"
		f := strings.Fields(l)
		if len(f) < 4 {
			t.Fatalf("unexpected serve output %q", l)
		}
		return &replica{cmd: cmd, addr: f[3]}
	case <-time.After(60 * time.Second):
		t.Fatal("replica did not start")
	}
	return nil
}

// call does one health check through the etcd-resolved, balanced connection
// and returns which instance served it and how many retries it took.
func call(ctx context.Context, hc healthpb.HealthClient) (instance string, retries int, err error) {
	var hdr metadata.MD
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&hdr))
	if v := hdr.Get(server.InstanceHeader); len(v) > 0 {
		instance = v[0]
	}
	if v := hdr.Get("grpc-previous-rpc-attempts"); len(v) > 0 {
		retries, _ = strconv.Atoi(v[0])
	}
	return instance, retries, err
}

func spread(t *testing.T, hc healthpb.HealthClient, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for i := 0; i < n; i++ {
		inst, _, err := call(context.Background(), hc)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		seen[inst]++
	}
	return seen
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestReplicasFailoverWithRealEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	etcd := etcdtest.Start(t, 1).Endpoints()[0] // Debian's etcd-server, as a real deployment runs
	bin := buildBinary(t)
	cli := etcdtest.Client(t, []string{etcd}, nil)

	a := startReplica(t, bin, etcd, "retrieval")
	b := startReplica(t, bin, etcd, "retrieval")
	count := func() int {
		in, err := discovery.List(context.Background(), cli)
		if err != nil {
			return -1
		}
		n := 0
		for _, i := range in {
			if i.Service == "retrieval" {
				n++
			}
		}
		return n
	}
	waitFor(t, "two registered replicas", 10*time.Second, func() bool { return count() == 2 })

	f, err := client.NewFactory(cli, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	conn, err := f.Conn(client.Downstream{Service: "retrieval", Idempotent: []string{"grpc.health.v1.Health"}})
	if err != nil {
		t.Fatal(err)
	}
	hc := healthpb.NewHealthClient(conn)
	waitFor(t, "both replicas in the resolver", 10*time.Second, func() bool { return len(spread(t, hc, 10)) == 2 })
	seen := spread(t, hc, 40)
	if seen[a.addr] < 10 || seen[b.addr] < 10 {
		t.Fatalf("round robin spread over replicas: got %v, want both of %s, %s at least 10 of 40", seen, a.addr, b.addr)
	}

	// SIGKILL one replica: it cannot deregister, yet calls keep succeeding
	// with at most one retry.
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = a.cmd.Process.Wait()
	for i := 0; i < 30; i++ {
		inst, retries, err := call(context.Background(), hc)
		if err != nil {
			t.Fatalf("call %d after kill: %v", i, err)
		}
		if inst != b.addr {
			t.Fatalf("call %d after kill served by %q, want survivor %s", i, inst, b.addr)
		}
		if retries > 1 {
			t.Fatalf("call %d after kill needed %d retries, want at most 1", i, retries)
		}
	}
	// Its lease (2s TTL) expires and it leaves etcd, hence the resolver.
	waitFor(t, "killed replica's lease to expire", 15*time.Second, func() bool { return count() == 1 })

	// A new replica joins and starts receiving calls.
	c := startReplica(t, bin, etcd, "retrieval")
	waitFor(t, "new replica to receive calls", 15*time.Second, func() bool { return spread(t, hc, 10)[c.addr] > 0 })
	seen = spread(t, hc, 40)
	if seen[b.addr] < 10 || seen[c.addr] < 10 {
		t.Fatalf("spread after join: got %v, want %s and %s at least 10 of 40 each", seen, b.addr, c.addr)
	}

	// Graceful shutdown (SIGTERM) deregisters at once, without waiting for the lease.
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "SIGTERM'd replica to deregister", 1500*time.Millisecond, func() bool { return count() == 1 })
	if err := c.cmd.Wait(); err != nil {
		t.Errorf("replica exit after SIGTERM: %v", err)
	}
}
