package parse

import (
	"bufio"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/pdfqa/pdfqa/platform/proc"
)

// ParseRenderer is a Parser that also renders pages; PDFium (in-process)
// and Process (worker processes) implement it.
type ParseRenderer interface {
	Parser
	// RenderPNG renders one page (1-based) as PNG; see PDFium.RenderPNG.
	RenderPNG(ctx context.Context, data []byte, password string, page, dpi int) ([]byte, int, int, error)
}

var (
	_ ParseRenderer = (*PDFium)(nil)
	_ ParseRenderer = (*Process)(nil)
)

const (
	// workerStartTimeout bounds starting a worker (exec plus loading the
	// compiled PDFium module; compiling it when the cache is cold).
	workerStartTimeout = 2 * time.Minute
	// workerSlack is added to the deadline sent to a worker so that the
	// parent, which kills the worker, is the one that enforces it.
	workerSlack = time.Second
	// workerStopGrace is how long Close waits for an idle worker to exit
	// after closing its stdin before killing it.
	workerStopGrace = 2 * time.Second
)

// Process is the Parser that runs PDFium in supervised child processes: a
// pool of Config.Instances long-lived workers, each the same executable
// re-exec'd (see RunWorkerIfRequested) running the in-process parser with
// one instance and without wazero's per-call interrupt (about 4x faster
// text extraction). Deadlines are enforced by killing the worker (its whole
// process group, Tesseract included): the call returns ErrTimeout and a
// fresh worker replaces it. A worker that crashes or is killed from outside
// yields ErrEngine and is replaced too, so a hostile document can take down
// at most its own worker. Workers die with the parent (Pdeathsig on Linux,
// and EOF on their stdin everywhere).
//
// Workers are started on demand, except the first, which NewProcess starts
// to check that re-exec works (and to fill the compilation cache).
type Process struct {
	cfg   Config
	exe   string
	slots chan *slot

	calls                      // wg: calls in flight and background restarts
	done  chan struct{}        // closed by Close
	live  map[*worker]struct{} // guarded by mu
}

// slot holds at most one worker; whoever took the slot from Process.slots
// owns it.
type slot struct{ w *worker }

type worker struct {
	proc   *proc.Process
	pid    int
	stdin  *os.File
	stdout *os.File
	bw     *bufio.Writer
	enc    *gob.Encoder
	dec    *gob.Decoder
}

// NewProcess creates the worker pool and starts its first worker. It fails
// when the executable cannot be re-exec'd as a worker (for example when
// main does not call RunWorkerIfRequested first).
func NewProcess(cfg Config) (*Process, error) {
	if os.Getenv(WorkerEnv) != "" {
		// We were started as a worker but main did not call
		// RunWorkerIfRequested: do not recurse.
		return nil, fmt.Errorf("parse: %s is set but this process is not serving as a parse worker (call parse.RunWorkerIfRequested first in main/TestMain)", WorkerEnv)
	}
	exe, err := proc.SelfExe()
	if err != nil {
		return nil, fmt.Errorf("parse: cannot re-exec for parse workers: %w", err)
	}
	if cfg.Instances <= 0 {
		cfg.Instances = runtime.NumCPU()
	}
	p := &Process{cfg: cfg, exe: exe, slots: make(chan *slot, cfg.Instances),
		done: make(chan struct{}), live: map[*worker]struct{}{}}
	first := &slot{}
	ctx, cancel := context.WithTimeout(context.Background(), workerStartTimeout)
	defer cancel()
	if first.w, err = p.start(ctx); err != nil {
		return nil, fmt.Errorf("parse: start parse worker: %w", err)
	}
	p.slots <- first
	for i := 1; i < cfg.Instances; i++ {
		p.slots <- &slot{}
	}
	return p, nil
}

// Close kills the workers of calls in flight (which return ErrClosed),
// waits for them and stops the idle workers.
func (p *Process) Close() error {
	if !p.shut(func() { close(p.done) }) {
		return nil
	}
	var wg sync.WaitGroup
	for range cap(p.slots) {
		s := <-p.slots
		if s.w != nil {
			wg.Add(1)
			go func(w *worker) {
				defer wg.Done()
				p.stop(w)
			}(s.w)
			s.w = nil
		}
		p.slots <- s
	}
	wg.Wait()
	return nil
}

// ParseReaderAt implements Parser.
func (p *Process) ParseReaderAt(ctx context.Context, r io.ReaderAt, size int64, opts Options) (*Document, error) {
	buf, err := readAllAt(r, size, opts.withDefaults())
	if err != nil {
		return nil, err
	}
	return p.Parse(ctx, buf, opts)
}

func readAllAt(r io.ReaderAt, size int64, o Options) ([]byte, error) {
	if size > o.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, size, o.MaxBytes)
	}
	if size < 0 {
		return nil, fmt.Errorf("%w: negative size", ErrInvalidPDF)
	}
	buf := make([]byte, size)
	n, err := r.ReadAt(buf, 0)
	if err != nil && !(errors.Is(err, io.EOF) && int64(n) == size) {
		return nil, fmt.Errorf("parse: read input: %w", err)
	}
	return buf[:n], nil
}

// Parse implements Parser: the document is parsed by a worker process.
func (p *Process) Parse(ctx context.Context, data []byte, opts Options) (*Document, error) {
	o := opts.withDefaults()
	if err := checkHeader(data, o); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	resp, err := p.call(ctx, &workerReq{Op: opParse, Data: data, Opts: opts}, "parse")
	if err != nil {
		return nil, err
	}
	if resp.Doc == nil {
		return nil, fmt.Errorf("%w: parse worker returned no document", ErrEngine)
	}
	return resp.Doc, nil
}

// RenderPNG renders one page in a worker process; see PDFium.RenderPNG.
func (p *Process) RenderPNG(ctx context.Context, data []byte, password string, page, dpi int) ([]byte, int, int, error) {
	o := Options{Password: password}.withDefaults()
	if err := checkHeader(data, o); err != nil {
		return nil, 0, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	resp, err := p.call(ctx, &workerReq{Op: opRender, Data: data, Opts: Options{Password: password}, Page: page, DPI: dpi}, "render")
	if err != nil {
		return nil, 0, 0, err
	}
	return resp.PNG, resp.W, resp.H, nil
}

// call runs one request on a worker, enforcing ctx by killing the worker.
func (p *Process) call(ctx context.Context, req *workerReq, what string) (*workerResp, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.wg.Done()

	var s *slot
	select {
	case s = <-p.slots:
	case <-ctx.Done():
		return nil, timeoutErr(ctx, "waiting for a parse worker")
	case <-p.done:
		return nil, ErrClosed
	}
	if ctx.Err() != nil {
		// Both were ready: do not kill a worker for a call already over.
		p.slots <- s
		return nil, timeoutErr(ctx, "waiting for a parse worker")
	}
	if s.w != nil && s.w.dead() {
		// Died while idle (killed from outside): replace it silently.
		p.reap(s.w)
		s.w = nil
	}
	if s.w == nil {
		w, err := p.start(ctx)
		if err != nil {
			p.slots <- s
			switch {
			case p.isClosed():
				return nil, ErrClosed
			case ctx.Err() != nil:
				return nil, timeoutErr(ctx, "starting a parse worker")
			}
			return nil, fmt.Errorf("%w: start parse worker: %v", ErrEngine, err)
		}
		s.w = w
	}
	if dl, ok := ctx.Deadline(); ok {
		req.Opts.Timeout = time.Until(dl) + workerSlack
	}

	type result struct {
		resp workerResp
		err  error
	}
	for retried := false; ; retried = true {
		w := s.w
		ch := make(chan result, 1)
		go func() {
			var r result
			r.err = w.roundTrip(req, &r.resp)
			ch <- r
		}()
		select {
		case r := <-ch:
			if errors.Is(r.err, errNotSent) && !retried {
				// The worker died before it got the request (killed while
				// idle, its exit not yet seen): nothing ran, so the call goes
				// to a fresh worker instead of failing.
				w.kill()
				p.reap(w)
				fresh, err := p.start(ctx)
				if err != nil {
					s.w = nil
					p.slots <- s
					return nil, fmt.Errorf("%w: start parse worker: %v", ErrEngine, err)
				}
				s.w = fresh
				continue
			}
			if r.err != nil {
				// The worker died (crash, OOM kill, kill -9) or broke the
				// protocol.
				why := w.failure(r.err)
				p.replace(s)
				return nil, fmt.Errorf("%w: parse worker (pid %d) died during %s: %s", ErrEngine, w.pid, what, why)
			}
			err := r.resp.err()
			if errors.Is(err, ErrTimeout) || errors.Is(err, ErrEngine) {
				// The worker may still be running an abandoned PDFium call, or
				// its heap may have grown: start afresh.
				p.replace(s)
			} else {
				p.slots <- s
			}
			if err != nil {
				return nil, err
			}
			return &r.resp, nil
		case <-ctx.Done():
			p.replace(s)
			return nil, timeoutErr(ctx, what)
		case <-p.done:
			w.kill()
			p.slots <- s // Close reaps it
			return nil, ErrClosed
		}
	}
}

func (p *Process) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// replace kills the slot's worker and starts a fresh one in the background;
// the slot goes back to the pool afterwards. The caller holds a wg count.
func (p *Process) replace(s *slot) {
	old := s.w
	s.w = nil
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if old != nil {
			old.kill()
			p.reap(old)
		}
		if !p.isClosed() {
			ctx, cancel := context.WithTimeout(context.Background(), workerStartTimeout)
			if w, err := p.start(ctx); err == nil {
				s.w = w
			} // else the next call on this slot tries again
			cancel()
		}
		p.slots <- s
	}()
}

// start launches a worker and waits for its hello.
func (p *Process) start(ctx context.Context) (*worker, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	// "-test.run=^$": should a test binary lack the RunWorkerIfRequested
	// call in TestMain, it runs no tests and exits (the handshake fails).
	cmd := exec.Command(p.exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), WorkerEnv+"=1")
	cmd.Stdin, cmd.Stdout = inR, outW
	// Own process group (a kill takes its Tesseract children too), killed
	// by the kernel when this process dies, stderr tail for errors.
	pr, err := proc.Start(context.Background(), cmd, proc.Options{})
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	w := &worker{proc: pr, pid: pr.PID(), stdin: inW, stdout: outR}
	p.mu.Lock()
	p.live[w] = struct{}{}
	p.mu.Unlock()

	w.bw = bufio.NewWriterSize(inW, 1<<16)
	w.enc = gob.NewEncoder(w.bw)
	w.dec = gob.NewDecoder(bufio.NewReaderSize(outR, 1<<16))
	hello := make(chan error, 1)
	go func() {
		var h workerHello
		err := w.send(workerInit{Cfg: p.cfg})
		if err == nil {
			err = w.dec.Decode(&h)
		}
		if err == nil && h.Err != "" {
			err = errors.New(h.Err)
		}
		hello <- err
	}()
	var herr error
	select {
	case herr = <-hello:
	case <-ctx.Done():
		herr = ctx.Err()
	case <-p.done:
		herr = ErrClosed
	}
	if herr != nil {
		why := w.failure(herr)
		p.reap(w)
		return nil, fmt.Errorf("%s (is parse.RunWorkerIfRequested called first in main/TestMain?)", why)
	}
	return w, nil
}

// stop ends an idle worker: EOF on its stdin, then SIGKILL after a grace
// period.
func (p *Process) stop(w *worker) {
	w.stdin.Close()
	select {
	case <-w.proc.Done():
	case <-time.After(workerStopGrace):
		w.kill()
	}
	p.reap(w)
}

// reap waits for a killed (or exiting) worker and forgets it.
func (p *Process) reap(w *worker) {
	select {
	case <-w.proc.Done():
	case <-time.After(5 * time.Second):
	}
	w.stdin.Close()
	w.stdout.Close()
	p.mu.Lock()
	delete(p.live, w)
	p.mu.Unlock()
}

// workerPIDs lists the live workers' process ids (tests, diagnostics).
func (p *Process) workerPIDs() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	for w := range p.live {
		if !w.dead() {
			out = append(out, w.pid)
		}
	}
	return out
}

func (w *worker) send(v any) error {
	if err := w.enc.Encode(v); err != nil {
		return err
	}
	return w.bw.Flush()
}

// errNotSent marks a request the worker never received (its pipe was
// already closed): safe to send again to another worker.
var errNotSent = errors.New("request not sent")

func (w *worker) roundTrip(req *workerReq, resp *workerResp) error {
	if err := w.send(req); err != nil {
		return fmt.Errorf("%w: %w", errNotSent, err)
	}
	return w.dec.Decode(resp)
}

func (w *worker) dead() bool { return w.proc.Exited() }

// kill SIGKILLs the worker and its process group (Tesseract included).
func (w *worker) kill() { w.proc.Kill() }

// failure kills the worker and describes why it failed: its exit status and
// the tail of its stderr.
func (w *worker) failure(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// It closed its stdout: give it a moment to exit by itself so that
		// its own exit status is reported.
		select {
		case <-w.proc.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	w.kill()
	select {
	case <-w.proc.Done():
	case <-time.After(5 * time.Second):
	}
	var b strings.Builder
	if w.dead() && w.proc.Err() != nil {
		b.WriteString(w.proc.Err().Error())
	} else if w.dead() {
		b.WriteString("exited with status 0")
	} else {
		b.WriteString("did not exit")
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		fmt.Fprintf(&b, " (%v)", err)
	}
	if tail := strings.TrimSpace(w.proc.Tail().String()); tail != "" {
		fmt.Fprintf(&b, "; stderr: %s", tail)
	}
	return b.String()
}
