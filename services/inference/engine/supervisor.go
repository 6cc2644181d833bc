package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/pdfqa/pdfqa/platform/proc"
)

// State is the supervisor's view of its engine process.
type State int32

const (
	// StateStarting: a process is being launched and has not passed /health yet.
	StateStarting State = iota
	// StateReady: the engine answers /health; requests are served.
	StateReady
	// StateDown: the engine died or failed to start; a restart is pending (backoff).
	StateDown
	// StateStopped: Stop was called (or Start never was).
	StateStopped
)

func (s State) String() string {
	switch s {
	case StateStarting:
		return "starting"
	case StateReady:
		return "ready"
	case StateDown:
		return "down"
	case StateStopped:
		return "stopped"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Supervisor starts one llama-server process, waits for it to become healthy,
// health-checks it, restarts it with exponential backoff when it dies, and
// hands out its address to clients only while it is Ready.
type Supervisor struct {
	cfg  Config
	log  *slog.Logger
	http *http.Client

	swapMu sync.Mutex // serialises launches that install a new current process

	mu       sync.Mutex
	state    State
	cur      *instance
	loras    []string
	lastErr  error
	restarts int
	// noRepack is set once the engine crashed on a signal during startup:
	// later launches pass --no-repack. llama.cpp's CPU weight repacking
	// picks kernels from the CPU's features (AMX, AVX-512 VNNI); on
	// virtualised CPUs that advertise AMX without granting its tile state
	// the AMX kernels fault at the first matmul (seen on the project's
	// machines with Q4_1 models).
	noRepack bool
	changed  chan struct{} // closed and replaced on every state change
	started  bool
	cancel   context.CancelFunc
	loopDone chan struct{}
}

// NewSupervisor validates cfg and returns a stopped supervisor.
func NewSupervisor(cfg Config) (*Supervisor, error) {
	cfg.setDefaults()
	if cfg.Binary == "" || cfg.Model == "" {
		return nil, fmt.Errorf("%w: engine %s: Binary and Model are required", ErrBadRequest, cfg.Name)
	}
	for _, p := range []string{cfg.Binary, cfg.Model} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w: engine %s: %v", ErrBadRequest, cfg.Name, err)
		}
	}
	if cfg.Embedding && len(cfg.LoRAs) > 0 {
		return nil, fmt.Errorf("%w: engine %s: LoRA adapters on an embedding engine", ErrBadRequest, cfg.Name)
	}
	if err := checkAdapters(cfg.LoRAs); err != nil {
		return nil, err
	}
	return &Supervisor{
		cfg:     cfg,
		log:     cfg.Logger.With("engine", cfg.Name),
		http:    &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		state:   StateStopped,
		loras:   append([]string(nil), cfg.LoRAs...),
		changed: make(chan struct{}),
	}, nil
}

// Start launches the supervision loop and returns immediately; use WaitReady
// to block until the engine serves. The engine lives until Stop (ctx only
// bounds nothing after Start returns).
func (s *Supervisor) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("engine: supervisor already started")
	}
	s.started = true
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.loopDone = make(chan struct{})
	s.setStateLocked(StateStarting, nil)
	go s.loop(ctx)
	return nil
}

// Stop stops supervision and terminates the engine (SIGTERM, then SIGKILL
// after StopGrace). It is safe to call more than once.
func (s *Supervisor) Stop(ctx context.Context) error {
	s.mu.Lock()
	cancel, done := s.cancel, s.loopDone
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// State returns the current state.
func (s *Supervisor) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// LastError returns the error behind the latest Down state, if any.
func (s *Supervisor) LastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Restarts counts unplanned restarts (crashes, failed health checks).
func (s *Supervisor) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// PID of the running engine process, or 0.
func (s *Supervisor) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return 0
	}
	return s.cur.p.PID()
}

// BaseURL of the running engine ("http://127.0.0.1:PORT"), or "".
func (s *Supervisor) BaseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return ""
	}
	return s.cur.base
}

// LoRAs returns the adapter files of the engine, in id order.
func (s *Supervisor) LoRAs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.loras...)
}

// WaitReady blocks until the engine is Ready, the supervisor is stopped, or ctx ends.
func (s *Supervisor) WaitReady(ctx context.Context) error {
	for {
		s.mu.Lock()
		st, ch, last := s.state, s.changed, s.lastErr
		s.mu.Unlock()
		switch st {
		case StateReady:
			return nil
		case StateStopped:
			return fmt.Errorf("%w: engine %s stopped", ErrUnavailable, s.cfg.Name)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w: engine %s not ready (%s): %v (last error: %v)", ErrUnavailable, s.cfg.Name, st, ctx.Err(), last)
			}
			return fmt.Errorf("%w: engine %s not ready (%s): %v", ErrUnavailable, s.cfg.Name, st, ctx.Err())
		}
	}
}

// Acquire implements Endpoint: it returns the engine's base URL while Ready
// (ErrUnavailable otherwise) and a release func that must be called when the
// request is done, so a replaced process is drained before it is stopped.
func (s *Supervisor) Acquire() (string, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != StateReady || s.cur == nil {
		if s.lastErr != nil {
			return "", nil, fmt.Errorf("%w: engine %s is %s: %v", ErrUnavailable, s.cfg.Name, s.state, s.lastErr)
		}
		return "", nil, fmt.Errorf("%w: engine %s is %s", ErrUnavailable, s.cfg.Name, s.state)
	}
	inst := s.cur
	inst.inflight.Add(1)
	var once sync.Once
	return inst.base, func() { once.Do(inst.inflight.Done) }, nil
}

// SetLoRAs replaces the engine's adapter set. llama-server loads adapters only
// at startup, so this launches a second process with the new set next to the
// running one (blue/green): only when it is healthy does it take over, and the
// old process is drained and stopped. If the new set is bad (missing or
// malformed file, wrong base model) the error wraps ErrBadAdapter and the old
// process keeps serving untouched. Adapter ids for requests are positions in paths.
func (s *Supervisor) SetLoRAs(ctx context.Context, paths []string) error {
	if s.cfg.Embedding {
		return fmt.Errorf("%w: engine %s is an embedding engine", ErrNotSupported, s.cfg.Name)
	}
	if err := checkAdapters(paths); err != nil {
		return err
	}
	s.mu.Lock()
	loopCtxOK := s.started && s.state != StateStopped
	s.mu.Unlock()
	if !loopCtxOK {
		s.mu.Lock()
		s.loras = append([]string(nil), paths...)
		s.mu.Unlock()
		return nil
	}
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	inst, err := s.launch(ctx, paths)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("engine %s: set adapters: %w", s.cfg.Name, ctx.Err())
		}
		s.log.Warn("adapter set rejected; previous engine keeps serving", "loras", paths, "err", err)
		return fmt.Errorf("%w: %v", ErrBadAdapter, err)
	}
	s.mu.Lock()
	if s.state == StateStopped {
		s.mu.Unlock()
		s.terminate(inst)
		return fmt.Errorf("%w: engine %s stopped", ErrUnavailable, s.cfg.Name)
	}
	old := s.cur
	s.cur = inst
	s.loras = append([]string(nil), paths...)
	s.setStateLocked(StateReady, nil)
	s.mu.Unlock()
	s.log.Info("engine replaced with new adapter set", "loras", paths, "pid", inst.p.PID(), "url", inst.base)
	if old != nil {
		go s.retire(old)
	}
	return nil
}

// ---- internals -------------------------------------------------------------

type instance struct {
	p         *proc.Process // output (stdout and stderr) in p.Tail()
	base      string
	inflight  sync.WaitGroup
	startedAt time.Time
	retiring  bool // guarded by Supervisor.mu
}

func (s *Supervisor) setStateLocked(st State, err error) {
	if st != s.state {
		s.log.Info("engine state", "from", s.state.String(), "to", st.String())
	}
	s.state = st
	if err != nil {
		s.lastErr = err
	} else if st == StateReady {
		s.lastErr = nil
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Supervisor) loop(ctx context.Context) {
	defer close(s.loopDone)
	defer func() {
		s.mu.Lock()
		inst := s.cur
		s.cur = nil
		s.setStateLocked(StateStopped, nil)
		s.mu.Unlock()
		if inst != nil {
			s.terminate(inst)
		}
	}()
	backoff := proc.Backoff{Min: s.cfg.BackoffMin, Max: s.cfg.BackoffMax, StableAfter: s.cfg.StableAfter}
	for {
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		inst := s.cur
		s.mu.Unlock()
		if inst == nil {
			var err error
			inst, err = s.startCurrent(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				d := backoff.Next(0)
				s.log.Error("engine failed to start", "err", err, "retry_in", d)
				if !proc.Sleep(ctx, d) {
					return
				}
				continue
			}
			if inst == nil { // someone else installed one meanwhile
				continue
			}
		}
		reason := s.monitor(ctx, inst)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		if s.cur != inst { // replaced by SetLoRAs: supervise the new one
			s.mu.Unlock()
			continue
		}
		s.cur = nil
		s.restarts++
		s.setStateLocked(StateDown, reason)
		s.mu.Unlock()
		d := backoff.Next(time.Since(inst.startedAt))
		s.log.Error("engine down; restarting", "err", reason, "retry_in", d, "output_tail", outputTail(inst.p.Tail(), outputLines))
		if !proc.Sleep(ctx, d) {
			return
		}
	}
}

// startCurrent launches a process with the current adapter set and installs it
// unless another one was installed meanwhile (then it returns nil, nil).
func (s *Supervisor) startCurrent(ctx context.Context) (*instance, error) {
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	s.mu.Lock()
	if s.cur != nil {
		s.mu.Unlock()
		return nil, nil
	}
	loras := append([]string(nil), s.loras...)
	s.setStateLocked(StateStarting, nil)
	s.mu.Unlock()
	inst, err := s.launch(ctx, loras)
	if err != nil {
		s.mu.Lock()
		s.setStateLocked(StateDown, err)
		s.mu.Unlock()
		return nil, err
	}
	s.mu.Lock()
	s.cur = inst
	s.setStateLocked(StateReady, nil)
	s.mu.Unlock()
	s.log.Info("engine ready", "pid", inst.p.PID(), "url", inst.base, "startup", time.Since(inst.startedAt).Round(time.Millisecond))
	return inst, nil
}

// monitor returns when the process exits (or is killed after failing health
// checks), or when ctx ends.
func (s *Supervisor) monitor(ctx context.Context, inst *instance) error {
	t := time.NewTicker(s.cfg.HealthInterval)
	defer t.Stop()
	fails := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-inst.p.Done():
			return fmt.Errorf("engine process exited: %v", exitString(inst.p.Err()))
		case <-t.C:
			s.mu.Lock()
			retiring := inst.retiring
			s.mu.Unlock()
			if retiring {
				continue
			}
			if err := s.checkHealth(ctx, inst.base); err != nil {
				fails++
				s.log.Warn("engine health check failed", "err", err, "consecutive", fails)
				if fails >= s.cfg.HealthFailures {
					inst.p.Kill()
					<-inst.p.Done()
					return fmt.Errorf("engine unhealthy after %d checks: %v", fails, err)
				}
				continue
			}
			fails = 0
		}
	}
}

func (s *Supervisor) checkHealth(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HealthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/health: HTTP %d", resp.StatusCode)
	}
	return nil
}
