package parse

import (
	"bufio"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// Worker side of the process parser (see Process). A worker is the same
// executable re-exec'd with WorkerEnv=1; RunWorkerIfRequested, called first
// thing in main (and in TestMain of test binaries that create a Process),
// turns that process into a worker.
//
// Protocol, encoding/gob over the worker's stdin and stdout: the parent
// sends one workerInit, the worker answers one workerHello once PDFium is
// ready, then the parent sends one workerReq at a time and the worker
// answers each with one workerResp. EOF on stdin (the parent closed the
// pool or died) makes the worker exit at once, even mid-parse.

// WorkerEnv is the environment variable that makes RunWorkerIfRequested
// serve as a parse worker.
const WorkerEnv = "PDFQA_PARSE_WORKER"

type workerInit struct {
	Cfg Config
}

type workerHello struct {
	PID int
	Err string
}

const (
	opParse = iota + 1
	opRender
)

type workerReq struct {
	Op   int
	Data []byte
	Opts Options
	// render only
	Page, DPI int
}

type workerResp struct {
	Doc  *Document
	PNG  []byte
	W, H int
	// Kind names the typed error (errKinds), "" for an untyped one; Msg is
	// err.Error(). Both empty on success.
	Kind string
	Msg  string
}

// errKinds maps the typed errors to names for the process boundary, most
// specific first (ErrNotPDF before the ErrInvalidPDF it wraps).
var errKinds = []struct {
	name string
	err  error
}{
	{"empty", ErrEmpty},
	{"not_pdf", ErrNotPDF},
	{"no_pages", ErrNoPages},
	{"invalid_pdf", ErrInvalidPDF},
	{"unsupported_encryption", ErrUnsupportedEncryption},
	{"encrypted", ErrEncrypted},
	{"too_large", ErrTooLarge},
	{"too_many_pages", ErrTooManyPages},
	{"timeout", ErrTimeout},
	{"engine", ErrEngine},
	{"closed", ErrClosed},
	{"page_range", ErrPageRange},
}

func errKind(err error) string {
	for _, k := range errKinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return ""
}

// remoteError is an error that crossed the process boundary: its message
// is the worker's, and it unwraps to the typed error of the same kind (and,
// for timeouts, to context.DeadlineExceeded as in-process timeouts do).
type remoteError struct {
	msg  string
	kind []error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.kind }

// err rebuilds the worker's error (nil on success).
func (r *workerResp) err() error {
	if r.Kind == "" && r.Msg == "" {
		return nil
	}
	e := &remoteError{msg: r.Msg}
	for _, k := range errKinds {
		if k.name == r.Kind {
			e.kind = append(e.kind, k.err)
			if k.err == ErrTimeout {
				e.kind = append(e.kind, context.DeadlineExceeded)
			}
			break
		}
	}
	if e.msg == "" {
		e.msg = "parse worker: unknown error"
	}
	return e
}

// RunWorkerIfRequested returns at once unless the environment variable
// WorkerEnv is set, in which case this process serves as a parse worker
// for a parent Process on stdin/stdout and exits when the parent goes away.
// Call it first thing in main and in TestMain of test packages that create
// a Process (directly or through retrieval.Open).
func RunWorkerIfRequested() {
	if os.Getenv(WorkerEnv) == "" {
		return
	}
	os.Exit(serveWorker(os.Stdin, os.Stdout))
}

func serveWorker(in io.Reader, out io.Writer) int {
	_ = os.Unsetenv(WorkerEnv)
	// Nothing else may write to the protocol stream.
	os.Stdout = os.Stderr

	dec := gob.NewDecoder(bufio.NewReaderSize(in, 1<<16))
	bw := bufio.NewWriterSize(out, 1<<16)
	enc := gob.NewEncoder(bw)
	send := func(v any) error {
		if err := enc.Encode(v); err != nil {
			return err
		}
		return bw.Flush()
	}

	var init workerInit
	if err := dec.Decode(&init); err != nil {
		fmt.Fprintln(os.Stderr, "parse worker: read init:", err)
		return 2
	}
	cfg := init.Cfg
	// One document at a time; the parent kills the whole process on a
	// deadline, so the per-call interrupt (4x slower) is not needed.
	cfg.Instances = 1
	cfg.DisableInterrupt = true
	if cfg.MemoryLimitBytes <= 0 {
		cfg.MemoryLimitBytes = DefaultMemoryLimitBytes
	}
	// Soft bound on the Go heap (which holds the sandbox's linear memory):
	// the sandbox limit plus room for the input and the result.
	debug.SetMemoryLimit(cfg.MemoryLimitBytes + 512<<20)

	p, err := New(cfg)
	if err != nil {
		_ = send(workerHello{PID: os.Getpid(), Err: err.Error()})
		return 1
	}
	if err := send(workerHello{PID: os.Getpid()}); err != nil {
		return 1
	}

	reqs := make(chan *workerReq)
	go func() {
		for {
			r := new(workerReq)
			if err := dec.Decode(r); err != nil {
				// The parent closed stdin (Close) or died: stop now, even
				// in the middle of a parse.
				os.Exit(0)
			}
			reqs <- r
		}
	}()
	ctx := context.Background()
	for r := range reqs {
		var resp workerResp
		var err error
		switch r.Op {
		case opParse:
			resp.Doc, err = p.Parse(ctx, r.Data, r.Opts)
		case opRender:
			resp.PNG, resp.W, resp.H, err = p.RenderPNG(ctx, r.Data, r.Opts.Password, r.Page, r.DPI)
		default:
			err = fmt.Errorf("%w: parse worker: unknown op %d", ErrEngine, r.Op)
		}
		if err != nil {
			resp = workerResp{Kind: errKind(err), Msg: err.Error()}
		}
		if err := send(&resp); err != nil {
			fmt.Fprintln(os.Stderr, "parse worker: write result:", err)
			return 1
		}
	}
	return 0
}
