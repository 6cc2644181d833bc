package proc

import (
	"os"
	"runtime"
)

// SelfExe is the executable for a process to re-exec itself: on Linux
// /proc/self/exe, which stays this very binary even if the file was
// replaced on disk since (an upgrade); elsewhere os.Executable.
func SelfExe() (string, error) {
	if runtime.GOOS == "linux" {
		if _, err := os.Stat("/proc/self/exe"); err == nil {
			return "/proc/self/exe", nil
		}
	}
	return os.Executable()
}
