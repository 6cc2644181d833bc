package benchutil

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// The test binary re-executed with BENCHUTIL_MAIN set runs Main, as a
// benchmark command's main does.
func TestMain(m *testing.M) {
	switch os.Getenv("BENCHUTIL_MAIN") {
	case "fail":
		Main("somebench", func() error { return errors.New("no engine") })
		os.Exit(0)
	case "ok":
		Main("somebench", func() error { return nil })
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestMainExitsOneWithTheError(t *testing.T) {
	for _, c := range []struct {
		mode, stderr string
		code         int
	}{{"fail", "somebench: no engine\n", 1}, {"ok", "", 0}} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "BENCHUTIL_MAIN="+c.mode)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code || stderr.String() != c.stderr {
			t.Errorf("%s: exit %d, stderr %q; want %d, %q", c.mode, code, stderr.String(), c.code, c.stderr)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	if err := WriteJSON(path, map[string]any{"bench": "memory", "cpus": 2}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"bench\": \"memory\",\n  \"cpus\": 2\n}\n"; string(b) != want {
		t.Errorf("file %q, want %q", b, want)
	}

	// An empty path is stdout.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	err = WriteJSON("", []int{1})
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	if err != nil || string(out) != "[\n  1\n]\n" {
		t.Errorf("stdout %q, %v", out, err)
	}

	// A value JSON cannot hold is an error, and no file is written.
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := WriteJSON(bad, map[string]any{"c": make(chan int)}); err == nil {
		t.Error("a channel was written as JSON")
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("a report was written after the error: %v", err)
	}
}

func TestRSS(t *testing.T) {
	kb, err := RSSKiB(os.Getpid())
	if err != nil || kb < 1024 {
		t.Fatalf("this process: %d KiB, %v", kb, err)
	}
	if mib := RSSMiB(os.Getpid()); mib < 1 || mib > float64(kb)/1024*4 {
		t.Errorf("RSSMiB %.1f against %d KiB", mib, kb)
	}
	// A process that has exited and been reaped has no status.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := RSSKiB(cmd.Process.Pid); err == nil {
		t.Error("RSSKiB of a reaped process")
	}
	if mib := RSSMiB(cmd.Process.Pid); mib != 0 {
		t.Errorf("RSSMiB of a reaped process: %v", mib)
	}
}

func TestPeakRSS(t *testing.T) {
	before, err := PeakRSSKiB(os.Getpid())
	if err != nil || before < 1024 {
		t.Fatalf("this process: %d KiB, %v", before, err)
	}
	// Touch 64 MiB: the peak rises by about that much and stays there
	// once it is freed.
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = 1
	}
	after, err := PeakRSSKiB(os.Getpid())
	if err != nil || after < before+60<<10 {
		t.Errorf("peak %d KiB after 64 MiB touched on a peak of %d KiB (%v)", after, before, err)
	}
	runtime.KeepAlive(b)
	// The peak read after the resident size is never below it.
	now, _ := RSSKiB(os.Getpid())
	if peak, _ := PeakRSSKiB(os.Getpid()); now > peak {
		t.Errorf("resident %d KiB above the peak %d KiB", now, peak)
	}
	if mib := PeakRSSMiB(os.Getpid()); mib < float64(after)/1024 {
		t.Errorf("PeakRSSMiB %.1f below %d KiB", mib, after)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if mib := PeakRSSMiB(cmd.Process.Pid); mib != 0 {
		t.Errorf("PeakRSSMiB of a reaped process: %v", mib)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var ds []time.Duration
		for _, x := range v {
			ds = append(ds, time.Duration(x)*time.Millisecond)
		}
		return ds
	}
	ds := ms(9, 1, 8, 2, 7, 3, 6, 4, 5, 10) // 1..10 shuffled
	for _, c := range []struct {
		p    float64
		want int
	}{{0.5, 5}, {0.95, 10}, {0.99, 10}, {1, 10}, {0.1, 1}, {0.11, 2}, {0, 1}} {
		if got := Percentile(ds, c.p); got != time.Duration(c.want)*time.Millisecond {
			t.Errorf("p%v of 1..10 ms = %v, want %d ms", c.p, got, c.want)
		}
	}
	if ds[0] != 9*time.Millisecond {
		t.Error("Percentile sorted its argument")
	}
	// 200 samples: p99 is the 198th, not the largest.
	var many []time.Duration
	for i := 200; i >= 1; i-- {
		many = append(many, time.Duration(i))
	}
	if got := Percentile(many, 0.99); got != 198 {
		t.Errorf("p99 of 1..200 = %d, want 198", got)
	}
	if got := Percentile(nil, 0.5); got != 0 {
		t.Errorf("p50 of nothing = %v", got)
	}
}

func TestRunFacts(t *testing.T) {
	if c := Commit(); !regexp.MustCompile(`^[0-9a-f]{7,}$`).MatchString(c) {
		t.Errorf("Commit() = %q in the repository's checkout", c)
	}
	if l := LoadAvg(); !regexp.MustCompile(`^\d+\.\d\d \d+\.\d\d \d+\.\d\d$`).MatchString(l) {
		t.Errorf("LoadAvg() = %q", l)
	}
	if l := Load1(); l <= 0 && LoadAvg()[:4] != "0.00" {
		t.Errorf("Load1() = %v from %q", l, LoadAvg())
	}
	if c := Command("somebench"); !strings.HasPrefix(c, "go run ./bench/cmd/somebench -test.") {
		t.Errorf("Command() = %q (this test binary's arguments follow the name)", c)
	}
}

func TestChatDeltas(t *testing.T) {
	stream := strings.Join([]string{
		`: keep-alive`,
		`data: {"choices":[{"delta":{"role":"assistant"}}]}`,
		``,
		`data: {"choices":[{"delta":{"content":"Rev"}}]}`,
		`event: ignored`,
		`data: {"choices":[{"delta":{"content":"enue"}}]}`,
		`data: {"choices":[]}`,
		`data: {"choices":[{"delta":{"content":""}}],"usage":{"completion_tokens":2}}`,
		`data: [DONE]`,
	}, "\n")
	var got []string
	if err := ChatDeltas(strings.NewReader(stream), func(s string) { got = append(got, s) }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != "Rev|enue" {
		t.Errorf("deltas %q", got)
	}

	err := ChatDeltas(strings.NewReader("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\ndata: {oops\n"), func(string) {})
	if err == nil || !strings.Contains(err.Error(), "{oops") {
		t.Errorf("a malformed chunk: %v", err)
	}
	boom := errors.New("connection reset")
	if err := ChatDeltas(iotest.ErrReader(boom), func(string) {}); !errors.Is(err, boom) {
		t.Errorf("a read error: %v", err)
	}
}

func TestWorkDir(t *testing.T) {
	keep := filepath.Join(t.TempDir(), "kept", "run")
	d, done, err := WorkDir(keep, "x")
	if err != nil || d != keep {
		t.Fatalf("WorkDir(%q) = %q, %v", keep, d, err)
	}
	done()
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("a given directory is kept (and made): %v", err)
	}
	d, done, err = WorkDir("", "benchx")
	if err != nil || !strings.HasPrefix(filepath.Base(d), "benchx-") {
		t.Fatalf("WorkDir(\"\") = %q, %v", d, err)
	}
	done()
	if _, err := os.Stat(d); !os.IsNotExist(err) {
		t.Fatalf("the temporary directory is left: %v", err)
	}
}
