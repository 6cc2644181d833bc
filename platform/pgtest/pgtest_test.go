package pgtest

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

func query(t *testing.T, s *Server, dsn, sql string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(s.home, "bin", "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// The shared server hands each test its own database with pgvector.
func TestSharedServerHasPgvector(t *testing.T) {
	a, b := DSN(t), DSN(t)
	if a == b {
		t.Fatalf("two tests got the same database %s", a)
	}
	got, err := query(t, shared.Get(t), a, "CREATE EXTENSION vector; SELECT extversion FROM pg_extension WHERE extname = 'vector'")
	if err != nil || got != "0.8.2" {
		t.Fatalf("pgvector = %q, %v; want 0.8.2", got, err)
	}
	if got, err := query(t, shared.Get(t), a, "SELECT '[1,2]'::vector <-> '[4,6]'::vector"); err != nil || got != "5" {
		t.Fatalf("vector distance = %q, %v", got, err)
	}
}

// A server of the test's own stops and comes back on the same port with its
// data.
func TestStopRestartKeepsData(t *testing.T) {
	s := New(t)
	dsn, err := s.CreateDatabase()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := query(t, s, dsn, "CREATE TABLE k (v int); INSERT INTO k VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := query(t, s, dsn, "SELECT 1"); err == nil {
		t.Fatal("query succeeded on a stopped server")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if got, err := query(t, s, dsn, "SELECT v FROM k"); err != nil || got != "7" {
		t.Fatalf("after restart: %q, %v", got, err)
	}
}

// Without PDFQA_PG_HOME the install is looked for in the pdfqa cache
// (PDFQA_CACHE), and a missing one says how to install it.
func TestMissingInstallSaysHowToInstallIt(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("PDFQA_PG_HOME", "")
	t.Setenv("PDFQA_CACHE", cache)
	want := filepath.Join(cache, "postgres", Version, "pgserver", "pginstall")
	if _, err := Home(); err == nil || !strings.Contains(err.Error(), "no PostgreSQL in "+want+" (run scripts/setup/postgres.sh)") {
		t.Fatalf("Home() = %v; want it to name %s", err, want)
	}
	if _, err := Start(); err == nil || !strings.Contains(err.Error(), "run scripts/setup/postgres.sh") {
		t.Fatalf("Start() = %v", err)
	}
}
