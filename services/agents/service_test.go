package agents

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/agents/ask"
	"github.com/pdfqa/pdfqa/services/agents/remote"
	"github.com/pdfqa/pdfqa/services/agents/runstore"
)

// downInference answers every call Unavailable, as an engine that is down.
type downInference struct {
	inferencev1.UnimplementedInferenceServiceServer
}

func (downInference) Generate(*inferencev1.GenerateRequest, grpc.ServerStreamingServer[inferencev1.GenerateResponse]) error {
	return status.Error(codes.Unavailable, "engine down")
}

func (downInference) CountTokens(context.Context, *inferencev1.CountTokensRequest) (*inferencev1.CountTokensResponse, error) {
	return nil, status.Error(codes.Unavailable, "engine down")
}

// upInference answers with a fixed cited sentence.
type upInference struct {
	inferencev1.UnimplementedInferenceServiceServer
}

func (upInference) Generate(_ *inferencev1.GenerateRequest, s grpc.ServerStreamingServer[inferencev1.GenerateResponse]) error {
	for _, d := range []string{"Free cash flow ", "was $181 million ", "[acme.pdf p.3]."} {
		if err := s.Send(&inferencev1.GenerateResponse{Delta: d}); err != nil {
			return err
		}
	}
	return s.Send(&inferencev1.GenerateResponse{FinishReason: inferencev1.FinishReason_FINISH_REASON_STOP})
}

func (upInference) CountTokens(_ context.Context, r *inferencev1.CountTokensRequest) (*inferencev1.CountTokensResponse, error) {
	return &inferencev1.CountTokensResponse{Count: int32(len(strings.Fields(r.Text))), ContextWindow: 2048}, nil
}

type fakeRetrieval struct {
	retrievalv1.UnimplementedRetrievalServiceServer
}

func (fakeRetrieval) Search(context.Context, *retrievalv1.SearchRequest) (*retrievalv1.SearchResponse, error) {
	return &retrievalv1.SearchResponse{Passages: []*retrievalv1.Passage{
		{ChunkId: "c2", DocumentId: "d1", DocumentName: "acme.pdf", Page: 3, Text: "Operating margin was 5% in the quarter. Free cash flow was $181 million."},
	}}, nil
}

// mesh starts agents over real gRPC with the given inference server and a
// fake retrieval, the downstreams dialed through the platform client factory.
func mesh(t *testing.T, inf inferencev1.InferenceServiceServer, dir string) (agentsv1.AgentsServiceClient, *Service) {
	t.Helper()
	return meshWith(t, inf, fakeRetrieval{}, dir)
}

// downstreams serves inf and ret over in-memory gRPC and returns the
// client factory's connections to them.
func downstreams(t *testing.T, inf inferencev1.InferenceServiceServer, ret retrievalv1.RetrievalServiceServer) (ic, rc *grpc.ClientConn) {
	t.Helper()
	infLis := testenv.ServeGRPC(t, func(g *grpc.Server) { inferencev1.RegisterInferenceServiceServer(g, inf) })
	retLis := testenv.ServeGRPC(t, func(g *grpc.Server) { retrievalv1.RegisterRetrievalServiceServer(g, ret) })
	f, err := client.NewFactory(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	ic, err = f.Conn(client.Downstream{Service: "inference", GRPCService: inferencev1.InferenceService_ServiceDesc.ServiceName, Address: "bufnet", DialOptions: []grpc.DialOption{testenv.BufDialer(infLis)}})
	if err != nil {
		t.Fatal(err)
	}
	rc, err = f.Conn(client.Downstream{Service: "retrieval", GRPCService: retrievalv1.RetrievalService_ServiceDesc.ServiceName, Address: "bufnet", DialOptions: []grpc.DialOption{testenv.BufDialer(retLis)}})
	if err != nil {
		t.Fatal(err)
	}
	return ic, rc
}

// meshWith is mesh with the given retrieval server.
func meshWith(t *testing.T, inf inferencev1.InferenceServiceServer, ret retrievalv1.RetrievalServiceServer, dir string) (agentsv1.AgentsServiceClient, *Service) {
	t.Helper()
	ic, rc := downstreams(t, inf, ret)
	svc, err := New(nil, &ask.Engine{LLM: remote.NewLLM(ic), Search: remote.NewSearcher(rc)}, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return agentsv1.NewAgentsServiceClient(testenv.GRPC(t, svc.Register)), svc
}

func askAll(t *testing.T, c agentsv1.AgentsServiceClient, req *agentsv1.AskRequest) (*agentsv1.Run, string, error) {
	t.Helper()
	return askCtx(context.Background(), t, c, req)
}

// askCtx asks c under ctx and reads the stream to its end: the last run it
// carried, the answer's deltas joined, and the error that ended it (nil at
// the stream's end).
func askCtx(ctx context.Context, t *testing.T, c agentsv1.AgentsServiceClient, req *agentsv1.AskRequest) (*agentsv1.Run, string, error) {
	t.Helper()
	st, err := c.Ask(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var run *agentsv1.Run
	var answer string
	err = client.Drain(st, func(ev *agentsv1.AskResponse) error {
		answer += ev.GetAnswerDelta()
		if r := ev.GetRun(); r != nil {
			run = r
		}
		return nil
	})
	return run, answer, err
}

func TestAskThroughGRPC(t *testing.T) {
	cases := []struct {
		name         string
		inf          inferencev1.InferenceServiceServer
		wantDegraded bool
	}{
		{"inference up", upInference{}, false},
		{"inference unavailable", downInference{}, true},
	}
	for i, c := range cases {
		cl, _ := mesh(t, c.inf, t.TempDir())
		run, streamed, err := askAll(t, cl, &agentsv1.AskRequest{Collection: "c", Question: "What was free cash flow?"})
		if err != nil {
			t.Fatalf("#%d %s: %v", i, c.name, err)
		}
		if run.GetDegraded() != c.wantDegraded || run.GetStatus() != agentsv1.RunStatus_RUN_STATUS_SUCCEEDED {
			t.Errorf("#%d %s: degraded %v status %v", i, c.name, run.GetDegraded(), run.GetStatus())
		}
		if !strings.Contains(streamed, "$181 million [acme.pdf p.3]") || len(run.GetCitations()) != 1 {
			t.Errorf("#%d %s: answer %q citations %v", i, c.name, streamed, run.GetCitations())
		}
		got, err := cl.GetRun(context.Background(), &agentsv1.GetRunRequest{RunId: run.GetId()})
		if err != nil || got.Run.GetAnswer() != run.GetAnswer() || len(got.Run.GetTimings()) != 4 {
			t.Errorf("#%d %s: GetRun %v %v", i, c.name, got, err)
		}
	}
}

func TestAskValidation(t *testing.T) {
	cl, _ := mesh(t, upInference{}, t.TempDir())
	_, _, err := askAll(t, cl, &agentsv1.AskRequest{Question: "x"})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("got %v, want InvalidArgument", err)
	}
	_, err = cl.GetRun(context.Background(), &agentsv1.GetRunRequest{RunId: "nope"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("got %v, want NotFound", err)
	}
}

func TestRunsPersistAndInterruptOnRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := runstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*agentsv1.Run{
		{Id: "r1", Status: agentsv1.RunStatus_RUN_STATUS_SUCCEEDED, Answer: "a", Scratchpad: "secret"},
		{Id: "r2", Status: agentsv1.RunStatus_RUN_STATUS_RUNNING},
	} {
		if err := s.Put(r); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	cl, _ := mesh(t, upInference{}, dir) // "restart"
	got, err := cl.GetRun(context.Background(), &agentsv1.GetRunRequest{RunId: "r2"})
	if err != nil || got.Run.Status != agentsv1.RunStatus_RUN_STATUS_INTERRUPTED || got.Run.Error != runstore.InterruptedError {
		t.Fatalf("r2 = %v, %v", got, err)
	}
	list, err := cl.ListRuns(context.Background(), &agentsv1.ListRunsRequest{})
	if err != nil || len(list.Runs) != 2 || list.Runs[0].Id != "r2" || list.Runs[1].Scratchpad != "" {
		t.Fatalf("list = %v, %v", list, err)
	}
}
