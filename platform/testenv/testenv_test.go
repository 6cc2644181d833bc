package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeShared makes a shared folder holding data/calls/{a,b}.pdf.
func fakeShared(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "data", "calls"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a.pdf", "b.pdf"} {
		if err := os.WriteFile(filepath.Join(dir, "data", "calls", n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDataFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	fakeShared(t, dir)
	t.Setenv("PDFQA_SHARED", dir)
	if got, want := Data(t, "calls", "a.pdf"), filepath.Join(dir, "data", "calls", "a.pdf"); got != want {
		t.Fatalf("Data = %s, want %s", got, want)
	}
	if b := ReadData(t, "calls", "b.pdf"); string(b) != "b.pdf" {
		t.Fatalf("ReadData = %q", b)
	}
	files := GlobData(t, "calls", "*.pdf")
	if len(files) != 2 || filepath.Base(files[0]) != "a.pdf" || filepath.Base(files[1]) != "b.pdf" {
		t.Fatalf("GlobData = %v", files)
	}
}

// From any folder below the root (the one holding go.work), the shared
// folder is the root's sibling.
func TestSharedBesideTheRepository(t *testing.T) {
	top := t.TempDir()
	root := filepath.Join(top, "checkout")
	deep := filepath.Join(root, "services", "x", "y")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.work"), []byte("go 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fakeShared(t, filepath.Join(top, "shared"))
	t.Setenv("PDFQA_SHARED", "")
	t.Chdir(deep)
	r, err := RepoRoot()
	if err != nil || r != root {
		t.Fatalf("RepoRoot = %q, %v; want %s", r, err, root)
	}
	d, err := SharedDir()
	if err != nil || d != filepath.Join(top, "shared") {
		t.Fatalf("SharedDir = %q, %v", d, err)
	}
	if err := os.RemoveAll(filepath.Join(top, "shared")); err != nil {
		t.Fatal(err)
	}
	if _, err := SharedDir(); err == nil || !strings.Contains(err.Error(), "PDFQA_SHARED") {
		t.Fatalf("without the folder: %v, want an error naming PDFQA_SHARED", err)
	}
}

// TestMissingHelper is run by TestMissingFailsInCIAndSkipsElsewhere in a
// child process; on its own it does nothing.
func TestMissingHelper(t *testing.T) {
	if os.Getenv("TESTENV_HELPER") != "1" {
		return
	}
	ReadData(t, "calls", "absent.pdf")
	t.Log("reached past ReadData")
}

func TestMissingFailsInCIAndSkipsElsewhere(t *testing.T) {
	dir := t.TempDir()
	fakeShared(t, dir)
	for _, tc := range []struct {
		ci     string
		fails  bool
		output string
	}{
		{"true", true, "required in CI: shared data:"},
		{"", false, "--- SKIP: TestMissingHelper"},
		{"false", false, "--- SKIP: TestMissingHelper"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingHelper$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_HELPER=1", "PDFQA_SHARED="+dir, "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != tc.fails {
			t.Errorf("CI=%q: failed=%v, want %v\n%s", tc.ci, failed, tc.fails, out)
		}
		if !strings.Contains(string(out), tc.output) || strings.Contains(string(out), "reached past ReadData") {
			t.Errorf("CI=%q: output lacks %q or went on\n%s", tc.ci, tc.output, out)
		}
	}
}

func TestFreePortAndWaitHTTP(t *testing.T) {
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatalf("FreePort %d is not free: %v", p, err)
	}
	l.Close()

	ready := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-ready:
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if err := WaitHTTP(srv.URL, 300*time.Millisecond); err == nil {
		t.Fatal("WaitHTTP accepted 503")
	}
	time.AfterFunc(300*time.Millisecond, func() { close(ready) })
	if err := WaitHTTP(srv.URL, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b/2.pdf", "a.tmp", "b/c/3.json", "b/1.pdf"} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.tmp", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range Files(t, dir) {
		rel, _ := filepath.Rel(dir, f)
		got = append(got, filepath.ToSlash(rel))
	}
	if strings.Join(got, " ") != "a.tmp b/1.pdf b/2.pdf b/c/3.json" {
		t.Errorf("files %q (regular files only, in lexical order)", got)
	}
	if fs := Files(t, filepath.Join(dir, "missing")); len(fs) != 0 {
		t.Errorf("a missing folder holds %q", fs)
	}
	if fs := Files(t, filepath.Join(dir, "b", "1.pdf")); len(fs) != 1 {
		t.Errorf("a file is its own list: %q", fs)
	}
}

// fatalT records a Fatal and stops the helper there (by a panic its
// caller recovers), as testing.T stops the test.
type fatalT struct {
	testing.TB
	msg string
}

func (f *fatalT) Helper() {}

func (f *fatalT) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	panic(f)
}

func TestSample(t *testing.T) {
	if b := Sample(t, "northwind-annual-report-2025.pdf"); !strings.HasPrefix(string(b), "%PDF-") {
		t.Errorf("sample starts %q", b[:min(len(b), 8)])
	}
	ft := &fatalT{}
	func() {
		defer func() { _ = recover() }()
		Sample(ft, "no-such-sample.pdf")
		t.Error("Sample returned for a missing sample")
	}()
	if !strings.Contains(ft.msg, "no-such-sample.pdf") {
		t.Errorf("a missing sample: %q", ft.msg)
	}
}

// Versions reads the pins of scripts/setup/versions.env, comments left out.
func TestVersions(t *testing.T) {
	v := Versions(t)
	if v["SEAWEEDFS_VERSION"] == "" || v["LLM_GGUF_NAME"] == "" || len(v) < 10 {
		t.Errorf("versions.env read as %v", v)
	}
	for k, val := range v {
		if strings.HasPrefix(k, "#") || strings.ContainsAny(k, " \t") {
			t.Errorf("key %q is not a pin", k)
		}
		if strings.HasSuffix(k, "_SHA256") && len(val) != 64 {
			t.Errorf("%s=%q is not a sha256", k, val)
		}
	}
}

// Call sends the body as JSON with the key as bearer token and returns
// the status and body; without a body it sends none, without a key no
// Authorization.
func TestCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprintf(w, "%s %s|%s|%s|%s", r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), b)
	}))
	defer srv.Close()
	code, b, err := Call(context.Background(), nil, http.MethodPost, srv.URL+"/x", "k1", map[string]int{"n": 1})
	if err != nil || code != http.StatusTeapot || string(b) != `POST /x|application/json|Bearer k1|{"n":1}` {
		t.Errorf("with a body and a key: %d %q %v", code, b, err)
	}
	code, b, err = Call(context.Background(), srv.Client(), http.MethodGet, srv.URL+"/y", "", nil)
	if err != nil || code != http.StatusTeapot || string(b) != "GET /y|||" {
		t.Errorf("without: %d %q %v", code, b, err)
	}
	if _, _, err := Call(context.Background(), nil, http.MethodGet, "http://127.0.0.1:1/", "", nil); err == nil {
		t.Error("a refused connection: no error")
	}
}
