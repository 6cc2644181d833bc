//go:build unix && !linux

package proc

import "syscall"

// sysProcAttr: own process group. There is no parent-death signal outside
// Linux: children learn of it through EOF on a pipe, and Lock keeps a
// survivor from sharing its files.
func sysProcAttr(a *syscall.SysProcAttr) *syscall.SysProcAttr {
	if a == nil {
		a = &syscall.SysProcAttr{}
	}
	a.Setpgid, a.Pgid = true, 0
	return a
}
