//go:build linux

package parse

import (
	"os"
	"syscall"
)

// workerSysProcAttr puts a worker in its own process group (so that a kill
// takes its Tesseract children too) and has the kernel SIGKILL it when the
// parent dies. (Pdeathsig fires when the forking OS thread exits; the Go
// runtime only retires threads of goroutines that exit while locked to
// them, which this package never does. Workers also exit on EOF on stdin.)
func workerSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup SIGKILLs the process group led by pid.
func killGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// selfExe is the executable to re-exec: /proc/self/exe, which stays this
// very binary even if the file was replaced on disk since (an upgrade),
// else os.Executable.
func selfExe() (string, error) {
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		return "/proc/self/exe", nil
	}
	return os.Executable()
}
