package benchutil

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
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
