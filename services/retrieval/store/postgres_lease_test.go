package store

import (
	"context"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/pgtest"
)

// Two store instances on one database (two replicas): a lease is held by
// one owner at a time, renewed by its holder, given back by Release, and
// taken over by the other once its holder stops renewing it (a killed
// replica).
func TestPostgresLeaseIsHeldByOneReplica(t *testing.T) {
	dsn := pgtest.DSN(t)
	open := func() *Postgres {
		s, err := OpenPostgres(context.Background(), dsn, PostgresOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	ctx := t.Context()
	acquire := func(s *Postgres, key, owner string, lease time.Duration) bool {
		t.Helper()
		held, err := s.Acquire(ctx, key, owner, lease)
		if err != nil {
			t.Fatal(err)
		}
		return held
	}
	if !acquire(a, "refine/c/d1", "A", time.Minute) {
		t.Fatal("A could not take a free lease")
	}
	if acquire(b, "refine/c/d1", "B", time.Minute) {
		t.Fatal("B took the lease A holds")
	}
	if !acquire(a, "refine/c/d1", "A", time.Minute) {
		t.Fatal("A could not renew its own lease")
	}
	if !acquire(b, "refine/c/d2", "B", time.Minute) {
		t.Fatal("another key's lease is not free")
	}
	// Release by a non-holder is a no-op; by the holder frees the lease.
	if err := b.ReleaseLease(ctx, "refine/c/d1", "B"); err != nil {
		t.Fatal(err)
	}
	if acquire(b, "refine/c/d1", "B", time.Minute) {
		t.Fatal("B's release freed A's lease")
	}
	if err := a.ReleaseLease(ctx, "refine/c/d1", "A"); err != nil {
		t.Fatal(err)
	}
	if !acquire(b, "refine/c/d1", "B", 500*time.Millisecond) {
		t.Fatal("B could not take the lease A gave back")
	}
	// B dies: it never renews. A cannot take the lease before it expires,
	// and takes it over after.
	if acquire(a, "refine/c/d1", "A", time.Minute) {
		t.Fatal("A took B's unexpired lease")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !acquire(a, "refine/c/d1", "A", time.Minute) {
		if time.Now().After(deadline) {
			t.Fatal("B's expired lease was never taken over")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if acquire(b, "refine/c/d1", "B", time.Minute) {
		t.Fatal("B took the lease back after A took it over")
	}
	if _, err := a.Acquire(ctx, "k", "A", 0); err == nil {
		t.Fatal("a zero lease was accepted")
	}
}
