//go:build linux

package engine

import "syscall"

// sysProcAttr makes the kernel SIGKILL the engine when the thread that forked
// it dies (i.e. when the Go process dies, even by SIGKILL), and puts it in its
// own process group so signals to the service's terminal group do not reach it
// first. Note: Pdeathsig fires when the *forking OS thread* exits; the Go
// runtime does not retire threads unless a goroutine exits while locked with
// runtime.LockOSThread, which this package never does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
