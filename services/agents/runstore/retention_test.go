package runstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/platform/pgtest"
)

// idAt is a NewID of a run started at t.
func idAt(t time.Time, i int) string { return fmt.Sprintf("r%013d%08x", t.UnixMilli(), i) }

// Purge deletes the runs started before the cutoff — the finished ones,
// never one still RUNNING nor one whose id is not a NewID — in both
// stores; Retain does it on its own.
func TestPurgeOldRuns(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) Runs{
		"file": func(t *testing.T) Runs {
			s, err := Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"postgres": func(t *testing.T) Runs { return openPG(t, pgtest.DSN(t), time.Second) },
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			now := time.Now()
			old, recent := now.Add(-40*24*time.Hour), now.Add(-time.Hour)
			runs := []*agentsv1.Run{
				{Id: idAt(old, 1), Status: agentsv1.RunStatus_RUN_STATUS_SUCCEEDED, Question: "old, done"},
				{Id: idAt(old, 2), Status: agentsv1.RunStatus_RUN_STATUS_FAILED, Question: "old, failed"},
				{Id: idAt(old, 3), Status: agentsv1.RunStatus_RUN_STATUS_RUNNING, Question: "old, still running"},
				{Id: idAt(recent, 4), Status: agentsv1.RunStatus_RUN_STATUS_SUCCEEDED, Question: "recent"},
				{Id: "legacy-run", Status: agentsv1.RunStatus_RUN_STATUS_SUCCEEDED, Question: "not a NewID"},
			}
			for _, r := range runs {
				if err := s.Put(r); err != nil {
					t.Fatal(err)
				}
			}
			p := s.(Purger)
			n, err := p.Purge(context.Background(), now.Add(-30*24*time.Hour))
			if err != nil || n != 2 {
				t.Fatalf("Purge = %d, %v; want the 2 old finished runs", n, err)
			}
			for _, r := range runs[:2] {
				if _, err := s.Get(r.Id); !errors.Is(err, ErrNotFound) {
					t.Errorf("purged run %q: %v, want ErrNotFound", r.Question, err)
				}
			}
			var left []string
			ls, err := s.List(100, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range ls {
				left = append(left, r.Question)
			}
			slices.Sort(left)
			if want := []string{"not a NewID", "old, still running", "recent"}; !slices.Equal(left, want) {
				t.Errorf("runs after the purge: %q, want %q", left, want)
			}
			if n, err := p.Purge(context.Background(), now.Add(-30*24*time.Hour)); err != nil || n != 0 {
				t.Errorf("second Purge = %d, %v; want 0", n, err)
			}

			// Retain with a keep of 30 minutes purges the recent run at its
			// first pass (it started an hour ago).
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { Retain(ctx, s, 30*time.Minute, time.Hour, slog.New(slog.DiscardHandler)); close(done) }()
			deadline := time.Now().Add(time.Minute)
			for {
				if _, err := s.Get(runs[3].Id); errors.Is(err, ErrNotFound) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("Retain did not purge a run older than its keep")
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			<-done
			if _, err := s.Get(runs[2].Id); err != nil {
				t.Errorf("Retain purged a RUNNING run: %v", err)
			}
		})
	}
}
