package ask

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

var unavailable = status.Error(codes.Unavailable, "inference: breaker open")

func TestIsSimple(t *testing.T) {
	cases := []struct {
		q    string
		want bool
	}{
		{"How much did product revenue grow in Q1 Fiscal 2023?", true},
		{"What was revenue and operating margin in Q1?", true},
		{"Compare product revenue in Q1 with Q2", false},
		{"What was revenue? What was margin?", false},
		{"What was revenue in Q1 and how did margin change?", false},
	}
	for i, c := range cases {
		if got := IsSimple(c.q); got != c.want {
			t.Errorf("#%d: IsSimple(%q) = %v, want %v", i, c.q, got, c.want)
		}
	}
}

func TestPlannerSimpleSkipsModel(t *testing.T) {
	llm := &fakeLLM{}
	plan, _ := Planner{LLM: llm}.Plan(context.Background(), "What was free cash flow?", 4)
	if len(llm.calls) != 0 || len(plan.SubQuestions) != 1 || plan.Source != SourceSimple {
		t.Fatalf("got %d calls, plan %v", len(llm.calls), plan)
	}
}

func TestPlannerValidJSON(t *testing.T) {
	llm := &fakeLLM{replies: []string{`{"sub_questions":[{"id":"q1","question":"What was Q1 product revenue?","depends_on":[]},{"id":"q2","question":"What was Q2 product revenue?","depends_on":["q1"]}]}`}}
	plan, _ := Planner{LLM: llm}.Plan(context.Background(), "Compare product revenue in Q1 with Q2", 4)
	if plan.Source != SourceModel || len(plan.SubQuestions) != 2 || plan.SubQuestions[1].DependsOn[0] != "q1" {
		t.Fatalf("plan = %v", plan)
	}
	if llm.calls[0].JSONSchema == "" {
		t.Errorf("planner did not constrain output with a JSON schema")
	}
}

func TestPlannerRepairThenHeuristic(t *testing.T) {
	cases := []struct {
		replies    []string
		wantSource string
		wantCalls  int
	}{
		{[]string{`{"sub_questions":[`, `{"sub_questions":[{"id":"q1","question":"Q1 product revenue?","depends_on":[]}]}`}, SourceModel, 2},
		{[]string{`not json`, `{"sub_questions":[{"id":"q1","question":"x","depends_on":["q9"]}]}`}, SourceHeuristic, 2},
		{[]string{`{"sub_questions":[{"id":"a","question":"one two","depends_on":["b"]},{"id":"b","question":"three four","depends_on":["a"]}]}`, `{}`}, SourceHeuristic, 2},
	}
	for i, c := range cases {
		llm := &fakeLLM{replies: c.replies}
		plan, _ := Planner{LLM: llm}.Plan(context.Background(), "Compare product revenue in Q1 with Q2", 4)
		if plan.Source != c.wantSource || len(llm.calls) != c.wantCalls {
			t.Errorf("#%d: source %q after %d calls, want %q after %d", i, plan.Source, len(llm.calls), c.wantSource, c.wantCalls)
		}
		if c.wantSource == SourceHeuristic && len(plan.SubQuestions) != 2 {
			t.Errorf("#%d: heuristic plan %v, want two sub-questions", i, plan.SubQuestions)
		}
	}
	// Model down: straight to the heuristic after one call.
	llm := &fakeLLM{err: unavailable}
	plan, _ := Planner{LLM: llm}.Plan(context.Background(), "What was revenue? What was margin?", 4)
	if plan.Source != SourceHeuristic || len(plan.SubQuestions) != 2 || len(llm.calls) != 1 {
		t.Fatalf("plan %v after %d calls", plan, len(llm.calls))
	}
}

func TestHeuristicPlan(t *testing.T) {
	cases := []struct {
		q    string
		want []string
	}{
		{"What was revenue? What was margin?", []string{"What was revenue?", "What was margin?"}},
		{"Compare product revenue in Q1 2023 with Q2 2023", []string{"What was product revenue in Q1 2023?", "What was product revenue in Q2 2023?"}},
		{"What was revenue in Q1 and how did margin change?", []string{"What was revenue in Q1?", "how did margin change?"}},
		{"What was revenue?", []string{"What was revenue?"}},
	}
	for i, c := range cases {
		plan := HeuristicPlan(c.q, 4)
		var got []string
		for _, sq := range plan.SubQuestions {
			got = append(got, sq.Question)
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("#%d: got %q, want %q", i, got, c.want)
		}
	}
}

func TestPackRespectsBudgetAndDedups(t *testing.T) {
	evs := []*agentsv1.Evidence{}
	for _, p := range corpus() {
		evs = append(evs, &agentsv1.Evidence{Passage: p})
	}
	all := Interleave([][]*agentsv1.Evidence{evs[:2], evs[2:]})
	if len(all) != 3 { // c4 repeats c3's text
		t.Fatalf("interleave kept %d, want 3", len(all))
	}
	if all[1].Passage.ChunkId != "c3" {
		t.Errorf("interleave order: second is %s, want c3", all[1].Passage.ChunkId)
	}
	// Window 60 − answer 20 − overhead 5 = 35 tokens: c1 (~22) fits, c3 (~15) does not, c2 (~12) does.
	llm := &fakeLLM{window: 60}
	pk := Packer{LLM: llm, AnswerTokens: 20}.Pack(context.Background(), all, "one two three four five")
	if !pk.Exact || pk.Tokens > pk.Budget || pk.Budget != 35 {
		t.Fatalf("packed %d/%d exact=%v", pk.Tokens, pk.Budget, pk.Exact)
	}
	for _, ev := range pk.Evidence {
		if ev.Passage.ChunkId == "c3" {
			t.Errorf("c3 packed beyond budget")
		}
	}
	// CountTokens down: chars/4 estimate.
	pk = Packer{LLM: &fakeLLM{noCount: true}, AnswerTokens: 20, DefaultWindow: 100}.Pack(context.Background(), all, "x")
	if pk.Exact || pk.Tokens > pk.Budget || len(pk.Evidence) == 0 {
		t.Fatalf("estimate: packed %d/%d exact=%v n=%d", pk.Tokens, pk.Budget, pk.Exact, len(pk.Evidence))
	}
}

func TestReadExtractsAnsweringSentence(t *testing.T) {
	sq := &agentsv1.SubQuestion{Id: "q1", Question: "How much did product revenue grow in the first quarter?"}
	evs := Read(sq, corpus()[:2])
	if len(evs[0].Extracts) == 0 || !strings.Contains(evs[0].Extracts[0], "84%") {
		t.Fatalf("extracts %q", evs[0].Extracts)
	}
	best := BestExtracts(sq.Question, evs, 1)
	if len(best) != 1 || best[0].Label != "[acme-q1.pdf p.2]" {
		t.Fatalf("best %v", best)
	}
}

func TestVerifyRemovesUnsupportedNumber(t *testing.T) {
	evs := []*agentsv1.Evidence{{Passage: corpus()[0]}, {Passage: corpus()[1]}}
	answer := "Product revenue grew 84% year-on-year to $394 million [acme-q1.pdf p.2]. Product revenue grew 95% to $500 million [acme-q1.pdf p.2]. Free cash flow was $181 million."
	kept, cites, v := Verify(answer, evs)
	if strings.Contains(kept, "95%") || !strings.Contains(kept, "84%") {
		t.Errorf("kept %q", kept)
	}
	if !strings.Contains(kept, "$181 million [acme-q1.pdf p.3]") {
		t.Errorf("uncited claim was not given its page: %q", kept)
	}
	if len(v.Claims) != 3 || v.Claims[1].Verdict != agentsv1.Verdict_VERDICT_UNSUPPORTED {
		t.Fatalf("claims %v", v.Claims)
	}
	if v.SupportScore < 0.6 || v.SupportScore > 0.7 || len(cites) != 2 {
		t.Errorf("support %v, %d citations", v.SupportScore, len(cites))
	}
}

func TestSplitClaimsKeepsDottedLabels(t *testing.T) {
	got := SplitClaims("Revenue rose 5% [Acme Inc. Call.pdf p.2] Margin fell [Acme Inc. Call.pdf p.3].")
	if len(got) != 2 || !strings.HasSuffix(got[0], "[Acme Inc. Call.pdf p.2].") {
		t.Fatalf("%q", got)
	}
}

func run(t *testing.T, e *Engine, req *agentsv1.AskRequest) (*agentsv1.Run, []*agentsv1.AskResponse, error) {
	t.Helper()
	r := &agentsv1.Run{Id: "r1", Status: agentsv1.RunStatus_RUN_STATUS_RUNNING}
	var events []*agentsv1.AskResponse
	err := e.Invoke(context.Background(), req, r, Sink{Emit: func(ev *agentsv1.AskResponse) error { events = append(events, ev); return nil }})
	return r, events, err
}

func TestAgenticAnswerWithCitations(t *testing.T) {
	llm := &fakeLLM{window: 2048, replies: []string{"Product revenue grew 84% [acme-q1.pdf p.2]. It grew 200% [acme-q1.pdf p.2]."}}
	e := &Engine{LLM: llm, Search: &fakeSearch{passages: corpus()}}
	r, events, err := run(t, e, &agentsv1.AskRequest{Collection: "c", Question: "How much did product revenue grow in the first quarter?", IncludeScratchpad: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != agentsv1.RunStatus_RUN_STATUS_SUCCEEDED || r.Degraded {
		t.Fatalf("status %v degraded %v", r.Status, r.Degraded)
	}
	if !strings.Contains(r.Answer, "$394 million") || strings.Contains(r.Answer, "200%") {
		t.Errorf("answer %q", r.Answer)
	}
	if len(r.Citations) == 0 || r.Citations[0].Document != "acme-q1.pdf" || r.Citations[0].Page != 2 {
		t.Errorf("citations %v", r.Citations)
	}
	if r.Verification == nil || len(r.Passages) == 0 || r.Scratchpad == "" || len(r.Timings) != 4 {
		t.Errorf("verification %v passages %d scratchpad %q timings %v", r.Verification, len(r.Passages), r.Scratchpad, r.Timings)
	}
	var streamed string
	for _, ev := range events {
		streamed += ev.GetAnswerDelta()
	}
	if streamed != r.Answer || events[len(events)-1].GetRun() == nil {
		t.Errorf("streamed %q, answer %q", streamed, r.Answer)
	}
}

func TestDegradedWhenInferenceUnavailable(t *testing.T) {
	e := &Engine{LLM: &fakeLLM{err: unavailable}, Search: &fakeSearch{passages: corpus()}}
	r, _, err := run(t, e, &agentsv1.AskRequest{Collection: "c", Question: "How much did product revenue grow in the first quarter?"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Degraded || r.Status != agentsv1.RunStatus_RUN_STATUS_SUCCEEDED || !strings.Contains(r.Answer, "84%") || len(r.Citations) == 0 {
		t.Fatalf("degraded %v status %v answer %q citations %v", r.Degraded, r.Status, r.Answer, r.Citations)
	}
}

func TestPartialAnswerWhenOneSubQuestionFails(t *testing.T) {
	e := &Engine{LLM: &fakeLLM{err: unavailable}, Search: &fakeSearch{passages: corpus(), failOn: "cash"}}
	r, _, err := run(t, e, &agentsv1.AskRequest{Collection: "c", Question: "How much did product revenue grow in the first quarter? What was free cash flow?"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != agentsv1.RunStatus_RUN_STATUS_SUCCEEDED || !strings.Contains(r.Answer, "Not found in the documents: What was free cash flow?") ||
		!strings.Contains(r.Error, "partial answer") || !strings.Contains(r.Answer, "84%") {
		t.Fatalf("status %v answer %q error %q", r.Status, r.Answer, r.Error)
	}
	if r.SubAnswers[1].Status != agentsv1.SubQuestionStatus_SUB_QUESTION_STATUS_FAILED {
		t.Errorf("sub-answers %v", r.SubAnswers)
	}
}

func TestRetrievalDownFailsRun(t *testing.T) {
	e := &Engine{LLM: &fakeLLM{}, Search: &fakeSearch{err: status.Error(codes.Unavailable, "retrieval: breaker open")}}
	r, events, err := run(t, e, &agentsv1.AskRequest{Collection: "c", Question: "What was free cash flow?"})
	if !errors.Is(err, ErrRetrieval) || r.Status != agentsv1.RunStatus_RUN_STATUS_FAILED || !strings.Contains(r.Error, "retrieval failed") {
		t.Fatalf("err %v status %v error %q", err, r.Status, r.Error)
	}
	if events[len(events)-1].GetRun().GetStatus() != agentsv1.RunStatus_RUN_STATUS_FAILED {
		t.Errorf("last event %v", events[len(events)-1])
	}
}

func TestSingleShotStreamsLive(t *testing.T) {
	llm := &fakeLLM{window: 2048, replies: []string{"Free cash flow was $181 million [acme-q1.pdf p.3]."}}
	e := &Engine{LLM: llm, Search: &fakeSearch{passages: corpus()}}
	r, events, err := run(t, e, &agentsv1.AskRequest{Collection: "c", Question: "What was free cash flow?", Mode: agentsv1.AskMode_ASK_MODE_SINGLE_SHOT})
	if err != nil {
		t.Fatal(err)
	}
	var streamed string
	for _, ev := range events {
		streamed += ev.GetAnswerDelta()
	}
	if r.Verification != nil || len(r.Timings) != 3 || !strings.Contains(streamed, "$181 million") || len(llm.calls) != 1 {
		t.Fatalf("verification %v timings %v streamed %q calls %d", r.Verification, r.Timings, streamed, len(llm.calls))
	}
}

// TestDegradedAnswerCitesEvenWeakEvidence checks that when the model is
// unavailable and no sentence scores high enough to be required, the
// extractive answer still gives the best sentences of the evidence, cited,
// instead of saying the documents do not answer.
func TestDegradedAnswerCitesEvenWeakEvidence(t *testing.T) {
	e := &Engine{LLM: &fakeLLM{err: unavailable}, Search: &fakeSearch{passages: corpus()}}
	r, _, err := run(t, e, &agentsv1.AskRequest{Collection: "c", Question: "Summarise what was said about customers on the call"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Degraded || len(r.Citations) == 0 || strings.Contains(r.Answer, "do not answer") {
		t.Fatalf("degraded %v answer %q citations %v", r.Degraded, r.Answer, r.Citations)
	}
}

// TestUncitedDraftGetsACitedSentence checks that a model draft without any
// citation label is completed with the best evidence sentence, cited.
func TestUncitedDraftGetsACitedSentence(t *testing.T) {
	e := &Engine{LLM: &fakeLLM{replies: []string{"Nothing notable was said."}}, Search: &fakeSearch{passages: corpus()}}
	r, _, err := run(t, e, &agentsv1.AskRequest{Collection: "c", Question: "Summarise what was said about customers on the call", Mode: agentsv1.AskMode_ASK_MODE_SINGLE_SHOT})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Citations) == 0 || !strings.HasPrefix(r.Answer, "Nothing notable was said.") {
		t.Fatalf("answer %q citations %v", r.Answer, r.Citations)
	}
}

// TestLabelledUnsupportedDraftGetsACitedSentence checks single-shot: a draft
// that carries a label but whose every claim matches no evidence (so the
// verifier finds no citation) is completed with the best evidence sentence,
// cited, and the addition is streamed too.
func TestLabelledUnsupportedDraftGetsACitedSentence(t *testing.T) {
	draft := "The company reported a wide range of matters that may affect it [nowhere.pdf p.9]."
	e := &Engine{LLM: &fakeLLM{replies: []string{draft}}, Search: &fakeSearch{passages: corpus()}}
	r, events, err := run(t, e, &agentsv1.AskRequest{Collection: "c", Question: "Summarise what was said about customers on the call", Mode: agentsv1.AskMode_ASK_MODE_SINGLE_SHOT})
	if err != nil {
		t.Fatal(err)
	}
	var streamed string
	for _, ev := range events {
		streamed += ev.GetAnswerDelta()
	}
	if len(r.Citations) == 0 || !strings.HasPrefix(r.Answer, draft) || len(r.Answer) <= len(draft) || streamed != r.Answer {
		t.Fatalf("answer %q streamed %q citations %v", r.Answer, streamed, r.Citations)
	}
}

// TestUnknownCollectionIsNotFound: a collection the caller has none of (or
// another tenant's) is NotFound, not "retrieval unavailable".
func TestUnknownCollectionIsNotFound(t *testing.T) {
	e := &Engine{LLM: &fakeLLM{}, Search: &fakeSearch{err: fmt.Errorf("%w: collection \"x\"", ErrNotFound)}}
	r, _, err := run(t, e, &agentsv1.AskRequest{Collection: "x", Question: "What was free cash flow?"})
	if !errors.Is(err, ErrNotFound) || errors.Is(err, ErrRetrieval) || r.Status != agentsv1.RunStatus_RUN_STATUS_FAILED {
		t.Fatalf("err %v status %v", err, r.Status)
	}
}
