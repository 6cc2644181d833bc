package testenv

import (
	"io"
	"os"
	"sync"
	"testing"
)

// SharedServer is a server that a package's tests share (platform/pgtest's
// PostgreSQL, platform/s3test's S3): Start runs on the first Get, and
// Close (from TestMain, or Main) stops it. When it could not start, every
// Get calls Missing with What and the error: the test fails under CI and
// is skipped elsewhere.
type SharedServer[S io.Closer] struct {
	// What names the server in the message of a failed start, e.g.
	// "PostgreSQL unavailable".
	What string
	// Start starts the server.
	Start func() (S, error)

	once    sync.Once
	s       S
	err     error
	started bool
}

// Get returns the server, starting it on first use.
func (sh *SharedServer[S]) Get(t testing.TB) S {
	t.Helper()
	sh.once.Do(func() {
		sh.s, sh.err = sh.Start()
		sh.started = sh.err == nil
	})
	if sh.err != nil {
		Missing(t, "%s: %v", sh.What, sh.err)
	}
	return sh.s
}

// Close stops the server if a Get started it.
func (sh *SharedServer[S]) Close() {
	if sh.started {
		sh.s.Close()
	}
}

// Main runs the package's tests, then stops the server and exits; call it
// from TestMain.
func (sh *SharedServer[S]) Main(m *testing.M) {
	code := m.Run()
	sh.Close()
	os.Exit(code)
}
