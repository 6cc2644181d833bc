package ask

import (
	"fmt"
	"strings"
	"testing"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

func TestParseRowForms(t *testing.T) {
	cases := []struct {
		unit  string
		label string
		path  string
		cells string // value@header-date/span, ...
	}{
		{"Total net sales 94,836 97,278 211,990 221,223", "Total net sales", "", "94,836M 97,278M 211,990M 221,223M"},
		{"Net sales: — Total net sales: 94,836; 97,278", "Total net sales", "", "94,836M 97,278M"},
		{"Products and Services Performance (in millions) — Net sales by category › iPhone (1): Three Months Ended December 31, 2022 $65,775; Three Months Ended December 25, 2021 $71,628; Change (8)%",
			"iPhone (1)", "net sales by category", "$65,775M@2022-12-31/three months $71,628M@2021-12-25/three months −8%@"},
		{"Other income/(expense), net 64 160 (329) (87)", "Other income/(expense), net", "", "64M 160M −329M −87M"},
	}
	for _, c := range cases {
		r, ok := ParseRow(c.unit, 1e6, "")
		if !ok {
			t.Errorf("%q: not a row", c.unit)
			continue
		}
		var cells []string
		for _, x := range r.Cells {
			s := x.Value.String()
			if x.Header != "" {
				s += "@"
				if !x.End.IsZero() {
					s += x.End.Format("2006-01-02") + "/" + x.Span
				}
			}
			cells = append(cells, s)
		}
		if r.Label != c.label || r.Path != c.path || strings.Join(cells, " ") != c.cells {
			t.Errorf("%q:\n got %q %q %q\nwant %q %q %q", c.unit, r.Label, r.Path, cells, c.label, c.path, c.cells)
		}
	}
	for _, notRow := range []string{"Product revenue grew 84% year-on-year to $394 million.", "Net sales:", "2022", "Apple Inc. | Q2 2023 Form 10-Q | 1 2"} {
		if r, ok := ParseRow(notRow, 1, ""); ok && !strings.Contains(notRow, "|") {
			t.Errorf("%q read as row %+v", notRow, r)
		}
	}
}

func TestLabelScorePrefersTheNamedRow(t *testing.T) {
	m := measureTerms("Apple's total net sales", terms("apple"))
	if !(labelScore(m, "Total net sales", "") > labelScore(m, "Percentage of total net sales", "")) || labelScore(m, "Products", "") >= 0.5 {
		t.Error("total net sales")
	}
	m = measureTerms("Apple's Services segment revenue", terms("apple"))
	if !(labelScore(m, "Services", "net sales by category") > labelScore(m, "Services", "cost of sales")) {
		t.Error("services under net sales must beat services under cost of sales")
	}
	m = measureTerms("Amazon's AWS (Amazon Web Services) segment revenue", terms("amazon"))
	if labelScore(m, "Net sales", "aws") < 0.5 {
		t.Errorf("AWS › Net sales scores %v", labelScore(m, "Net sales", "aws"))
	}
}

// tenQ is a 10-Q's statement of operations passage: the quarter's column
// first, headers per cell, as the retrieval service writes table rows.
func tenQ(doc Doc, page int32, rows map[string][2]string, prior string) *retrievalv1.Passage {
	end := doc.End.Format("January 2, 2006")
	var b strings.Builder
	for _, label := range []string{"Products", "Services", "Total net sales", "Total cost of sales"} {
		v, ok := rows[label]
		if !ok {
			continue
		}
		b.WriteString("Condensed Consolidated Statements of Operations (in millions) — Net sales › " + label +
			": Three Months Ended " + end + " " + v[0] + "; Three Months Ended " + prior + " " + v[1] + "\n")
	}
	return &retrievalv1.Passage{ChunkId: doc.ID + "-ops", DocumentId: doc.ID, DocumentName: doc.Name, Page: page, Text: b.String(),
		Kind: retrievalv1.PassageKind_PASSAGE_KIND_TABLE, DocumentCard: doc.Card}
}

// secCorpus is a collection of the 8 dev 10-Qs with their statements of
// operations, a prose passage each, and a lister.
func secCorpus(restated string) *fakeLister {
	docs := secDocs()
	sales := map[string][2]string{
		"2022 Q3 AAPL.pdf": {"$82,959", "$81,434"}, "2023 Q1 AAPL.pdf": {"$117,154", "$123,945"},
		"2023 Q2 AAPL.pdf": {"$94,836", "$97,278"}, "2023 Q3 AAPL.pdf": {"$81,797", "$82,959"},
		"2022 Q3 AMZN.pdf": {"$127,101", "$110,812"}, "2023 Q1 AMZN.pdf": {"$127,358", "$116,444"},
		"2023 Q2 AMZN.pdf": {"$134,383", "$121,234"}, "2023 Q3 AMZN.pdf": {"$143,083", "$127,101"},
	}
	priorEnd := map[string]string{
		"2022 Q3 AAPL.pdf": "June 26, 2021", "2023 Q1 AAPL.pdf": "December 25, 2021", "2023 Q2 AAPL.pdf": "March 26, 2022",
		"2023 Q3 AAPL.pdf": "June 25, 2022", "2022 Q3 AMZN.pdf": "September 30, 2021", "2023 Q1 AMZN.pdf": "March 31, 2022",
		"2023 Q2 AMZN.pdf": "June 30, 2022", "2023 Q3 AMZN.pdf": "September 30, 2022",
	}
	if restated != "" {
		v := sales["2023 Q3 AAPL.pdf"]
		sales["2023 Q3 AAPL.pdf"] = [2]string{v[0], restated}
	}
	f := &fakeLister{fakeSearch: &fakeSearch{}}
	for _, d := range docs {
		f.docs = append(f.docs, &retrievalv1.Document{Id: d.ID, Name: d.Name, State: retrievalv1.DocumentState_DOCUMENT_STATE_READY, Card: d.Card})
		s := sales[d.Name]
		f.passages = append(f.passages,
			tenQ(d, 4, map[string][2]string{"Products": {"$60,000", "$59,000"}, "Services": {"$20,000", "$19,000"}, "Total net sales": s, "Total cost of sales": {"$50,000", "$49,000"}}, priorEnd[d.Name]),
			&retrievalv1.Passage{ChunkId: d.ID + "-md", DocumentId: d.ID, DocumentName: d.Name, Page: 20, DocumentCard: d.Card,
				Text: "Total net sales decreased or increased during the quarter compared to the same quarter a year ago due primarily to foreign currency."})
	}
	return f
}

// A question over time fans out one search per matching document, each
// restricted to it, and answers with each filing's own row in period order
// and the calculator's steps, without the model.
func TestFanOutOneSearchPerDocumentInPeriodOrder(t *testing.T) {
	search := secCorpus("")
	llm := &fakeLLM{window: 4096}
	e := &Engine{LLM: llm, Search: search}
	r, _, err := run(t, e, &agentsv1.AskRequest{Collection: "sec", Question: "How has Apple's total net sales changed over time?", IncludeScratchpad: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Plan.Source != SourceDocuments || len(r.Plan.SubQuestions) != 4 {
		t.Fatalf("plan %v", r.Plan)
	}
	// One sub-question per Apple 10-Q, each searched in its document only.
	searched := map[string]int{}
	for _, req := range search.requests() {
		if len(req.DocumentIDs) != 1 {
			t.Errorf("search %q not restricted to one document: %v", req.Query, req.DocumentIDs)
			continue
		}
		searched[req.DocumentIDs[0]]++
	}
	for _, id := range []string{"2022-Q3-AAPL", "2023-Q1-AAPL", "2023-Q2-AAPL", "2023-Q3-AAPL"} {
		if searched[id] == 0 {
			t.Errorf("no search of %s", id)
		}
	}
	if len(searched) != 4 {
		t.Errorf("searched documents %v, want the 4 Apple 10-Qs only", searched)
	}
	want := strings.Join([]string{
		"Total net sales (Apple Inc.), by period:",
		"Q3 2022 (period ended June 25, 2022): Total net sales $82,959 million [2022 Q3 AAPL.pdf p.4].",
		"Q1 2023 (period ended December 31, 2022): Total net sales $117,154 million [2023 Q1 AAPL.pdf p.4].",
		"Q2 2023 (period ended April 1, 2023): Total net sales $94,836 million [2023 Q2 AAPL.pdf p.4].",
		"Q3 2023 (period ended July 1, 2023): Total net sales $81,797 million [2023 Q3 AAPL.pdf p.4].",
		"Change from Q3 2022 [2022 Q3 AAPL.pdf p.4] to Q1 2023 [2023 Q1 AAPL.pdf p.4]: $117,154M − $82,959M = +$34,195M (+41.2%).",
		"Change from Q1 2023 [2023 Q1 AAPL.pdf p.4] to Q2 2023 [2023 Q2 AAPL.pdf p.4]: $94,836M − $117,154M = −$22,318M (−19.1%).",
		"Change from Q2 2023 [2023 Q2 AAPL.pdf p.4] to Q3 2023 [2023 Q3 AAPL.pdf p.4]: $81,797M − $94,836M = −$13,039M (−13.7%).",
		"Change from Q3 2022 [2022 Q3 AAPL.pdf p.4] to Q3 2023 [2023 Q3 AAPL.pdf p.4]: $81,797M − $82,959M = −$1,162M (−1.4%).",
		"Documents: Apple Inc. Form 10-Q, Q3 2022; Apple Inc. Form 10-Q, Q1 2023; Apple Inc. Form 10-Q, Q2 2023; Apple Inc. Form 10-Q, Q3 2023.",
	}, "\n")
	if r.Answer != want {
		t.Errorf("answer:\n%s\nwant:\n%s", r.Answer, want)
	}
	if len(llm.calls) != 0 {
		t.Errorf("%d model calls; the figures answer alone", len(llm.calls))
	}
	if len(r.Citations) != 4 || r.Verification.GetSupportScore() != 1 || len(r.Verification.GetClaims()) != 8 {
		t.Errorf("citations %v, verification %v", r.Citations, r.Verification)
	}
	if !strings.Contains(r.Scratchpad, "calculator: $94,836M − $117,154M = −$22,318M (−19.1%) (operands Q1 2023 [2023 Q1 AAPL.pdf p.4], Q2 2023 [2023 Q2 AAPL.pdf p.4])") ||
		!strings.Contains(r.Scratchpad, "router: series question") {
		t.Errorf("scratchpad:\n%s", r.Scratchpad)
	}
	// Each document got its share of the packed context, in period order.
	var order []string
	for _, p := range r.Passages {
		if len(order) == 0 || order[len(order)-1] != p.DocumentName {
			order = append(order, p.DocumentName)
		}
	}
	if strings.Join(order, "|") != "2022 Q3 AAPL.pdf|2023 Q1 AAPL.pdf|2023 Q2 AAPL.pdf|2023 Q3 AAPL.pdf" {
		t.Errorf("packed passages by document %v", order)
	}
}

// Without a lister the router reads the cards of a first search spread
// over the documents.
func TestFanOutFromSearchCards(t *testing.T) {
	search := secCorpus("").fakeSearch
	e := &Engine{LLM: &fakeLLM{window: 4096}, Search: search}
	r, _, err := run(t, e, &agentsv1.AskRequest{Collection: "sec", Question: "How has Amazon's total net sales changed over time?"})
	if err != nil {
		t.Fatal(err)
	}
	first := search.requests()[0]
	if first.MaxPerDocument != 1 || len(first.DocumentIDs) != 0 {
		t.Errorf("first search %+v, want one passage per document", first)
	}
	if !strings.Contains(r.Answer, "Q1 2023 (period ended March 31, 2023): Total net sales $127,358 million [2023 Q1 AMZN.pdf p.4].") ||
		!strings.Contains(r.Answer, "$143,083M − $127,101M = +$15,982M (+12.6%)") {
		t.Errorf("answer %q", r.Answer)
	}
}

// A later filing that restates the prior-year figure: both figures are
// reported with their citations instead of one being picked.
func TestConflictingFiguresAreSurfaced(t *testing.T) {
	e := &Engine{LLM: &fakeLLM{window: 4096}, Search: secCorpus("$83,100")}
	r, _, err := run(t, e, &agentsv1.AskRequest{Collection: "sec", Question: "How has Apple's total net sales changed over time?", IncludeScratchpad: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "Q3 2022 (period ended June 25, 2022): Total net sales $82,959 million [2022 Q3 AAPL.pdf p.4], but another filing reports $83,100 million [2023 Q3 AAPL.pdf p.4] for the same period (restated?)."
	if !strings.Contains(r.Answer, want) {
		t.Errorf("answer:\n%s\nwant a line %q", r.Answer, want)
	}
	if !strings.Contains(r.Scratchpad, "conflict: $83,100M [2023 Q3 AAPL.pdf p.4] differs from $82,959M [2022 Q3 AAPL.pdf p.4]") {
		t.Errorf("scratchpad:\n%s", r.Scratchpad)
	}
	// Without the restatement, the same rows agree: no conflict.
	r, _, _ = run(t, &Engine{LLM: &fakeLLM{window: 4096}, Search: secCorpus("")}, &agentsv1.AskRequest{Collection: "sec", Question: "How has Apple's total net sales changed over time?"})
	if strings.Contains(r.Answer, "another filing") {
		t.Errorf("false conflict: %s", r.Answer)
	}
}

func TestFindConflictsAcrossDocumentsOnly(t *testing.T) {
	docs := secDocs()
	ev := func(d Doc, text string) *agentsv1.Evidence {
		return &agentsv1.Evidence{Passage: &retrievalv1.Passage{DocumentId: d.ID, DocumentName: d.Name, Page: 4, Text: text, DocumentCard: d.Card}}
	}
	a, b := docs[0], docs[6] // 2022 Q3 and 2023 Q3 AAPL
	evs := []*agentsv1.Evidence{
		// One filing prints "Services" in net sales and in cost of sales: not a conflict.
		ev(a, "(in millions) — Net sales › Services: Three Months Ended June 25, 2022 $19,604\n(in millions) — Cost of sales › Services: Three Months Ended June 25, 2022 $5,589"),
		// A later filing's prior-year column differs from the earlier filing's own: a conflict.
		ev(b, "(in millions) — Net sales › Services: Three Months Ended July 1, 2023 $21,213; Three Months Ended June 25, 2022 $19,700"),
	}
	figs := Figures(measureTerms("services", nil), false, evs)
	cs := FindConflicts(figs, map[string]Doc{a.ID: a, b.ID: b})
	if len(cs) != 1 || cs[0].End.Format("2006-01-02") != "2022-06-25" || len(cs[0].Figs) != 2 {
		t.Fatalf("conflicts %+v", cs)
	}
	want := "The sources differ on Services for the period ended June 25, 2022: $19,604 million [2022 Q3 AAPL.pdf p.4] vs $19,700 million [2023 Q3 AAPL.pdf p.4]; a later filing may have restated it."
	if got := cs[0].Sentence(); got != want {
		t.Errorf("%q\nwant %q", got, want)
	}
}

// A question comparing two periods in one filing's row: the calculator
// takes the current and prior-year columns.
func TestYearOverYearFromOneRow(t *testing.T) {
	docs := secDocs()
	d := docs[4] // 2023 Q2 AAPL
	search := &fakeSearch{passages: []*retrievalv1.Passage{tenQ(d, 4, map[string][2]string{"Total net sales": {"$94,836", "$97,278"}}, "March 26, 2022")}}
	e := &Engine{LLM: &fakeLLM{window: 4096, replies: []string{"Total net sales were $94,836 million [2023 Q2 AAPL.pdf p.4]."}}, Search: search}
	r, _, err := run(t, e, &agentsv1.AskRequest{Collection: "sec", Question: "How did Apple's total net sales change year over year?"})
	if err != nil {
		t.Fatal(err)
	}
	want := "Total net sales: Change from three months ended March 26, 2022 [2023 Q2 AAPL.pdf p.4] to three months ended April 1, 2023 [2023 Q2 AAPL.pdf p.4]: $94,836M − $97,278M = −$2,442M (−2.5%)."
	if !strings.Contains(r.Answer, want) {
		t.Errorf("answer %q\nwant %q", r.Answer, want)
	}
}

func TestPackFairGivesEachDocumentItsShare(t *testing.T) {
	mk := func(doc string, n, words int) []*agentsv1.Evidence {
		var out []*agentsv1.Evidence
		for i := range n {
			out = append(out, &agentsv1.Evidence{Passage: &retrievalv1.Passage{ChunkId: doc + string(rune('a'+i)), DocumentId: doc, DocumentName: doc + ".pdf", Page: int32(i + 1),
				Text: strings.Repeat(fmt.Sprintf("%s%dtoken word ", doc, i), words/2)}})
		}
		return out
	}
	// Document a's passages are long and first in rank: greedy packing would give them the window.
	lists := [][]*agentsv1.Evidence{mk("a", 4, 40), mk("b", 4, 10), mk("c", 4, 10)}
	pk := Packer{LLM: &fakeLLM{window: 200}, AnswerTokens: 20, MaxPassages: 6}.PackFair(t.Context(), lists, "x")
	per := map[string]int{}
	var order []string
	for _, ev := range pk.Evidence {
		per[ev.Passage.DocumentId]++
		order = append(order, ev.Passage.DocumentId)
	}
	if per["a"] < 1 || per["b"] < 1 || per["c"] < 1 || pk.Tokens > pk.Budget || len(pk.Evidence) > 6 {
		t.Fatalf("per document %v, %d/%d tokens, %d passages", per, pk.Tokens, pk.Budget, len(pk.Evidence))
	}
	if !strings.HasPrefix(strings.Join(order, ""), "a") || strings.Join(order, "") != strings.Repeat("a", per["a"])+strings.Repeat("b", per["b"])+strings.Repeat("c", per["c"]) {
		t.Errorf("order %v: want grouped by document in list order", order)
	}
}

// A question naming one quarter searches only that quarter's filings.
func TestOnePeriodQuestionSearchesItsDocument(t *testing.T) {
	search := secCorpus("")
	e := &Engine{LLM: &fakeLLM{window: 4096, replies: []string{"Total net sales were $134,383 million [2023 Q2 AMZN.pdf p.4]."}}, Search: search}
	r, _, err := run(t, e, &agentsv1.AskRequest{Collection: "sec", Question: "What were Amazon's total net sales in Q2 2023?"})
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range search.requests() {
		if len(req.DocumentIDs) != 1 || req.DocumentIDs[0] != "2023-Q2-AMZN" {
			t.Errorf("search %q in %v, want only 2023-Q2-AMZN", req.Query, req.DocumentIDs)
		}
	}
	if !strings.Contains(r.Answer, "$134,383 million [2023 Q2 AMZN.pdf p.4]") {
		t.Errorf("answer %q", r.Answer)
	}
}

// A filing whose first search missed its row is searched again for the
// row the other filings' figures came from, in its own period's column.
func TestSeriesSecondLookFindsTheMissingRow(t *testing.T) {
	docs := secDocs()
	q2, q3 := docs[4], docs[6]
	prose := &retrievalv1.Passage{ChunkId: "q3-prose", DocumentId: q3.ID, DocumentName: q3.Name, Page: 20, DocumentCard: q3.Card,
		Text: "What was Apple's total net sales in Q3 2023, the period ended July 1, 2023? It reflects lower net sales of Mac."}
	search := &fakeLister{fakeSearch: &fakeSearch{rank: true, passages: []*retrievalv1.Passage{
		tenQ(q2, 4, map[string][2]string{"Total net sales": {"$94,836", "$97,278"}}, "March 26, 2022"),
		prose,
		tenQ(q3, 4, map[string][2]string{"Total net sales": {"$81,797", "$82,959"}}, "June 25, 2022"),
	}}}
	for _, d := range []Doc{q2, q3} {
		search.docs = append(search.docs, &retrievalv1.Document{Id: d.ID, Name: d.Name, State: retrievalv1.DocumentState_DOCUMENT_STATE_READY, Card: d.Card})
	}
	e := &Engine{LLM: &fakeLLM{window: 4096}, Search: search, TopK: 1}
	r, _, err := run(t, e, &agentsv1.AskRequest{Collection: "sec", Question: "How has Apple's total net sales changed over time?", IncludeScratchpad: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Answer, "Q3 2023 (period ended July 1, 2023): Total net sales $81,797 million [2023 Q3 AAPL.pdf p.4].") ||
		!strings.Contains(r.Answer, "$81,797M − $94,836M = −$13,039M (−13.7%)") {
		t.Errorf("answer:\n%s\n%s", r.Answer, r.Scratchpad)
	}
	if !strings.Contains(r.Scratchpad, `series: no figure in 2023 Q3 AAPL.pdf; searched it again for "Total net sales three months ended July 1, 2023": 1 more passages`) {
		t.Errorf("scratchpad:\n%s", r.Scratchpad)
	}
}

// "By what percentage did X grow quarter over quarter": the operands are
// the quarters' amounts (read from prose here) and the calculator gives
// the percentages; a lone call of another company is no part of the series.
func TestQuarterOverQuarterGrowthFromProse(t *testing.T) {
	f := &fakeLister{fakeSearch: &fakeSearch{}}
	for i, x := range []struct{ name, issuer, fp, end, text string }{
		{"Q1 2023 Snowflake Inc. Earnings Call.pdf", "Snowflake Inc.", "Q1 2023", "2022-04-30", "Q1 product revenues were $394 million, representing 84% year-over-year growth."},
		{"Q2 2023 Snowflake Inc. Earnings Call.pdf", "Snowflake Inc.", "Q2 2023", "2022-07-31", "Q2 product revenue was $466 million, up 83% year-over-year."},
		{"Q3 2023 Snowflake Inc. Earnings Call.pdf", "Snowflake Inc.", "Q3 2023", "2022-10-31", "Q3 product revenues were $523 million, representing 67% year-over-year growth. Net revenue retention was 165%."},
		{"Q3 FY23 Microsoft Corp Earnings Call.pdf", "Microsoft", "Q3 FY2023", "2023-03-31", "Product revenue grew 17% and was $16 billion."},
	} {
		id := fmt.Sprintf("d%d", i)
		card := &retrievalv1.DocumentCard{Issuer: x.issuer, FiscalPeriod: x.fp, PeriodEnd: x.end}
		f.docs = append(f.docs, &retrievalv1.Document{Id: id, Name: x.name, State: retrievalv1.DocumentState_DOCUMENT_STATE_READY, Card: card})
		f.passages = append(f.passages, &retrievalv1.Passage{ChunkId: id, DocumentId: id, DocumentName: x.name, Page: 2, Text: x.text, DocumentCard: card})
	}
	r, _, err := run(t, &Engine{LLM: &fakeLLM{window: 4096}, Search: f}, &agentsv1.AskRequest{Collection: "ec",
		Question: "By what percentage did product revenue grow, quarter over quarter, in fiscal year 2023?"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Product revenue, by period:",
		"Q2 2023 (period ended July 31, 2022): $466 million [Q2 2023 Snowflake Inc. Earnings Call.pdf p.2].",
		"$466M − $394M = +$72M (+18.3%)",
		"$523M − $466M = +$57M (+12.2%)",
	} {
		if !strings.Contains(r.Answer, want) {
			t.Errorf("answer lacks %q:\n%s", want, r.Answer)
		}
	}
	if strings.Contains(r.Answer, "Microsoft") || strings.Contains(r.Answer, "165%") {
		t.Errorf("answer:\n%s", r.Answer)
	}
}

// Without a fan-out too: two cited passages that give one row different
// figures for one period are both reported.
func TestConflictOutsideASeries(t *testing.T) {
	row := func(id, v string) *retrievalv1.Passage {
		return &retrievalv1.Passage{ChunkId: id, DocumentId: id, DocumentName: id + ".pdf", Page: 4, Kind: retrievalv1.PassageKind_PASSAGE_KIND_TABLE,
			Text: "Statements of Operations (in millions) — Net sales › Total net sales: Three Months Ended June 25, 2022 " + v + "; Three Months Ended June 26, 2021 $81,434"}
	}
	search := &fakeSearch{passages: []*retrievalv1.Passage{row("report-a", "$82,959"), row("report-b", "$83,100")}}
	e := &Engine{LLM: &fakeLLM{window: 4096, replies: []string{"Total net sales were $82,959 million [report-a.pdf p.4]."}}, Search: search}
	r, _, err := run(t, e, &agentsv1.AskRequest{Collection: "c", Question: "What were total net sales in the three months ended June 25, 2022?", IncludeScratchpad: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "The sources differ on Total net sales for the period ended June 25, 2022: $82,959 million [report-a.pdf p.4] vs $83,100 million [report-b.pdf p.4]; a later filing may have restated it."
	if !strings.Contains(r.Answer, want) || !strings.Contains(r.Scratchpad, "conflict: "+want) {
		t.Errorf("answer %q\nwant %q", r.Answer, want)
	}
	cited := map[string]bool{}
	for _, c := range r.Citations {
		cited[c.Document] = true
	}
	if !cited["report-a.pdf"] || !cited["report-b.pdf"] {
		t.Errorf("citations %v", r.Citations)
	}
}
