//go:build unix

package proc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Alive reports whether process pid is running. A zombie (exited, not yet
// reaped: an orphan in a container whose init does not reap) is not.
func Alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no procfs: the signal test is all there is
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// WaitGone polls Alive every 20 ms until process pid is gone or within has
// passed, and reports whether it is gone: for a process that is not this
// one's child (a grandchild, another process's worker), which Wait cannot
// wait for.
func WaitGone(pid int, within time.Duration) bool {
	for deadline := time.Now().Add(within); Alive(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return syscall.ESRCH
	}
	return syscall.Kill(-pid, sig)
}

// Crashed reports whether err (from Wait) is a process that ended on a
// fault signal (SIGSEGV, SIGILL, SIGBUS, SIGFPE, SIGABRT), not a requested
// stop.
func Crashed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return false
	}
	switch ws.Signal() {
	case syscall.SIGSEGV, syscall.SIGILL, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGABRT:
		return true
	}
	return false
}
