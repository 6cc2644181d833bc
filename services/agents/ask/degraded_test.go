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

// TestClaimNamingItsFilingIsCited replays a single-shot answer of the
// sec-10-q evaluation (real passages and cards,
// testdata/single-shot-names-the-filing.json) that copied its evidence word
// for word after "Amazon's Q3 2022 10-Q reported the following:" and came
// back without a citation: the "10" of "10-Q" and the "2022" are the
// filing's, written on its card, not the passage's text. A claim's figures
// that name the document it cites are supported by that document.
func TestClaimNamingItsFilingIsCited(t *testing.T) {
	b, err := os.ReadFile("testdata/single-shot-names-the-filing.json")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Question, Draft string
		Passages        []struct {
			Document string
			Page     int32
			Text     string
			Card     *struct {
				Title, Issuer, Period, Summary string
				FormType                       string `json:"form_type"`
				PeriodEnd                      string `json:"period_end"`
				FiscalPeriod                   string `json:"fiscal_period"`
			}
		}
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	var ps []*retrievalv1.Passage
	for i, p := range c.Passages {
		ps = append(ps, &retrievalv1.Passage{ChunkId: string(rune('a' + i)), DocumentId: p.Document, DocumentName: p.Document, Page: p.Page, Text: p.Text,
			DocumentCard: &retrievalv1.DocumentCard{Title: p.Card.Title, Issuer: p.Card.Issuer, FormType: p.Card.FormType, Period: p.Card.Period,
				PeriodEnd: p.Card.PeriodEnd, FiscalPeriod: p.Card.FiscalPeriod, Summary: p.Card.Summary}})
	}
	e := &Engine{LLM: &fakeLLM{window: 8192, replies: []string{c.Draft}}, Search: &fakeSearch{passages: ps}}
	r, _, err := run(t, e, &agentsv1.AskRequest{Collection: "c", Question: c.Question, Mode: agentsv1.AskMode_ASK_MODE_SINGLE_SHOT})
	if err != nil {
		t.Fatal(err)
	}
	// cited as written: the claim itself is supported, so no evidence
	// sentence is appended to give the answer a citation
	if len(r.Citations) == 0 || r.Citations[0].Page != 27 || !strings.Contains(r.Answer, "Documents: Amazon.com, Inc. Form 10-Q, Q3 2022") ||
		strings.Count(r.Answer, "The increase in fulfillment costs") != 1 {
		t.Fatalf("answer %q citations %v", r.Answer, r.Citations)
	}
}
