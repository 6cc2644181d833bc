package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pdfqa/pdfqa/platform/proc"
)

func (s *Supervisor) args(port int, loras []string) []string {
	c := s.cfg
	a := []string{
		"-m", c.Model,
		"--host", c.Host,
		"--port", strconv.Itoa(port),
		"--no-webui",
	}
	if c.CtxSize > 0 {
		a = append(a, "-c", strconv.Itoa(c.CtxSize))
	}
	if c.Threads > 0 {
		a = append(a, "-t", strconv.Itoa(c.Threads), "-tb", strconv.Itoa(c.Threads))
	}
	if c.Parallel > 0 {
		a = append(a, "-np", strconv.Itoa(c.Parallel))
	}
	if c.Embedding {
		a = append(a, "--embedding")
		if c.Pooling != "" {
			a = append(a, "--pooling", c.Pooling)
		}
	}
	for _, l := range loras {
		a = append(a, "--lora", l)
	}
	if len(loras) > 0 {
		a = append(a, "--lora-init-without-apply")
	}
	s.mu.Lock()
	if s.noRepack {
		a = append(a, "--no-repack")
	}
	s.mu.Unlock()
	return append(a, c.ExtraArgs...)
}

// launch starts a process and waits until /health answers 200.
func (s *Supervisor) launch(ctx context.Context, loras []string) (*instance, error) {
	port, err := freePort(s.cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("pick port: %w", err)
	}
	args := s.args(port, loras)
	cmd := exec.Command(s.cfg.Binary, args...)
	cmd.Env = append(os.Environ(), s.cfg.Env...)
	inst := &instance{
		base:      "http://" + net.JoinHostPort(s.cfg.Host, strconv.Itoa(port)),
		startedAt: time.Now(),
	}
	s.log.Info("starting engine", "bin", s.cfg.Binary, "args", strings.Join(args, " "))
	// Own process group, SIGKILLed by the kernel if this process dies;
	// stdout and stderr go to the debug log and the kept tail.
	inst.p, err = proc.Start(context.Background(), cmd, proc.Options{Combined: true, TailBytes: outputTailBytes,
		OnLine: func(pid int, line string) { s.log.Debug("engine output", "pid", pid, "line", line) }})
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", s.cfg.Binary, err)
	}

	deadline := time.NewTimer(s.cfg.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-inst.p.Done():
			s.mu.Lock()
			if proc.Crashed(inst.p.Err()) && !s.noRepack {
				s.noRepack = true
				s.log.Warn("engine crashed during startup: later launches disable CPU weight repacking (--no-repack)", "engine", s.cfg.Name)
			}
			s.mu.Unlock()
			return nil, fmt.Errorf("engine exited during startup (%s): %s", exitString(inst.p.Err()), outputErrors(inst.p.Tail(), 12))
		case <-ctx.Done():
			s.terminate(inst)
			return nil, ctx.Err()
		case <-deadline.C:
			s.terminate(inst)
			return nil, fmt.Errorf("engine not healthy after %s; output: %s", s.cfg.StartTimeout, outputTail(inst.p.Tail(), 12))
		case <-tick.C:
			if s.checkHealth(ctx, inst.base) != nil {
				continue
			}
			if len(loras) > 0 {
				// --lora-init-without-apply only skips applying the adapters to
				// the context at init: this llama-server keeps their global scale
				// at 1.0 and uses it for requests without a "lora" field. Zero the
				// global scales so requests run on the base model unless they
				// select adapters.
				if err := s.zeroLoRAScales(ctx, inst.base, len(loras)); err != nil {
					s.terminate(inst)
					return nil, fmt.Errorf("reset adapter scales: %v; output: %s", err, outputTail(inst.p.Tail(), 12))
				}
			}
			return inst, nil
		}
	}
}

// terminate stops a process: SIGTERM, then SIGKILL after StopGrace.
func (s *Supervisor) terminate(inst *instance) {
	if inst.p.Exited() {
		return
	}
	_ = inst.p.Signal(syscall.SIGTERM)
	select {
	case <-inst.p.Done():
	case <-time.After(s.cfg.StopGrace):
		s.log.Warn("engine ignored SIGTERM; killing", "pid", inst.p.PID())
		inst.p.Kill()
		<-inst.p.Done()
	}
}

// retire drains a replaced process (bounded by DrainTimeout) and stops it.
func (s *Supervisor) retire(inst *instance) {
	s.mu.Lock()
	inst.retiring = true
	s.mu.Unlock()
	drained := make(chan struct{})
	go func() { inst.inflight.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(s.cfg.DrainTimeout):
		s.log.Warn("drain timeout; stopping replaced engine with requests in flight", "pid", inst.p.PID())
	}
	s.terminate(inst)
}

func (s *Supervisor) zeroLoRAScales(ctx context.Context, base string, n int) error {
	scales := make([]LoRA, n)
	for i := range scales {
		scales[i] = LoRA{ID: i, Scale: 0}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return NewClient(StaticEndpoint(base), s.http).SetLoRAScales(ctx, scales)
}

func checkAdapters(paths []string) error {
	for _, p := range paths {
		if strings.Contains(p, ",") {
			return fmt.Errorf("%w: %q: comma in adapter path", ErrBadAdapter, p)
		}
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadAdapter, err)
		}
		var magic [4]byte
		_, err = io.ReadFull(f, magic[:])
		f.Close()
		if err != nil || !bytes.Equal(magic[:], []byte("GGUF")) {
			return fmt.Errorf("%w: %s: not a GGUF file", ErrBadAdapter, p)
		}
	}
	return nil
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func exitString(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// The engine's output kept for errors and logs: outputLines lines at most
// of the last outputTailBytes.
const (
	outputTailBytes = 16 << 10
	outputLines     = 40
)

// outputTail returns the last n lines of the output joined with " | "
// (one line, for errors and logs).
func outputTail(t *proc.Tail, n int) string { return strings.Join(t.Lines(n), " | ") }

// outputErrors returns the llama.cpp error-level lines (" E ") among the
// last outputLines of the output, or the last n lines when there are none.
func outputErrors(t *proc.Tail, n int) string {
	var e []string
	for _, l := range t.Lines(outputLines) {
		if strings.Contains(l, " E ") {
			e = append(e, strings.TrimSpace(l))
		}
	}
	if len(e) == 0 {
		return outputTail(t, n)
	}
	return strings.Join(e, " | ")
}
