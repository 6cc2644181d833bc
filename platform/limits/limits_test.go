package limits

import (
	"context"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/auth"
)

func TestPerKey(t *testing.T) {
	l := &PerKey{RPS: 1, Burst: 2}
	now := time.Now()
	a := auth.Principal{KeyID: "a"}
	for i := 0; i < 2; i++ {
		if err := l.Allow(a, now); err != nil {
			t.Fatalf("within the burst: %v", err)
		}
	}
	err := l.Allow(a, now)
	lim, ok := err.(*Limited)
	if !ok || lim.RetryAfter() <= 0 || lim.RetryAfter() > time.Second {
		t.Fatalf("over the burst: %v, want Limited with a retry within 1s", err)
	}
	if err := l.Allow(auth.Principal{KeyID: "b"}, now); err != nil {
		t.Errorf("another key shares the budget: %v", err)
	}
	if err := l.Allow(auth.Principal{KeyID: "a", Peer: true}, now); err != nil {
		t.Errorf("a peer's call for a was limited again: %v", err)
	}
	if err := l.Allow(a, now.Add(time.Second)); err != nil {
		t.Errorf("after the refill: %v", err)
	}
}

func TestConcurrent(t *testing.T) {
	c := &Concurrent{Max: 1, What: "answers"}
	p := auth.Principal{KeyID: "a"}
	rel, err := c.Acquire(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Acquire(p); err == nil {
		t.Fatal("second concurrent answer admitted")
	}
	rel()
	rel() // idempotent
	if _, err := c.Acquire(p); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestBoundCapsTheClientsDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Hour) // grpc-timeout: 10H
	defer cancel()
	b, done := Bound(ctx, time.Minute)
	defer done()
	if dl, _ := b.Deadline(); time.Until(dl) > time.Minute {
		t.Fatalf("deadline %v from now, want at most the 1m maximum", time.Until(dl))
	}
	short, c2 := context.WithTimeout(context.Background(), time.Second)
	defer c2()
	b2, d2 := Bound(short, time.Minute)
	defer d2()
	if dl, _ := b2.Deadline(); time.Until(dl) > time.Second {
		t.Fatal("a shorter client deadline was stretched")
	}
	b3, d3 := Bound(context.Background(), time.Minute)
	defer d3()
	if _, ok := b3.Deadline(); !ok {
		t.Fatal("a call without a deadline got none")
	}
}
