package ask

import (
	"errors"
	"strings"
	"testing"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

// TestAblation checks that each step turned off (Engine.Without, for
// `pdfqa eval --ablate`) is really off: without the fan-out the planner
// plans and no search is restricted to one document; without the facts the
// model writes the answer (no series, no calculator); an unknown step is
// an invalid request.
func TestAblation(t *testing.T) {
	q := &agentsv1.AskRequest{Collection: "sec", Question: "How has Apple's total net sales changed over time?", IncludeScratchpad: true}

	search := secCorpus("")
	llm := &fakeLLM{window: 4096}
	e, err := (&Engine{LLM: llm, Search: search}).Without(StepFanOut)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := run(t, e, q)
	if err != nil {
		t.Fatal(err)
	}
	if r.Plan.Source == SourceDocuments || !strings.Contains(r.Scratchpad, "fan-out: off") {
		t.Errorf("fan-out off: plan source %v", r.Plan.Source)
	}

	llm = &fakeLLM{window: 4096, replies: []string{"Total net sales were $81,797 million [2023 Q3 AAPL.pdf p.4]."}}
	e, err = (&Engine{LLM: llm, Search: secCorpus("")}).Without(StepFacts)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err = run(t, e, q)
	if err != nil {
		t.Fatal(err)
	}
	if r.Plan.Source != SourceDocuments || len(llm.calls) == 0 || strings.Contains(r.Answer, "by period:") || strings.Contains(r.Answer, "Change from") {
		t.Errorf("facts off: plan %v, %d model calls, answer %q", r.Plan.Source, len(llm.calls), r.Answer)
	}

	if _, err := (&Engine{}).Without("calculator-typo"); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown step: %v", err)
	}
}
