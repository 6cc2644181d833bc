package ask

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// TestDegradedAnswerCitesWithoutExtracts replays a sec-10-q question whose
// evidence (real passages, testdata/degraded-no-extracts.json) holds no
// sentence that scores as an extract for the question: with the model
// unavailable, the extractive answer must still cite the closest sentence,
// never say "the documents found do not answer" (it did in the evaluation
// of 2026-12-01).
func TestDegradedAnswerCitesWithoutExtracts(t *testing.T) {
	b, err := os.ReadFile("testdata/degraded-no-extracts.json")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Question string
		Passages []struct {
			Document string
			Page     int32
			Text     string
		}
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	var ps []*retrievalv1.Passage
	for i, p := range c.Passages {
		ps = append(ps, &retrievalv1.Passage{ChunkId: string(rune('a' + i)), DocumentId: p.Document, DocumentName: p.Document, Page: p.Page, Text: p.Text})
	}
	e := &Engine{LLM: &fakeLLM{err: unavailable}, Search: &fakeSearch{passages: ps}}
	r, _, err := run(t, e, &agentsv1.AskRequest{Collection: "c", Question: c.Question, Mode: agentsv1.AskMode_ASK_MODE_SINGLE_SHOT})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Degraded || len(r.Citations) == 0 || strings.Contains(r.Answer, "do not answer") {
		t.Fatalf("degraded %v answer %q citations %v", r.Degraded, r.Answer, r.Citations)
	}
}
