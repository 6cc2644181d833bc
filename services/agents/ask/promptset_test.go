package ask

import (
	"strings"
	"testing"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/services/agents/prompts"
)

// Engine.With runs one engine's questions with another prompt set, leaving
// the engine itself on its own.
func TestEngineWithPromptSet(t *testing.T) {
	terse, err := prompts.Lookup("v1-terse")
	if err != nil {
		t.Fatal(err)
	}
	llm := &fakeLLM{window: 2048, replies: []string{"Free cash flow was $181 million [acme-q1.pdf p.3].", "Free cash flow was $181 million [acme-q1.pdf p.3]."}}
	base := &Engine{LLM: llm, Search: &fakeSearch{passages: corpus()}}
	req := &agentsv1.AskRequest{Collection: "c", Question: "What was free cash flow?", IncludeScratchpad: true}
	r, _, err := run(t, base.With(terse), req)
	if err != nil {
		t.Fatal(err)
	}
	sys, user := llm.calls[0].Messages[0].Content, llm.calls[0].Messages[1].Content
	if !strings.HasPrefix(sys, "You answer questions from the evidence") || !strings.HasPrefix(user, "<documents>") ||
		!strings.Contains(user, "Answer the question in one sentence") || !strings.Contains(r.Scratchpad, "prompts: set v1-terse") {
		t.Errorf("v1-terse system message %q, user message %q", sys, user)
	}
	if _, _, err := run(t, base, req); err != nil {
		t.Fatal(err)
	}
	if sys := llm.calls[1].Messages[0].Content; !strings.HasPrefix(sys, "You answer questions") || base.Prompts != nil {
		t.Errorf("default system message %q", sys)
	}
}
