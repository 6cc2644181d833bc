package ask

import (
	"errors"
	"strings"
	"testing"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

func user(text string) *agentsv1.Turn {
	return &agentsv1.Turn{Role: agentsv1.TurnRole_TURN_ROLE_USER, Text: text}
}

func assistant(text string) *agentsv1.Turn {
	return &agentsv1.Turn{Role: agentsv1.TurnRole_TURN_ROLE_ASSISTANT, Text: text}
}

func TestResolveFollowUp(t *testing.T) {
	q3 := []*agentsv1.Turn{user("What were Apple's total net sales in Q3 2023?"), assistant("$81.8 billion [apple-q3.pdf p.4].")}
	for _, c := range []struct {
		name    string
		history []*agentsv1.Turn
		q, want string
		changed bool
	}{
		{"prior quarter", q3, "And in the prior quarter?", "What were Apple's total net sales in Q2 2023?", true},
		{"previous year", q3, "and the previous year?", "What were Apple's total net sales in Q3 2022?", true},
		{"quarter before Q1 is Q4 of the year before", []*agentsv1.Turn{user("What was revenue in Q1 FY2024?")}, "And the prior quarter?", "What was revenue in Q4 2023?", true},
		{"a period of its own", q3, "What about Q1 2023?", "What were Apple's total net sales in Q1 2023?", true},
		{"words stay words", []*agentsv1.Turn{user("How much did product revenue grow in the second quarter?")}, "And in the prior quarter?",
			"How much did product revenue grow in the first quarter?", true},
		{"a new subject is added to the prior one", q3, "What about services?", "What were Apple's total net sales in Q3 2023, services?", true},
		{"a short question leans on the prior one", q3, "Services?", "What were Apple's total net sales in Q3 2023, Services?", true},
		{"a question of its own", q3, "What was Microsoft's operating income in 2024?", "What was Microsoft's operating income in 2024?", false},
		{"no history", nil, "And in the prior quarter?", "And in the prior quarter?", false},
		{"only answers in the history", []*agentsv1.Turn{assistant("Q3 2023 net sales were $81.8 billion.")}, "And in the prior quarter?", "And in the prior quarter?", false},
		{"the latest user turn counts", append([]*agentsv1.Turn{user("What was free cash flow in 2022?")}, q3...), "And the prior year?",
			"What were Apple's total net sales in Q3 2022?", true},
		{"no period to shift", []*agentsv1.Turn{user("What were total net sales?")}, "And in the prior quarter?", "What were total net sales, in the prior quarter?", true},
	} {
		got, changed := ResolveFollowUp(c.q, c.history)
		if got != c.want || changed != c.changed {
			t.Errorf("%s: ResolveFollowUp(%q) = %q, %v; want %q, %v", c.name, c.q, got, changed, c.want, c.changed)
		}
	}
}

func TestValidateHistory(t *testing.T) {
	req := func(h ...*agentsv1.Turn) *agentsv1.AskRequest {
		return &agentsv1.AskRequest{Collection: "c", Question: "And in the prior quarter?", History: h}
	}
	if err := Validate(req(user("What was revenue in Q3 2023?"), assistant("$10 [a.pdf p.1]"))); err != nil {
		t.Errorf("a valid history: %v", err)
	}
	many := make([]*agentsv1.Turn, MaxHistoryTurns+1)
	for i := range many {
		many[i] = user("q")
	}
	big := strings.Repeat("x", MaxHistoryTurnBytes)
	for _, c := range []struct {
		name string
		h    []*agentsv1.Turn
		want string
	}{
		{"too many turns", many, "history has 33 turns; at most 32"},
		{"no role", []*agentsv1.Turn{{Text: "hi"}}, "history[0]: role must be"},
		{"a turn too long", []*agentsv1.Turn{user("ok"), assistant(big + "x")}, "history[1] is longer than 4000 bytes"},
		{"too long in all", []*agentsv1.Turn{user(big), assistant(big), user(big), assistant(big), user("x")}, "history is 16001 bytes; at most 16000"},
	} {
		err := Validate(req(c.h...))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want ErrInvalid saying %q", c.name, err, c.want)
		}
	}
}

// TestFollowUpAskedWithHistory checks that the run searches and answers the
// resolved question: the prior turn asked about the second quarter, the
// follow-up about the quarter before it, so the answer is the first
// quarter's figure.
func TestFollowUpAskedWithHistory(t *testing.T) {
	search := &fakeSearch{passages: corpus(), rank: true}
	e := &Engine{LLM: &fakeLLM{err: unavailable}, Search: search}
	r, _, err := run(t, e, &agentsv1.AskRequest{Collection: "c", Question: "And in the prior quarter?", IncludeScratchpad: true,
		History: []*agentsv1.Turn{user("How much did product revenue grow in the second quarter?"), assistant("It grew 79% [acme-q2.pdf p.4].")}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Answer, "84%") || strings.Contains(r.Answer, "79%") || len(r.Citations) == 0 || r.Citations[0].Document != "acme-q1.pdf" {
		t.Errorf("answer %q citations %v; want the first quarter's 84%% from acme-q1.pdf", r.Answer, r.Citations)
	}
	searched := false
	for _, req := range search.reqs {
		searched = searched || strings.Contains(req.Query, "product revenue grow in the first quarter")
	}
	if !searched {
		t.Errorf("searches %+v: none for the resolved question", search.reqs)
	}
	if !strings.Contains(r.Scratchpad, `read as "How much did product revenue grow in the first quarter?"`) {
		t.Errorf("scratchpad does not say how the follow-up was read:\n%s", r.Scratchpad)
	}
	if q := NewRun("r2", &agentsv1.AskRequest{Question: "And in the prior quarter?", History: []*agentsv1.Turn{user("What was revenue in Q2?")}}).Question; q != "And in the prior quarter?" {
		t.Errorf("a run records the question %q; want what was asked", q)
	}
}
