package ask

import (
	"strings"
	"testing"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// snowflake is what search returns for the demo question (`make demo`),
// cut from the Q1 fiscal 2023 call: the passages holding the answer and the
// guidance and targets paragraphs whose words overlap the question more.
func snowflake() []*retrievalv1.Passage {
	card := &retrievalv1.DocumentCard{Issuer: "Snowflake Inc.", FormType: "earnings call", FiscalPeriod: "Q1 2023"}
	name := "Q1 2023 Snowflake Inc. Earnings Call - Snowflake Inc - BamSEC.pdf"
	p := func(id string, page int32, text string) *retrievalv1.Passage {
		return &retrievalv1.Passage{ChunkId: id, DocumentId: "sf", DocumentName: name, Page: page, Text: text, DocumentCard: card}
	}
	return []*retrievalv1.Passage{
		p("targets", 5, "In advance of our Investor Day, I would like to update our fiscal year 2029 targets. For fiscal year 2029, we are reiterating our target for product revenue of $10 billion, growing 30% year-over-year. We are increasing our margin targets and now expect, on a non-GAAP basis, approximately 78% product gross margin; 20% operating margin; and 25% adjusted free cash flow margin."),
		p("guidance", 5, "Now let's turn to our guidance. For the second quarter, we expect product revenues between $435 million and $440 million, representing year-over-year growth between 71% and 73%. For the full year fiscal 2023, we expect product revenues between $1.885 billion and $1.9 billion, representing year-over-year growth between 65% and 67%."),
		p("ceo", 2, "Frank Slootman Snowflake Inc. – Chairman, President & CEO\nThanks, Jimmy, and good afternoon, everybody. Product revenue grew 84% year-on-year to $394 million. Remaining performance obligations grew 82% year-on-year to $2.6 billion. In the quarter, we added 16 Global 2000 customers."),
		p("cfo", 4, "Michael P. Scarpelli Snowflake Inc. – CFO\nThank you, Frank. Q1 product revenues were $394 million, representing 84% year-over-year growth, and remaining performance obligations grew 82% year-over-year, totaling $2.6 billion. Similar to last quarter, 5 of our top 10 customers' product revenue grew faster year-over-year than the overall company."),
	}
}

const demoQ = "How much did Snowflake product revenue grow in Q1 fiscal 2023?"

// The sentence chosen for the answer's backbone (and the extractive
// answer) is the result for the quarter asked, not the target for fiscal
// 2029 nor the full-year guidance, whose words overlap the question more:
// "grew" meets "grow", and sentences about another period or the future
// score lower.
func TestBackboneIsTheQuarterResultNotTheTarget(t *testing.T) {
	plan := onePlan(demoQ, SourceSimple)
	evs := Read(plan.SubQuestions[0], snowflake())
	bb := Backbone(plan, evs, 3)
	if len(bb) == 0 || !strings.Contains(bb[0].Text, "84%") {
		t.Fatalf("backbone %+v", bb)
	}
	for _, x := range bb {
		if strings.Contains(x.Text, "2029") || strings.Contains(x.Text, "full year") || strings.Contains(x.Text, "top 10 customers") {
			t.Errorf("backbone holds %q", x.Text)
		}
	}
	if got := Extractive(bb); strings.Contains(got, "2029") || !strings.Contains(got, "$394 million") {
		t.Errorf("extractive %q", got)
	}
}

func TestScoreUnitPeriodAndTense(t *testing.T) {
	qi := newQuery(demoQ)
	result := scoreUnit(qi, "Product revenue grew 84% year-on-year to $394 million.", "", 0)
	target := scoreUnit(qi, "For fiscal year 2029, we are reiterating our target for product revenue of $10 billion, growing 30% year-over-year.", "", 0)
	guide := scoreUnit(qi, "For the full year fiscal 2023, we expect product revenues between $1.885 billion and $1.9 billion, representing year-over-year growth between 65% and 67%.", "", 0)
	if !(result > target && result > guide) {
		t.Errorf("result %.2f, target %.2f, guidance %.2f", result, target, guide)
	}
	// The quarter of the call the question names is where the full-year figure was said.
	qc := newQuery("What is the implied gross margin for the full year that was disclosed on the Q3 2021 Snowflake Earnings call?")
	if qc.offPeriod("And the implied for the full year is 68%, but we're actually going to do 70% margin in Q4.") || len(qc.periods) != 0 {
		t.Errorf("a period naming the call is no period of the figure: %v", qc.periods)
	}
	// A comparison with an earlier period is about the period asked.
	if qi.offPeriod("Product revenue was $394 million, up from $214 million in Q1 fiscal 2022.") ||
		!qi.offPeriod("For the second quarter, we expect product revenues between $435 million and $440 million.") {
		t.Error("offPeriod: an earlier period is a comparison base; a later one is not the period asked")
	}
	same := func(a, b string) bool { return jaccard(terms(a), terms(b)) == 1 }
	if !same("revenue grew", "revenues grow") || !same("Apple’s revenues", "apple revenue") || !same("Revenue increased", "revenue increase") ||
		!same("companies", "company") || same("grew", "fell") {
		t.Errorf("terms: %v %v %v", terms("revenue grew"), terms("Apple’s revenues"), terms("Revenue increased"))
	}
	// A question about the future still finds guidance.
	qf := newQuery("What product revenue guidance did Snowflake give for the full year fiscal 2023?")
	if scoreUnit(qf, "For the full year fiscal 2023, we expect product revenues between $1.885 billion and $1.9 billion.", "", 0) <
		scoreUnit(qf, "Product revenue grew 84% year-on-year to $394 million.", "", 0) {
		t.Error("guidance question")
	}
}

// The demo end to end, with the answerer copying the target sentence as
// the 135M model did: the off-period sentence is dropped and the answer is
// the quarter's growth, cited.
func TestDemoAnswerIsTheQuarterGrowth(t *testing.T) {
	for _, draft := range []string{
		"For fiscal year 2029, we are reiterating our target for product revenue of $10 billion, growing 30% year-over-year [Q1 2023 Snowflake Inc. Earnings Call - Snowflake Inc - BamSEC.pdf p.5].",
		"Based on the data provided, Snowflake product revenue grew 84% year-on-year to $394 million, which is approximately 10.5% increase from Q1 2023 fiscal 2022.",
	} {
		llm := &fakeLLM{window: 4096, replies: []string{draft}}
		e := &Engine{LLM: llm, Search: &fakeSearch{passages: snowflake()}}
		r, _, err := run(t, e, &agentsv1.AskRequest{Collection: "demo", Question: demoQ, IncludeScratchpad: true})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r.Answer, "84%") || !strings.Contains(r.Answer, "$394 million") || strings.Contains(r.Answer, "2029") ||
			strings.Contains(r.Answer, "10.5%") || strings.Contains(r.Answer, "$1.885 billion") {
			t.Errorf("draft %q:\nanswer %q\n%s", draft, r.Answer, r.Scratchpad)
		}
		// The answerer reads the passage holding the answer first.
		user := llm.calls[len(llm.calls)-1].Messages[1].Content // the evidence is in the user message
		if i, j := strings.Index(user, "grew 84%"), strings.Index(user, "fiscal year 2029"); i < 0 || j < 0 || i > j {
			t.Errorf("evidence order in the prompt: 84%% at %d, 2029 at %d", i, j)
		}
	}
}

func TestVerifyKeepsTheCopiedClauseOfAnInventedTail(t *testing.T) {
	evs := []*agentsv1.Evidence{{Passage: snowflake()[2]}}
	kept, _, v := Verify("Snowflake product revenue grew 84% year-on-year to $394 million, which is approximately a 10.5% increase.", evs)
	want := "Snowflake product revenue grew 84% year-on-year to $394 million [Q1 2023 Snowflake Inc. Earnings Call - Snowflake Inc - BamSEC.pdf p.2]."
	if kept != want || v.Claims[0].Verdict == agentsv1.Verdict_VERDICT_UNSUPPORTED {
		t.Errorf("kept %q\nwant %q", kept, want)
	}
	// An invented figure in the lead itself is still removed.
	if kept, _, _ := Verify("Product revenue grew 95% to $500 million, which is a record.", evs); kept != "" {
		t.Errorf("kept %q", kept)
	}
}

func TestDropOffPeriod(t *testing.T) {
	draft := "Product revenue grew 84% [a.pdf p.2]. For fiscal year 2029 the target is $10 billion [a.pdf p.5]."
	kept, dropped := DropOffPeriod(demoQ, draft, true)
	if kept != "Product revenue grew 84% [a.pdf p.2]." || len(dropped) != 1 {
		t.Errorf("kept %q dropped %q", kept, dropped)
	}
	if kept, _ := DropOffPeriod(demoQ, draft, false); kept != draft {
		t.Error("without a backbone the draft is all there is")
	}
	if kept, _ := DropOffPeriod("What was revenue?", draft, true); kept != draft {
		t.Error("a question naming no period keeps every sentence")
	}
}
