package trainer

import (
	"bufio"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pdfqa/pdfqa/platform/proc"
)

// Event is one JSON line of the worker's stdout (pdfqa_trainer/events.py).
type Event struct {
	Event           string          `json:"event"`
	Step            int32           `json:"step"`
	TotalSteps      int32           `json:"total_steps"`
	Loss            float64         `json:"loss"`
	TokensPerSecond float64         `json:"tokens_per_second"`
	EtaSeconds      float64         `json:"eta_seconds"`
	Message         string          `json:"message"`
	Kind            string          `json:"kind"`
	Line            int             `json:"line"`
	Device          string          `json:"device"`
	Path            string          `json:"path"`
	AdapterDir      string          `json:"adapter_dir"`
	PeakRSSMB       float64         `json:"peak_rss_mb"`
	Report          json.RawMessage `json:"report"`
}

// Mode is what the worker does: train, eval or prepare-base.
type Mode string

// Worker modes.
const (
	ModeTrain       Mode = "train"
	ModeEval        Mode = "eval"
	ModePrepareBase Mode = "prepare-base"
)

// RunSpec is one worker invocation: everything it needs is in the config
// file, so a Kubernetes Job or a Modal function can run the same command
// against a shared volume.
type RunSpec struct {
	Mode       Mode
	ConfigPath string
	// LogPath receives the worker's stderr (appended).
	LogPath string
	// Lock is a file the worker holds locked (flock) for as long as it, or
	// anything it started with the descriptor, lives — even past a killed
	// trainer. A second worker with the same Lock does not start: Run
	// waits LocalRunner.LockWait for it, then fails with ErrWorker and
	// proc.ErrLocked. One lock per job gives its checkpoints one writer.
	Lock string
}

// ErrWorker is a worker that exited unsuccessfully.
var ErrWorker = errors.New("worker failed")

// Runner runs the worker to completion, calling onEvent for each event line.
// Cancelling ctx stops it: the worker gets SIGTERM, checkpoints at the next
// step and exits; after the grace period the process group is killed.
type Runner interface {
	Run(ctx context.Context, spec RunSpec, onEvent func(Event)) error
}

// LocalRunner runs the worker as a supervised child process on this
// machine (platform/proc: own process group, killed with the trainer).
type LocalRunner struct {
	Python    string
	WorkerDir string
	// Threads sets OMP/torch threads (0 leaves the default).
	Threads int
	// Grace is how long a cancelled worker may take to checkpoint (default 60s).
	Grace time.Duration
	// LockWait is how long Run waits for a worker of the same job to exit
	// (RunSpec.Lock) before failing (default 10s).
	LockWait time.Duration
}

// Run implements Runner.
func (r *LocalRunner) Run(ctx context.Context, spec RunSpec, onEvent func(Event)) error {
	cmd := exec.Command(r.Python, "-u", "-m", "pdfqa_trainer", string(spec.Mode), "--config", spec.ConfigPath)
	cmd.Dir = r.WorkerDir
	cmd.Env = append(os.Environ(), "PYTHONPATH="+r.WorkerDir, "HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1", "PYTHONUNBUFFERED=1")
	if r.Threads > 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("OMP_NUM_THREADS=%d", r.Threads))
	}
	grace := r.Grace
	if grace == 0 {
		grace = 60 * time.Second
	}
	lockWait := r.LockWait
	if lockWait == 0 {
		lockWait = 10 * time.Second
	}
	var logf *os.File
	if spec.LogPath != "" {
		f, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		logf, cmd.Stderr = f, f
	}
	stdout, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer stdout.Close()
	cmd.Stdout = pw
	p, err := proc.Start(ctx, cmd, proc.Options{Grace: grace, Lock: spec.Lock, LockWait: lockWait})
	pw.Close()
	if err != nil {
		if errors.Is(err, proc.ErrLocked) {
			return fmt.Errorf("%w: another worker of this job is still running: %w", ErrWorker, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: start %s: %v", ErrWorker, r.Python, err)
	}
	// Stdout lines that are not events go where stderr goes.
	var logw io.Writer = p.Tail()
	if logf != nil {
		logw = io.MultiWriter(logf, p.Tail())
	}
	var lastErr *Event
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev Event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil || ev.Event == "" {
			_, _ = logw.Write(append(append([]byte(nil), line...), '\n'))
			continue
		}
		if ev.Event == "error" {
			e := ev
			lastErr = &e
		}
		onEvent(ev)
	}
	werr := p.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if werr != nil {
		if lastErr != nil {
			return fmt.Errorf("%w: %s", ErrWorker, lastErr.Message)
		}
		return fmt.Errorf("%w: %v: %s", ErrWorker, werr, strings.Join(p.Tail().Lines(5), "\n"))
	}
	return nil
}

//go:embed worker/pdfqa_trainer/*.py
var workerFS embed.FS

// ExtractWorker writes the embedded worker package under dir/worker-<hash>
// and returns that directory, so the binary runs the worker it was built with.
func ExtractWorker(dir string) (string, error) {
	h := sha256.New()
	var files []string
	_ = fs.WalkDir(workerFS, "worker", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	for _, f := range files {
		b, _ := workerFS.ReadFile(f)
		h.Write([]byte(f))
		h.Write(b)
	}
	root := filepath.Join(dir, "worker-"+hex.EncodeToString(h.Sum(nil))[:12])
	if _, err := os.Stat(filepath.Join(root, ".complete")); err == nil {
		return root, nil
	}
	for _, f := range files {
		b, _ := workerFS.ReadFile(f)
		dst := filepath.Join(root, strings.TrimPrefix(f, "worker/"))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return "", err
		}
	}
	return root, os.WriteFile(filepath.Join(root, ".complete"), nil, 0o644)
}
