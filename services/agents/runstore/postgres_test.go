package runstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func openPG(t *testing.T, dsn string, beat time.Duration) *Postgres {
	t.Helper()
	s, err := OpenPostgres(context.Background(), dsn, PostgresOptions{Beat: beat, CallTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// kill stops a replica the way a SIGKILL would: no more heartbeats, and
// its liveness row left behind to expire.
func kill(s *Postgres) {
	s.cancel()
	s.wg.Wait()
	s.db.Close()
}

// A run written through replica A reads through replica B, and both list
// the same runs newest first with the caller's filter applied.
func TestPostgresRunsSharedAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openPG(t, dsn, time.Second), openPG(t, dsn, time.Second)
	defer a.Close()
	defer b.Close()
	var ids []string
	for i := range 5 {
		r := &agentsv1.Run{Id: NewID(), Question: fmt.Sprint("q", i), Status: agentsv1.RunStatus_RUN_STATUS_SUCCEEDED,
			Tenant: []string{"t1", "t2"}[i%2], Scratchpad: "notes", Passages: []*retrievalv1.Passage{{Text: "p"}}}
		if err := a.Put(r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.Id)
		time.Sleep(2 * time.Millisecond)
	}
	got, err := b.Get(ids[2])
	if err != nil {
		t.Fatal(err)
	}
	if got.GetQuestion() != "q2" || got.GetScratchpad() != "notes" || len(got.GetPassages()) != 1 {
		t.Fatalf("GetRun through B = %v", got)
	}
	if _, err := b.Get("r-missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing run: %v, want ErrNotFound", err)
	}
	all, err := b.List(10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 || all[0].GetId() != ids[4] || all[4].GetId() != ids[0] {
		t.Fatalf("List = %d runs, first %s: want 5 newest first", len(all), all[0].GetId())
	}
	if all[0].GetScratchpad() != "" || all[0].GetPassages() != nil {
		t.Fatal("List keeps evidence detail")
	}
	t1, err := b.List(2, func(r *agentsv1.Run) bool { return r.GetTenant() == "t1" })
	if err != nil {
		t.Fatal(err)
	}
	if len(t1) != 2 || t1[0].GetId() != ids[4] || t1[1].GetId() != ids[2] {
		t.Fatalf("filtered List = %v", t1)
	}
	// An update through B replaces the row.
	got.Status = agentsv1.RunStatus_RUN_STATUS_FAILED
	if err := b.Put(got); err != nil {
		t.Fatal(err)
	}
	if r, _ := a.Get(ids[2]); r.GetStatus() != agentsv1.RunStatus_RUN_STATUS_FAILED {
		t.Fatalf("status through A after B's update = %v", r.GetStatus())
	}
}

// A run left RUNNING by a replica that died is marked INTERRUPTED by a live
// one; a live replica's running run is left alone.
func TestPostgresDeadReplicasRunsInterrupted(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openPG(t, dsn, 100*time.Millisecond), openPG(t, dsn, 100*time.Millisecond)
	defer b.Close()
	dead := &agentsv1.Run{Id: NewID(), Status: agentsv1.RunStatus_RUN_STATUS_RUNNING}
	live := &agentsv1.Run{Id: NewID(), Status: agentsv1.RunStatus_RUN_STATUS_RUNNING}
	if err := a.Put(dead); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(live); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Sweep(context.Background()); err != nil || n != 0 {
		t.Fatalf("sweep with both alive: %d, %v", n, err)
	}
	kill(a)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := b.Get(dead.Id)
		if err != nil {
			t.Fatal(err)
		}
		if r.GetStatus() == agentsv1.RunStatus_RUN_STATUS_INTERRUPTED {
			if r.GetError() != InterruptedError || r.GetFinishTime() == nil {
				t.Fatalf("interrupted run = %v", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dead replica's run is still RUNNING after 5s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r, _ := b.Get(live.Id); r.GetStatus() != agentsv1.RunStatus_RUN_STATUS_RUNNING {
		t.Fatalf("live replica's run = %v", r.GetStatus())
	}
}

// With the server down calls fail fast with ErrUnavailable and recover,
// without reopening, when it returns.
func TestPostgresRunsOutage(t *testing.T) {
	srv := pgtest.New(t)
	dsn, err := srv.CreateDatabase()
	if err != nil {
		t.Fatal(err)
	}
	s := openPG(t, dsn, time.Second)
	defer s.Close()
	r := &agentsv1.Run{Id: NewID(), Status: agentsv1.RunStatus_RUN_STATUS_SUCCEEDED}
	if err := s.Put(r); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	for range 6 {
		start := time.Now()
		if _, err := s.Get(r.Id); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("with the server down: %v, want ErrUnavailable", err)
		}
		if d := time.Since(start); d > 3500*time.Millisecond {
			t.Fatalf("took %v: not failing fast", d)
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := s.Get(r.Id)
		if err == nil && got.GetId() == r.Id {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not recovered 15s after the restart: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
