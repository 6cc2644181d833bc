// Package etcdtest starts real etcd clusters for tests from Debian's
// etcd-server binary (scripts/setup/system.sh installs it): one member or
// several on loopback, each a process of its own that a test may kill.
// When the binary is missing the test fails under CI and is skipped
// elsewhere.
package etcdtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/testenv"
)

// Member is one etcd process.
type Member struct {
	Name   string
	Client string // host:port
	dir    string
	args   []string
	mu     sync.Mutex
	cmd    *exec.Cmd
	bin    string
}

// Cluster is a running etcd cluster.
type Cluster struct {
	Members []*Member
}

// Endpoints are the members' client addresses.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.Members))
	for i, m := range c.Members {
		out[i] = m.Client
	}
	return out
}

// Start starts an n-member cluster (stopped when the test ends) and waits
// until every member accepts connections.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		testenv.Missing(t, "etcd binary not found: install Debian's etcd-server (scripts/setup/system.sh)")
	}
	c, err := StartCluster(bin, t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// StartCluster starts an n-member cluster with its data under dir.
func StartCluster(bin, dir string, n int) (*Cluster, error) { return startCluster(bin, dir, n, nil) }

func startCluster(bin, dir string, n int, tls *TLS) (*Cluster, error) {
	c := &Cluster{}
	var peers []string
	for i := range n {
		cp, err := testenv.FreePort()
		if err != nil {
			return nil, err
		}
		pp, err := testenv.FreePort()
		if err != nil {
			return nil, err
		}
		m := &Member{Name: fmt.Sprintf("m%d", i), Client: fmt.Sprintf("127.0.0.1:%d", cp), dir: filepath.Join(dir, fmt.Sprintf("m%d", i)), bin: bin}
		purl := fmt.Sprintf("http://127.0.0.1:%d", pp)
		curl := "http://" + m.Client
		if tls != nil {
			curl = "https://" + m.Client
		}
		m.args = []string{"--name", m.Name, "--data-dir", m.dir,
			"--listen-client-urls", curl, "--advertise-client-urls", curl,
			"--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
			"--initial-cluster-token", "pdfqa-test", "--log-level", "error"}
		if tls != nil {
			m.args = append(m.args, tls.args()...)
		}
		peers = append(peers, m.Name+"="+purl)
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		m.args = append(m.args, "--initial-cluster", strings.Join(peers, ","), "--initial-cluster-state", "new")
		if err := m.Start(); err != nil {
			c.Stop()
			return nil, err
		}
	}
	for _, m := range c.Members {
		if err := waitTCP(m.Client, 30*time.Second); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

// Start starts (or restarts, on its data) the member.
func (m *Member) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cmd := exec.Command(m.bin, m.args...)
	cmd.Env = append(os.Environ(), "ETCD_UNSUPPORTED_ARCH=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	m.cmd = cmd
	return nil
}

// Kill SIGKILLs the member.
func (m *Member) Kill() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
		m.cmd = nil
	}
}

// Stop kills every member.
func (c *Cluster) Stop() {
	for _, m := range c.Members {
		m.Kill()
	}
}

func waitTCP(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("etcdtest: %s did not accept connections within %v", addr, d)
}
