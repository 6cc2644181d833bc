package agents

import (
	"context"
	"testing"
	"time"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/agents/ask"
	"github.com/pdfqa/pdfqa/services/agents/remote"
	"github.com/pdfqa/pdfqa/services/agents/runstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// replica starts one agents replica over gRPC whose runs are in the shared
// store at dsn.
func replica(t *testing.T, dsn string) agentsv1.AgentsServiceClient {
	t.Helper()
	ic, rc := downstreams(t, upInference{}, fakeRetrieval{})
	runs, err := runstore.OpenRuns(context.Background(), t.TempDir(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := NewWithRuns(nil, &ask.Engine{LLM: remote.NewLLM(ic), Search: remote.NewSearcher(rc)}, runs)
	t.Cleanup(func() { _ = svc.Close() })
	return agentsv1.NewAgentsServiceClient(testenv.GRPC(t, svc.Register))
}

// A run asked on replica A is read, and listed, through replica B (each
// with its own data directory: the runs live only on the shared server).
func TestGetRunAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := replica(t, dsn), replica(t, dsn)
	run, _, err := askAll(t, a, &agentsv1.AskRequest{Collection: "c", Question: "What was free cash flow?"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := b.GetRun(ctx, &agentsv1.GetRunRequest{RunId: run.GetId()})
	if err != nil {
		t.Fatalf("GetRun through B: %v", err)
	}
	if got.GetRun().GetAnswer() != run.GetAnswer() || got.GetRun().GetStatus() != agentsv1.RunStatus_RUN_STATUS_SUCCEEDED {
		t.Fatalf("GetRun through B = %v, want %v", got.GetRun(), run)
	}
	ls, err := b.ListRuns(ctx, &agentsv1.ListRunsRequest{})
	if err != nil || len(ls.GetRuns()) != 1 || ls.GetRuns()[0].GetId() != run.GetId() {
		t.Fatalf("ListRuns through B = %v, %v", ls, err)
	}
}
