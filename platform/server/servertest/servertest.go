// Package servertest runs a platform/server Server in a test.
package servertest

import (
	"context"
	"testing"

	"github.com/pdfqa/pdfqa/platform/server"
)

// Run listens on s's address and serves until the test ends; it then stops
// s (its drain) and waits for Serve to return, an error of which fails the
// test.
func Run(t testing.TB, s *server.Server) {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
}
