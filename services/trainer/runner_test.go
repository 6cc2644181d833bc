//go:build unix

package trainer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/platform/proc"
	"github.com/pdfqa/pdfqa/platform/s3test"
)

// The test binary plays three parts, picked by roleEnv: "trainer" runs
// LocalRunner.Run on the job in trainerJobEnv until it is killed; "worker"
// stands in for python -m pdfqa_trainer (LocalRunner's Python is this
// binary): it records its pid in <output_dir>/writers and writes a
// checkpoint file every few milliseconds; "escape" is a worker that hands
// the work to a copy of itself in a new session, outside the process group
// and beyond the parent-death signal, like a child the real worker might
// leave behind.
const (
	roleEnv       = "PDFQA_TRAINER_TEST_ROLE"
	trainerJobEnv = "PDFQA_TRAINER_TEST_JOB"
)

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "trainer":
		os.Exit(helperTrainer())
	case "worker", "escape":
		os.Exit(fakeWorker())
	case "replica":
		os.Exit(helperReplica())
	case "ckworker":
		os.Exit(checkpointWorker())
	}
	code := m.Run()
	pgtest.Cleanup()
	s3test.Cleanup()
	os.Exit(code)
}

// testJob is one job's files.
type testJob struct {
	Config, Lock, Out string
}

func newTestJob(t *testing.T) testJob {
	dir := t.TempDir()
	j := testJob{Config: filepath.Join(dir, "train.json"), Lock: filepath.Join(dir, "worker.lock"), Out: filepath.Join(dir, "out")}
	b, _ := json.Marshal(workerConfig{OutputDir: j.Out})
	if err := os.WriteFile(j.Config, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return j
}

func (j testJob) spec() RunSpec {
	return RunSpec{Mode: ModeTrain, ConfigPath: j.Config, LogPath: filepath.Join(filepath.Dir(j.Config), "worker.log"), Lock: j.Lock}
}

func testRunner() *LocalRunner {
	exe, _ := os.Executable()
	return &LocalRunner{Python: exe, WorkerDir: os.TempDir(), Grace: 5 * time.Second, LockWait: 300 * time.Millisecond}
}

// helperTrainer runs the job and prints every event until killed.
func helperTrainer() int {
	var j testJob
	if err := json.Unmarshal([]byte(os.Getenv(trainerJobEnv)), &j); err != nil {
		fmt.Println(err)
		return 1
	}
	if os.Getenv("ESCAPE") == "" {
		os.Setenv(roleEnv, "worker")
	} else {
		os.Setenv(roleEnv, "escape")
	}
	err := testRunner().Run(context.Background(), j.spec(), func(ev Event) {
		b, _ := json.Marshal(ev)
		fmt.Println(string(b))
	})
	fmt.Println("run:", err)
	return 1
}

func fakeWorker() int {
	// Its trainer may be dead: writes to its stdout fail, they do not kill it.
	signal.Ignore(syscall.SIGPIPE)
	wc, ok := fakeWorkerConfig()
	if !ok {
		return 2
	}
	if os.Getenv(roleEnv) == "escape" {
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Env = append(os.Environ(), roleEnv+"=worker")
		cmd.Stdout = os.Stdout
		cmd.ExtraFiles = []*os.File{os.NewFile(3, "lock")} // the lock LocalRunner passed
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		select {}
	}
	ck := filepath.Join(wc.OutputDir, "checkpoints")
	if err := os.MkdirAll(ck, 0o755); err != nil {
		return 1
	}
	f, err := os.OpenFile(filepath.Join(wc.OutputDir, "writers"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 1
	}
	fmt.Fprintln(f, os.Getpid())
	f.Close()
	fmt.Printf(`{"event":"start","step":0,"total_steps":1000,"message":"%d"}`+"\n", os.Getpid())
	for step := 1; ; step++ {
		_ = os.WriteFile(filepath.Join(ck, "latest"), []byte(strconv.Itoa(os.Getpid())), 0o644)
		if step%10 == 0 {
			fmt.Printf(`{"event":"progress","step":%d}`+"\n", step)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// writers lists the pids that started writing the job's checkpoints.
func (j testJob) writers(t *testing.T) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(j.Out, "writers"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		out = append(out, pid)
	}
	return out
}

// liveWriters are the writers still running.
func (j testJob) liveWriters(t *testing.T) []int {
	var out []int
	for _, pid := range j.writers(t) {
		if alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

var alive = proc.Alive

func waitDead(t *testing.T, pid int, what string) {
	t.Helper()
	if !proc.WaitGone(pid, 10*time.Second) {
		t.Fatalf("%s (pid %d) is still alive", what, pid)
	}
}

// startTrainer runs a trainer process on j and waits for its worker's
// start event; it returns the trainer and the pid of the job's writer.
func startTrainer(t *testing.T, j testJob, env ...string) (*exec.Cmd, int) {
	t.Helper()
	jb, _ := json.Marshal(j)
	tr := exec.Command(os.Args[0], "-test.run=^$")
	tr.Env = append(os.Environ(), append(env, roleEnv+"=trainer", trainerJobEnv+"="+string(jb))...)
	out, err := tr.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Process.Kill(); _ = tr.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var ev Event
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Event == "start" {
			pid, _ := strconv.Atoi(ev.Message)
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
			go func() {
				for sc.Scan() {
				}
			}()
			return tr, pid
		}
		t.Logf("trainer: %s", sc.Text())
	}
	t.Fatal("trainer exited before its worker started")
	return nil, 0
}

// resume runs the job in this process, as a restarted trainer does, and
// waits for its worker to start; it returns the worker's pid and a stop
// func that cancels the run and returns Run's error.
func resume(t *testing.T, j testJob) (int, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan int, 1)
	done := make(chan error, 1)
	go func() {
		done <- testRunner().Run(ctx, j.spec(), func(ev Event) {
			if ev.Event == "start" {
				pid, _ := strconv.Atoi(ev.Message)
				started <- pid
			}
		})
	}()
	stop := func() error { cancel(); return <-done }
	select {
	case pid := <-started:
		return pid, stop
	case err := <-done:
		cancel()
		t.Fatalf("resumed run ended before its worker started: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("resumed worker did not start")
	}
	return 0, nil
}

// TestKilledTrainerTakesWorkerWithIt SIGKILLs a trainer process in the
// middle of a job: its worker dies with it (parent-death signal), and the
// resumed job is the checkpoints' one writer; a second run of the same job
// meanwhile starts no worker.
func TestKilledTrainerTakesWorkerWithIt(t *testing.T) {
	t.Setenv(roleEnv, "worker") // for the workers of resume()
	j := newTestJob(t)
	tr, first := startTrainer(t, j)
	if !alive(first) {
		t.Fatal("worker not running")
	}
	if err := tr.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = tr.Wait()
	waitDead(t, first, "worker of the SIGKILLed trainer")

	second, stop := resume(t, j)
	if got := j.liveWriters(t); !slices.Equal(got, []int{second}) {
		t.Fatalf("live writers %v, want only the resumed worker %d (all: %v)", got, second, j.writers(t))
	}
	err := testRunner().Run(context.Background(), j.spec(), func(Event) {})
	if !errors.Is(err, ErrWorker) || !errors.Is(err, proc.ErrLocked) {
		t.Fatalf("second run of a running job: %v, want ErrWorker and proc.ErrLocked", err)
	}
	if got := j.writers(t); len(got) != 2 {
		t.Fatalf("writers %v: the refused run started a worker", got)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	waitDead(t, second, "worker of a cancelled run")
}

// TestResumeWaitsForSurvivingWriter: when something the worker started
// outlives a SIGKILLed trainer (out of reach of the parent-death signal and
// of the group kill) and keeps writing, a resume starts no second writer
// until it is gone.
func TestResumeWaitsForSurvivingWriter(t *testing.T) {
	t.Setenv(roleEnv, "worker")
	j := newTestJob(t)
	tr, survivor := startTrainer(t, j, "ESCAPE=1")
	if err := tr.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = tr.Wait()
	time.Sleep(100 * time.Millisecond)
	if !alive(survivor) {
		t.Fatal("the escaped writer did not survive the trainer")
	}
	if err := testRunner().Run(context.Background(), j.spec(), func(Event) {}); !errors.Is(err, proc.ErrLocked) {
		t.Fatalf("resume while the old writer lives: %v, want proc.ErrLocked", err)
	}
	if got := j.writers(t); !slices.Equal(got, []int{survivor}) {
		t.Fatalf("writers %v, want only %d", got, survivor)
	}
	_ = syscall.Kill(survivor, syscall.SIGKILL)
	waitDead(t, survivor, "surviving writer")
	second, stop := resume(t, j)
	if got := j.liveWriters(t); !slices.Equal(got, []int{second}) {
		t.Fatalf("live writers %v, want only %d", got, second)
	}
	_ = stop()
}

// fakeWorkerConfig reads the --config file a fake worker is started with,
// as the real worker does (false, said on stderr, when it cannot).
func fakeWorkerConfig() (workerConfig, bool) {
	var wc workerConfig
	i := slices.Index(os.Args, "--config")
	if i < 0 || i+1 >= len(os.Args) {
		return wc, false
	}
	b, err := os.ReadFile(os.Args[i+1])
	if err == nil {
		err = json.Unmarshal(b, &wc)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return wc, false
	}
	return wc, true
}
