//go:build unix

package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// helperEnv turns the test binary into a parent that starts `sleep` under
// Start, prints the child's pid and waits to be killed.
const helperEnv = "PROC_TEST_PARENT"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		cmd := exec.Command("sleep", "300")
		p, err := Start(context.Background(), cmd, Options{})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(p.PID())
		_ = p.Wait()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var alive = Alive

func waitDead(t *testing.T, pid int, what string) {
	t.Helper()
	if !WaitGone(pid, 10*time.Second) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("%s (pid %d) still alive", what, pid)
	}
}

// startShell runs script under Start and returns the pid the script
// prints first (a background child's).
func startShell(t *testing.T, ctx context.Context, script string, o Options) (*Process, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("sh", "-c", script)
	cmd.Stdout = w
	p, err := Start(ctx, cmd, o)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("read pid: %v (stderr %q)", err, p.Tail().String())
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	return p, pid
}

func TestCancelKillsGroup(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, grandchild := startShell(t, ctx, "sleep 300 & echo $!; wait", Options{Grace: 5 * time.Second})
	if !alive(grandchild) {
		t.Fatal("grandchild not running")
	}
	cancel()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("child did not stop on SIGTERM")
	}
	waitDead(t, grandchild, "grandchild")
}

func TestCancelEscalatesToSIGKILL(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, grandchild := startShell(t, ctx, "trap '' TERM; sleep 300 & echo $!; wait", Options{Grace: 200 * time.Millisecond})
	start := time.Now()
	cancel()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("child ignoring SIGTERM was not killed")
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("killed after %s, before the grace period", d)
	}
	var ee *exec.ExitError
	if err := p.Err(); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("exit %v, want SIGKILL", err)
	}
	waitDead(t, grandchild, "grandchild")
}

func TestExitKillsLeftovers(t *testing.T) {
	p, grandchild := startShell(t, context.Background(), "sleep 300 & echo $!", Options{})
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	waitDead(t, grandchild, "grandchild")
}

func TestParentDeathKillsChild(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Pdeathsig is Linux-only")
	}
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), helperEnv+"=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("helper: %q", line)
	}
	defer syscall.Kill(child, syscall.SIGKILL)
	if !alive(child) {
		t.Fatal("child not running")
	}
	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	waitDead(t, child, "child of a SIGKILLed parent")
}

func TestStderrTailAndLines(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	var logged strings.Builder
	cmd := exec.Command("sh", "-c", "echo out; echo err >&2; exit 3")
	cmd.Stderr = &logged
	p, err := Start(context.Background(), cmd, Options{Combined: true, OnLine: func(pid int, l string) {
		mu.Lock()
		lines = append(lines, l)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if err := p.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit %v", err)
	}
	if got := strings.Join(lines, ","); got != "out,err" {
		t.Fatalf("lines %q", got)
	}
	if got := p.Tail().String(); got != "out\nerr\n" || logged.String() != got {
		t.Fatalf("tail %q, stderr %q", got, logged.String())
	}
	if Crashed(p.Err()) {
		t.Fatal("exit 3 is no crash")
	}
}

func TestCrashed(t *testing.T) {
	p, err := Start(context.Background(), exec.Command("sh", "-c", "kill -SEGV $$"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); !Crashed(err) {
		t.Fatalf("Crashed(%v) = false", err)
	}
	p, err = Start(context.Background(), exec.Command("sleep", "300"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(time.Second); Crashed(err) {
		t.Fatalf("a stopped process counts as crashed: %v", err)
	}
}

func TestTail(t *testing.T) {
	tl := NewTail(10)
	fmt.Fprint(tl, "first line\nsecond\nthird\n")
	if got := tl.String(); got != "ond\nthird\n" {
		t.Fatalf("String %q", got)
	}
	if got := tl.Lines(1); len(got) != 1 || got[0] != "third" {
		t.Fatalf("Lines(1) %q", got)
	}
	if got := tl.Lines(0); len(got) != 2 {
		t.Fatalf("Lines(0) %q", got)
	}
	if NewTail(0).Lines(3) != nil {
		t.Fatal("empty tail has lines")
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 5 * time.Second, StableAfter: time.Minute}
	var got []time.Duration
	for range 5 {
		got = append(got, b.Next(0))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delays %v, want %v", got, want)
	}
	if d := b.Next(2 * time.Minute); d != time.Second {
		t.Fatalf("after a stable run: %v", d)
	}
	if d := b.Next(time.Second); d != 2*time.Second {
		t.Fatalf("after a short run: %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep ignored a done context")
	}
}

func TestLockOneHolder(t *testing.T) {
	lock := filepath.Join(t.TempDir(), "writer.lock")
	first, err := Start(context.Background(), exec.Command("sleep", "300"), Options{Lock: lock})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Kill()
	_, err = Start(context.Background(), exec.Command("sleep", "300"), Options{Lock: lock, LockWait: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), strconv.Itoa(first.PID())) {
		t.Fatalf("second Start while locked: %v", err)
	}
	// The lock is released once the holder exits: a waiting Start gets it.
	go func() { time.Sleep(200 * time.Millisecond); first.Kill() }()
	second, err := Start(context.Background(), exec.Command("true"), Options{Lock: lock, LockWait: 5 * time.Second})
	if err != nil {
		t.Fatalf("Start after the holder died: %v", err)
	}
	if err := second.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestLockHeldByDescendant: the lock stays held while a process the child
// started keeps the inherited descriptor, after the child itself is gone.
func TestLockHeldByDescendant(t *testing.T) {
	lock := filepath.Join(t.TempDir(), "writer.lock")
	// setsid puts the sleep outside the child's group, beyond the
	// group kill: the case of a survivor. (It prints its pid once it is
	// in its own session; the shell waits a moment so that the group
	// kill comes after that.)
	p, survivor := startShell(t, context.Background(), "setsid sh -c 'echo $$; exec sleep 300' & sleep 1", Options{Lock: lock})
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if !alive(survivor) {
		t.Fatal("the process outside the group did not survive")
	}
	if _, err := Start(context.Background(), exec.Command("true"), Options{Lock: lock, LockWait: 100 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Start while a survivor holds the lock: %v", err)
	}
	_ = syscall.Kill(survivor, syscall.SIGKILL)
	waitDead(t, survivor, "survivor")
	q, err := Start(context.Background(), exec.Command("true"), Options{Lock: lock, LockWait: 5 * time.Second})
	if err != nil {
		t.Fatalf("Start after the survivor died: %v", err)
	}
	_ = q.Wait()
}

func TestWaitGone(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	start := time.Now()
	if WaitGone(pid, 100*time.Millisecond) {
		t.Fatal("a running process is gone")
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("gave up after %v, before its 100 ms", d)
	}
	// Killed and not reaped (a zombie, as an orphan is where init does
	// not reap): gone.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if !WaitGone(pid, 10*time.Second) {
		t.Fatal("a killed process is not gone")
	}
	_ = cmd.Wait()
	if !WaitGone(pid, 0) {
		t.Error("a reaped process is not gone")
	}
}
