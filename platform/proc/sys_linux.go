//go:build linux

package proc

import "syscall"

// sysProcAttr: own process group, SIGKILL when the parent dies.
func sysProcAttr(a *syscall.SysProcAttr) *syscall.SysProcAttr {
	if a == nil {
		a = &syscall.SysProcAttr{}
	}
	a.Setpgid, a.Pgid = true, 0
	a.Pdeathsig = syscall.SIGKILL
	return a
}
