package agents

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// downRetrieval fails every search.
type downRetrieval struct {
	retrievalv1.UnimplementedRetrievalServiceServer
}

func (downRetrieval) Search(context.Context, *retrievalv1.SearchRequest) (*retrievalv1.SearchResponse, error) {
	return nil, status.Error(codes.FailedPrecondition, "index missing")
}

// slowRetrieval answers no search until its caller gives up.
type slowRetrieval struct {
	retrievalv1.UnimplementedRetrievalServiceServer
	called chan struct{}
}

func (s slowRetrieval) Search(ctx context.Context, _ *retrievalv1.SearchRequest) (*retrievalv1.SearchResponse, error) {
	select {
	case s.called <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestRetrievalDownStoresFailedRun: the Ask is Unavailable, its last event
// the FAILED run, and the stored run says why.
func TestRetrievalDownStoresFailedRun(t *testing.T) {
	cl, _ := meshWith(t, upInference{}, downRetrieval{}, t.TempDir())
	run, _, err := askAll(t, cl, &agentsv1.AskRequest{Collection: "c", Question: "What was free cash flow?"})
	if status.Code(err) != codes.Unavailable || run.GetStatus() != agentsv1.RunStatus_RUN_STATUS_FAILED ||
		!strings.HasPrefix(run.GetError(), "retrieval failed for every sub-question") || !strings.Contains(status.Convert(err).Message(), run.GetError()) {
		t.Fatalf("err %v, run %v", err, run)
	}
	got, err := cl.GetRun(context.Background(), &agentsv1.GetRunRequest{RunId: run.GetId()})
	if err != nil || got.Run.GetStatus() != agentsv1.RunStatus_RUN_STATUS_FAILED || got.Run.GetError() != run.GetError() || got.Run.GetFinishTime() == nil {
		t.Fatalf("GetRun %v, %v", got, err)
	}
}

// TestCancelledAskStoresFailedRun: a client that goes away mid-run leaves
// the run stored FAILED with the context's error.
func TestCancelledAskStoresFailedRun(t *testing.T) {
	ret := slowRetrieval{called: make(chan struct{}, 1)}
	cl, _ := meshWith(t, upInference{}, ret, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := cl.Ask(ctx, &agentsv1.AskRequest{Collection: "c", Question: "What was free cash flow?", Mode: agentsv1.AskMode_ASK_MODE_SINGLE_SHOT})
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for id == "" {
		ev, err := st.Recv()
		if err != nil {
			t.Fatalf("before the plan: %v", err)
		}
		id = ev.GetRunId()
	}
	<-ret.called
	cancel()
	for {
		if _, err := st.Recv(); err != nil {
			break
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := cl.GetRun(context.Background(), &agentsv1.GetRunRequest{RunId: id})
		if err == nil && got.Run.GetStatus() == agentsv1.RunStatus_RUN_STATUS_FAILED {
			if got.Run.GetError() != context.Canceled.Error() || got.Run.GetFinishTime() == nil {
				t.Fatalf("run %v", got.Run)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %v, %v: not FAILED", got, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
