package proc

import (
	"strings"
	"sync"
)

// DefaultTailBytes is the stderr kept by a Process unless Options.TailBytes says otherwise.
const DefaultTailBytes = 4096

// Tail is an io.Writer that keeps the last bytes written to it, for error
// messages. It is safe for concurrent use.
type Tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// NewTail returns a Tail that keeps the last max bytes (DefaultTailBytes if max <= 0).
func NewTail(max int) *Tail {
	if max <= 0 {
		max = DefaultTailBytes
	}
	return &Tail{max: max}
}

// Write implements io.Writer; it never fails.
func (t *Tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(b), nil
}

// String returns the kept bytes.
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// Lines returns the last n lines of the kept text with the surrounding
// white space trimmed (all of them when n <= 0); the first may have been
// cut by the size limit.
func (t *Tail) Lines(n int) []string {
	s := strings.TrimSpace(t.String())
	if s == "" {
		return nil
	}
	l := strings.Split(s, "\n")
	if n > 0 && len(l) > n {
		l = l[len(l)-n:]
	}
	return l
}
