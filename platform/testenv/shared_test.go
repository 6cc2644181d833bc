package testenv

import (
	"errors"
	"fmt"
	"testing"
)

// closeCounter is a server that counts its Close calls.
type closeCounter struct{ closed int }

func (c *closeCounter) Close() error { c.closed++; return nil }

// stopTB stands in for the test given to Missing: its Skipf and Fatalf
// panic with what they were told, so that the test sees it and goes on.
type stopTB struct{ testing.TB }

func (stopTB) Helper() {}
func (stopTB) Skipf(format string, args ...any) {
	panic("skip: " + fmt.Sprintf(format, args...))
}
func (stopTB) Fatalf(format string, args ...any) {
	panic("fatal: " + fmt.Sprintf(format, args...))
}

// said is what Get told t before it stopped ("" when it returned).
func said[S interface{ Close() error }](t testing.TB, sh *SharedServer[S]) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = r.(string)
		}
	}()
	sh.Get(stopTB{t})
	return ""
}

func TestSharedServerStartsOnceAndCloses(t *testing.T) {
	starts := 0
	srv := &closeCounter{}
	sh := &SharedServer[*closeCounter]{What: "test server unavailable", Start: func() (*closeCounter, error) { starts++; return srv, nil }}
	sh.Close()
	if starts != 0 || srv.closed != 0 {
		t.Fatalf("Close before any Get: %d starts, %d closes; want none", starts, srv.closed)
	}
	for range 3 {
		if got := sh.Get(t); got != srv {
			t.Fatalf("Get = %p, want the started server %p", got, srv)
		}
	}
	sh.Close()
	if starts != 1 || srv.closed != 1 {
		t.Fatalf("three Gets and a Close: %d starts, %d closes; want 1 and 1", starts, srv.closed)
	}
}

func TestSharedServerFailedStartIsMissing(t *testing.T) {
	for _, tc := range []struct{ ci, want string }{
		{"", "skip: skipped: test server unavailable: no binary at /x"},
		{"true", "fatal: required in CI: test server unavailable: no binary at /x"},
	} {
		t.Setenv("CI", tc.ci)
		starts := 0
		sh := &SharedServer[*closeCounter]{What: "test server unavailable", Start: func() (*closeCounter, error) {
			starts++
			return nil, errors.New("no binary at /x")
		}}
		first, second := said(t, sh), said(t, sh)
		sh.Close() // nothing started: must not call Close on a nil server
		if starts != 1 || first != tc.want || second != tc.want {
			t.Errorf("CI=%q: %d starts, said %q and %q; want one start and %q twice", tc.ci, starts, first, second, tc.want)
		}
	}
}
