//go:build unix

package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// lockFile opens path and takes an exclusive flock on it, retrying for up
// to wait while another process holds it.
func lockFile(ctx context.Context, path string, wait time.Duration) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("proc: lock %s: %w", path, err)
		}
		if !time.Now().Before(deadline) {
			b, _ := os.ReadFile(path)
			f.Close()
			return nil, fmt.Errorf("%w: %s (pid %s)", ErrLocked, path, strings.TrimSpace(string(b)))
		}
		if ctx != nil && ctx.Err() != nil {
			f.Close()
			return nil, ctx.Err()
		}
		time.Sleep(min(50*time.Millisecond, time.Until(deadline)))
	}
}

// writePID records the holder in the lock file, for ErrLocked messages.
func writePID(f *os.File, pid int) {
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0)
	}
}
