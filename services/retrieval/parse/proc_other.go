//go:build !linux

package parse

import (
	"os"
	"syscall"
)

// workerSysProcAttr: outside Linux, workers only learn of the parent's
// death through EOF on their stdin.
func workerSysProcAttr() *syscall.SysProcAttr { return nil }

// killGroup is a no-op outside Linux; the worker itself is killed through
// os.Process.Kill.
func killGroup(int) {}

func selfExe() (string, error) { return os.Executable() }
