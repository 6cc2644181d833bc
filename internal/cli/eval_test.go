package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/internal/evalfile"
	"github.com/pdfqa/pdfqa/platform/testenv"
	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
	"github.com/pdfqa/pdfqa/services/agents"
)

func TestPromptSetsFlag(t *testing.T) {
	got, err := promptSets(" v1, v1-fewshot ,v1")
	if err != nil || strings.Join(got, "|") != "v1|v1-fewshot" {
		t.Errorf("%q, %v", got, err)
	}
	if got, err := promptSets(""); err != nil || got != nil {
		t.Errorf("empty flag: %q, %v", got, err)
	}
	for _, bad := range []string{"nope", "v1,nope", ","} {
		if _, err := promptSets(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if err := commands["eval"].run(context.Background(), []string{"--questions", "q.csv", "--skip-ingest", "--prompt-set", "nope"}, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "v1-fewshot") {
		t.Errorf("runEval with an unknown set: %v (want a usage error listing the sets, before any mesh starts)", err)
	}
}

// recAgents answers every Ask with a run whose answer names the prompt set
// the call's metadata asked for.
type recAgents struct {
	agentsv1.UnimplementedAgentsServiceServer
	mu   sync.Mutex
	sets []string
}

func (r *recAgents) Ask(req *agentsv1.AskRequest, st grpc.ServerStreamingServer[agentsv1.AskResponse]) error {
	set := strings.Join(metadata.ValueFromIncomingContext(st.Context(), agents.PromptSetHeader), ",")
	r.mu.Lock()
	r.sets = append(r.sets, set)
	r.mu.Unlock()
	return st.Send(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_Run{Run: &agentsv1.Run{Id: "r", Answer: "set=" + set, Status: agentsv1.RunStatus_RUN_STATUS_SUCCEEDED}}})
}

// askEach sends the prompt set with every question and writes it into each
// result line, so that runs of two sets can be scored side by side.
func TestAskEachSendsThePromptSet(t *testing.T) {
	rec := &recAgents{}
	lis := testenv.ServeGRPC(t, func(g *grpc.Server) { agentsv1.RegisterAgentsServiceServer(g, rec) })
	// The SDK the command uses, over an in-memory connection to the recorder.
	ac, err := pdfqa.Dial(context.Background(), "bufnet", pdfqa.WithDialOptions(testenv.BufDialer(lis)))
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	out := filepath.Join(t.TempDir(), "r.v1-fewshot.jsonl")
	if err := askEach(context.Background(), ac, "c", nil, "v1-fewshot", []string{"a?", "b?"}, 2, out, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var res evalfile.Result
		if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, res.Question+" "+res.PromptSet+" "+res.Answer)
	}
	sort.Strings(lines)
	if strings.Join(lines, "|") != "a? v1-fewshot set=v1-fewshot|b? v1-fewshot set=v1-fewshot" {
		t.Errorf("results %q", lines)
	}
	// Without a set the call carries none: the service's own applies.
	if err := askEach(context.Background(), ac, "c", nil, "", []string{"a?"}, 1, out, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if rec.sets[len(rec.sets)-1] != "" {
		t.Errorf("sets sent %q", rec.sets)
	}
}

// busyAgents refuses the first asks of each question as a key over its
// concurrent-answer cap is refused, then answers.
type busyAgents struct {
	agentsv1.UnimplementedAgentsServiceServer
	mu      sync.Mutex
	refuse  int
	refused map[string]int
}

func (b *busyAgents) Ask(req *agentsv1.AskRequest, st grpc.ServerStreamingServer[agentsv1.AskResponse]) error {
	b.mu.Lock()
	n := b.refused[req.GetQuestion()]
	if n < b.refuse {
		b.refused[req.GetQuestion()] = n + 1
		b.mu.Unlock()
		return status.Error(codes.ResourceExhausted, "4 concurrent answers for key k already running; retry after 1s")
	}
	b.mu.Unlock()
	return st.Send(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_Run{Run: &agentsv1.Run{Id: "r", Answer: "ok", Status: agentsv1.RunStatus_RUN_STATUS_SUCCEEDED}}})
}

// An eval whose asks are refused for the key's cap (another eval on the same
// key) waits and asks again: every question is answered, none fails, and the
// client's circuit breaker does not open on the refusals (it did, and the
// rest of a run failed with "circuit breaker open").
func TestAskEachRetriesWhenTheKeyIsBusy(t *testing.T) {
	busy := &busyAgents{refuse: 2, refused: map[string]int{}}
	lis := testenv.ServeGRPC(t, func(g *grpc.Server) { agentsv1.RegisterAgentsServiceServer(g, busy) })
	ac, err := pdfqa.Dial(context.Background(), "bufnet", pdfqa.WithDialOptions(testenv.BufDialer(lis)))
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	qs := []string{"a?", "b?", "c?", "d?"}
	out := filepath.Join(t.TempDir(), "r.jsonl")
	var stdout strings.Builder
	if err := askEach(context.Background(), ac, "c", nil, "", qs, 4, out, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "4 questions, 0 failed") {
		t.Errorf("summary %q", stdout.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var res evalfile.Result
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatal(err)
		}
		if res.Answer != "ok" || res.Error != "" {
			t.Errorf("%s: answer %q error %q", res.Question, res.Answer, res.Error)
		}
	}
	for _, q := range qs {
		if busy.refused[q] != 2 {
			t.Errorf("%s refused %d times, want 2", q, busy.refused[q])
		}
	}
}
