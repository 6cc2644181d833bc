//go:build !unix

package proc

import (
	"errors"
	"syscall"
)

// Outside Unix there are no process groups: only the child itself is
// signalled (Kill), and it learns of its parent's death through EOF.
func sysProcAttr(a *syscall.SysProcAttr) *syscall.SysProcAttr { return a }

func signalGroup(int, syscall.Signal) error { return errors.ErrUnsupported }

// Crashed is always false outside Unix.
func Crashed(error) bool { return false }
