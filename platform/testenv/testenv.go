// Package testenv is what tests and benchmarks need from outside the
// repository, found one way everywhere: the read-only shared data set
// beside the checkout, the repository's sample PDFs, the files under a
// folder, a free loopback port, a server's health endpoint; a gRPC
// server in memory (bufconn) with a client connection to it; and the one
// shape of a real server binary a package's tests share (SharedServer,
// under platform/pgtest and platform/s3test).
//
// A test whose data or tool is absent calls Missing: under CI (CI set, as
// .ci/run runs) the test fails, since make test installs everything first;
// elsewhere it is skipped with the reason. Nothing is skipped silently.
//
// The shared folder is $PDFQA_SHARED, else "shared" beside the repository
// root (the folder holding go.work), i.e. ../shared from the root, wherever
// the test runs from; its data lies under data/.
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CI reports whether the tests run under CI (CI set to anything but
// "false"), where a missing prerequisite is a failure.
func CI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// Missing fails t under CI and skips it elsewhere, with the reason.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("required in CI: %s", msg)
	}
	t.Skipf("skipped: %s", msg)
}

// RepoRoot is the repository root: the nearest folder at or above the
// working directory that holds go.work.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.work at or above %s", wd)
		}
	}
}

// SharedDir is the shared folder ($PDFQA_SHARED, else <root>/../shared);
// it must hold data/.
func SharedDir() (string, error) {
	d := os.Getenv("PDFQA_SHARED")
	if d == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", fmt.Errorf("shared folder: %w (set PDFQA_SHARED)", err)
		}
		d = filepath.Join(filepath.Dir(root), "shared")
	}
	if st, err := os.Stat(filepath.Join(d, "data")); err != nil || !st.IsDir() {
		return "", fmt.Errorf("no shared data at %s (set PDFQA_SHARED to the folder holding data/)", filepath.Join(d, "data"))
	}
	return filepath.Abs(d)
}

// DataPath is the path of elem under the shared data/ folder (filepath.Join
// of elem), for commands (benchmarks) that default to the shared data.
func DataPath(elem ...string) (string, error) {
	d, err := SharedDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(append([]string{d, "data"}, elem...)...), nil
}

// Data is DataPath for a test, which calls Missing when the shared folder
// or the path is absent.
func Data(t testing.TB, elem ...string) string {
	t.Helper()
	p, err := DataPath(elem...)
	if err != nil {
		Missing(t, "%v", err)
	}
	if _, err := os.Stat(p); err != nil {
		Missing(t, "shared data: %v", err)
	}
	return p
}

// ReadData reads the file elem under the shared data/ folder.
func ReadData(t testing.TB, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(Data(t, elem...))
	if err != nil {
		Missing(t, "shared data: %v", err)
	}
	return b
}

// GlobData lists the files matching the pattern elem (its last element may
// hold wildcards) under the shared data/ folder, sorted; none is Missing.
func GlobData(t testing.TB, elem ...string) []string {
	t.Helper()
	if len(elem) == 0 {
		t.Fatal("testenv.GlobData: no pattern")
	}
	dir := Data(t, elem[:len(elem)-1]...)
	files, err := filepath.Glob(filepath.Join(dir, elem[len(elem)-1]))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		Missing(t, "shared data: nothing matches %s", filepath.Join(dir, elem[len(elem)-1]))
	}
	return files
}

// Sample reads the repository's sample PDF samples/name (committed, so
// a missing one fails the test).
func Sample(t testing.TB, name string) []byte {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Files lists every regular file under dir, at any depth, in lexical
// order; a dir that does not exist holds none, and what vanishes while it
// is walked (a temporary file renamed) is not listed. What cannot be read
// fails the test.
func Files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitHTTP polls url every 200ms until it answers 200 OK or d has passed.
func WaitHTTP(url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if r, err := http.Get(url); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s not healthy after %v", url, d)
}

// Versions is what scripts/setup/versions.env pins (its KEY=VALUE lines;
// # lines are comments): the versions, file names and sha256 sums the setup
// scripts fetch and check, for tests that look for what they install.
func Versions(t testing.TB) map[string]string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "scripts", "setup", "versions.env"))
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, val, ok := strings.Cut(strings.TrimSpace(l), "="); ok && !strings.HasPrefix(k, "#") {
			v[k] = val
		}
	}
	return v
}

// Call sends body as JSON (none when body is nil) to url with method on
// client (http.DefaultClient when nil), with key as its bearer token when
// set, and returns the answer's status code and body.
func Call(ctx context.Context, client *http.Client, method, url, key string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
