package proc

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Options tune Start.
type Options struct {
	// Grace is how long the group has between SIGTERM and SIGKILL once the
	// context given to Start ends (0: SIGKILL at once).
	Grace time.Duration
	// TailBytes is how much of the child's stderr Tail keeps (default DefaultTailBytes).
	TailBytes int
	// Combined sends the child's stdout where its stderr goes (when
	// cmd.Stdout is nil): to cmd.Stderr, Tail and OnLine.
	Combined bool
	// OnLine, if set, is called with each line of the child's stderr
	// (without the line end), from one goroutine, in order.
	OnLine func(pid int, line string)
	// Lock, if set, is a file locked exclusively (flock) before the child
	// starts and inherited by it (as an extra file), so that it stays
	// locked for as long as the child or anything it started that kept
	// the descriptor lives, even when this process dies first. A second
	// Start with the same Lock fails with ErrLocked meanwhile: one writer.
	// The file holds the child's pid.
	Lock string
	// LockWait is how long Start waits for a held Lock before failing (a
	// child of a dead parent may take a moment to exit).
	LockWait time.Duration
}

// ErrLocked is an Options.Lock held by another live process.
var ErrLocked = errors.New("proc: lock held by another process")

// outputDrain bounds the wait for a dead child's output pipe after its
// group was killed (a process that left the group may still hold it).
const outputDrain = time.Second

// Process is a started child; see Start.
type Process struct {
	cmd  *exec.Cmd
	pid  int
	tail *Tail
	done chan struct{}
	err  error // valid once done is closed
}

// Start starts cmd in its own process group with the parent-death signal
// set (Linux), its stderr copied to cmd.Stderr (if set) and to Tail. When
// ctx ends, the group gets SIGTERM and, Options.Grace later, SIGKILL. When
// the child exits, whatever is left of its group is SIGKILLed. Callers own
// cmd's stdin and stdout (give it *os.File pipes to read as it runs).
func Start(ctx context.Context, cmd *exec.Cmd, o Options) (*Process, error) {
	p := &Process{cmd: cmd, tail: NewTail(o.TailBytes), done: make(chan struct{})}
	var lockf *os.File
	if o.Lock != "" {
		f, err := lockFile(ctx, o.Lock, o.LockWait)
		if err != nil {
			return nil, err
		}
		lockf = f
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
	}
	release := func() {
		if lockf != nil {
			_ = lockf.Close()
		}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		release()
		return nil, err
	}
	var sink io.Writer = p.tail
	if cmd.Stderr != nil {
		sink = io.MultiWriter(cmd.Stderr, p.tail)
	}
	cmd.Stderr = pw
	if o.Combined && cmd.Stdout == nil {
		cmd.Stdout = pw
	}
	cmd.SysProcAttr = sysProcAttr(cmd.SysProcAttr)
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = outputDrain
	}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		release()
		return nil, err
	}
	pw.Close()
	p.pid = cmd.Process.Pid
	if lockf != nil {
		writePID(lockf, p.pid)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		copyLines(pr, sink, p.pid, o.OnLine)
	}()
	go func() {
		err := cmd.Wait()
		// Whatever the child left behind in its group goes with it.
		_ = signalGroup(p.pid, syscall.SIGKILL)
		select {
		case <-copied:
		case <-time.After(outputDrain):
			pr.Close()
			<-copied
		}
		pr.Close()
		release()
		p.err = err
		close(p.done)
	}()
	if ctx != nil && ctx.Done() != nil {
		go func() {
			select {
			case <-ctx.Done():
				_ = p.Stop(o.Grace)
			case <-p.done:
			}
		}()
	}
	return p, nil
}

func copyLines(r io.Reader, w io.Writer, pid int, onLine func(int, string)) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			_, _ = w.Write(b)
			if onLine != nil {
				onLine(pid, strings.TrimRight(string(b), "\r\n"))
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// PID is the child's process id (and its process group id).
func (p *Process) PID() int { return p.pid }

// Done is closed once the child has exited, its group was killed and its
// stderr was read to the end.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether Done is closed.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is the child's exit error (as from exec.Cmd.Wait); valid once Done is closed.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Wait waits for Done and returns Err.
func (p *Process) Wait() error { return p.Err() }

// Tail is the end of the child's stderr.
func (p *Process) Tail() *Tail { return p.tail }

// Signal sends sig to the child's process group (to the child alone where
// there are no groups).
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return os.ErrProcessDone
	}
	if err := signalGroup(p.pid, sig); err == nil {
		return nil
	}
	return p.cmd.Process.Signal(sig)
}

// Kill SIGKILLs the child's process group and the child; it does not wait.
func (p *Process) Kill() {
	if p.Exited() {
		return
	}
	_ = signalGroup(p.pid, syscall.SIGKILL)
	_ = p.cmd.Process.Kill()
}

// Stop sends the group SIGTERM, SIGKILL after grace (at once if grace <=
// 0), and waits for the child to exit; it returns the exit error.
func (p *Process) Stop(grace time.Duration) error {
	if grace <= 0 {
		p.Kill()
		return p.Err()
	}
	_ = p.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.Kill()
	}
	return p.Err()
}
