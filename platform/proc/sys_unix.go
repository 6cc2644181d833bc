//go:build unix

package proc

import (
	"errors"
	"os/exec"
	"syscall"
)

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
