//go:build !unix

package proc

import (
	"context"
	"os"
	"time"
)

// lockFile only opens the file outside Unix: there is no flock.
func lockFile(_ context.Context, path string, _ time.Duration) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}

func writePID(*os.File, int) {}
