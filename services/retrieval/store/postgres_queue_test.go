package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/pgtest"
)

func openPG(t *testing.T, dsn string) *Postgres {
	t.Helper()
	s, err := OpenPostgres(context.Background(), dsn, PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Replicas claiming at once take different jobs, each exactly once; a job
// whose lease expires (its replica died) is claimed again; a finished job
// is gone.
func TestPostgresQueueSharesJobs(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openPG(t, dsn), openPG(t, dsn)
	for i := range 20 {
		addDoc(t, a, "c", string(rune('a'+i)))
	}
	ctx := context.Background()
	var mu sync.Mutex
	claimed := map[string]string{}
	var wg sync.WaitGroup
	for _, r := range []struct {
		name string
		s    *Postgres
	}{{"A", a}, {"B", b}, {"A2", a}, {"B2", b}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, id, ok, err := r.s.Claim(ctx, r.name, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					return
				}
				mu.Lock()
				if prev, dup := claimed[id]; dup {
					t.Errorf("job %s claimed by %s and %s", id, prev, r.name)
				}
				claimed[id] = r.name
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claimed) != 20 {
		t.Fatalf("%d jobs claimed, want 20", len(claimed))
	}
	// A short lease that is not renewed expires and the job is taken over.
	addDoc(t, a, "c", "late")
	_, id, ok, err := a.Claim(ctx, "dying", 200*time.Millisecond)
	if err != nil || !ok || id != "late" {
		t.Fatalf("Claim = %q %v %v", id, ok, err)
	}
	if _, _, ok, _ := b.Claim(ctx, "B", time.Minute); ok {
		t.Fatal("a leased job was claimed twice")
	}
	time.Sleep(300 * time.Millisecond)
	_, id, ok, err = b.Claim(ctx, "B", time.Minute)
	if err != nil || !ok || id != "late" {
		t.Fatalf("an expired lease's job not claimed again: %q %v %v", id, ok, err)
	}
	if held, _ := a.Renew(ctx, "c", "late", "dying", time.Minute); held {
		t.Fatal("the old owner still renews a job another replica holds")
	}
	if err := b.Release(ctx, "c", "late", "B"); err != nil {
		t.Fatal(err)
	}
	if _, id, ok, _ := a.Claim(ctx, "A", time.Minute); !ok || id != "late" {
		t.Fatalf("a released job is claimed at once: %q %v", id, ok)
	}
	if _, err := b.CommitIndex(t.Context(), "c", "late", nil, nil, ready(0)); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, _ := a.Claim(ctx, "A", time.Minute); ok {
		t.Fatal("a finished job was claimed")
	}
}

// A commit on one store instance reaches another's Watch, not its own.
func TestPostgresWatchSeesOtherReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openPG(t, dsn), openPG(t, dsn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan Change, 10)
	own := make(chan Change, 10)
	go b.Watch(ctx, func(c Change) { got <- c })
	go a.Watch(ctx, func(c Change) { own <- c })
	time.Sleep(300 * time.Millisecond) // both LISTENing
	addDoc(t, a, "c", "d1")
	start := time.Now()
	if _, err := a.CommitIndex(t.Context(), "c", "d1", []Chunk{chunk("d1", 0, map[string]int{"x": 1})}, nil, ready(1)); err != nil {
		t.Fatal(err)
	}
	want := []Change{{"c", "d1", "job"}, {"c", "d1", "document"}}
	for _, w := range want {
		select {
		case c := <-got:
			if c != w {
				t.Fatalf("change %+v, want %+v", c, w)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("no %+v within 2s", w)
		}
	}
	t.Logf("commit seen by the other replica after %v", time.Since(start))
	select {
	case c := <-own:
		t.Fatalf("a store saw its own change %+v", c)
	case <-time.After(200 * time.Millisecond):
	}
}
