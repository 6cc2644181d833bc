package agents

import (
	"errors"
	"fmt"
	"testing"
	"time"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/services/agents/ask"
	"github.com/pdfqa/pdfqa/services/agents/runstore"
)

// PDFQA_RUN_RETENTION: 30 days by default, 0 keeps runs forever, anything
// but a non-negative duration is an error that names the setting.
func TestRunRetentionSetting(t *testing.T) {
	for v, want := range map[string]time.Duration{"": DefaultRunRetention, "0": 0, "36h": 36 * time.Hour} {
		env := map[string]string{}
		if v != "" {
			env["PDFQA_RUN_RETENTION"] = v
		}
		cfg, err := ReadConfig(config.NewReader(config.MapEnv(env)))
		if err != nil || cfg.RunRetention != want {
			t.Errorf("PDFQA_RUN_RETENTION=%q: %v, %v; want %v", v, cfg.RunRetention, err, want)
		}
	}
	for _, v := range []string{"30 days", "-1h"} {
		if _, err := ReadConfig(config.NewReader(config.MapEnv(map[string]string{"PDFQA_RUN_RETENTION": v}))); err == nil {
			t.Errorf("PDFQA_RUN_RETENTION=%q accepted", v)
		}
	}
}

// A service told to retain runs for 30 days purges an older run on its own
// and keeps a recent one; Close stops the loop.
func TestServiceRetainsRuns(t *testing.T) {
	runs, err := runstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	old := fmt.Sprintf("r%013d%08x", time.Now().Add(-31*24*time.Hour).UnixMilli(), 1)
	recent := runstore.NewID()
	for _, id := range []string{old, recent} {
		if err := runs.Put(&agentsv1.Run{Id: id, Status: agentsv1.RunStatus_RUN_STATUS_SUCCEEDED}); err != nil {
			t.Fatal(err)
		}
	}
	svc := NewWithRuns(nil, &ask.Engine{}, runs)
	svc.RetainRuns(DefaultRunRetention)
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := runs.Get(old); errors.Is(err, runstore.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the service did not purge a run older than its retention")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := runs.Get(recent); err != nil {
		t.Errorf("a recent run was purged: %v", err)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
}
