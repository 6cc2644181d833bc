package mesh

import (
	"context"
	"testing"
	"time"
)

// StartForTest runs Up(o), its Ready replaced, for the test t. It fails t
// when Up returns early or the mesh is not ready within three minutes (a
// bound against hangs on a shared machine, not a speed target); when t ends
// it stops the mesh, failing t when that takes more than 30 seconds.
func StartForTest(t testing.TB, o UpOptions) *Mesh {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *Mesh, 1)
	done := make(chan error, 1)
	o.Ready = func(m *Mesh) { ready <- m }
	go func() { done <- Up(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("mesh did not stop")
		}
	})
	select {
	case m := <-ready:
		return m
	case err := <-done:
		done <- err
		t.Fatalf("Up returned early: %v", err)
	case <-time.After(3 * time.Minute):
		t.Fatal("mesh not ready")
	}
	return nil
}
