package ask

import (
	"strings"
	"testing"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// docs are four Apple and four Amazon 10-Qs, as the dev set has them.
func secDocs() []Doc {
	var out []Doc
	for _, x := range []struct{ name, issuer, fp, end string }{
		{"2022 Q3 AAPL.pdf", "Apple Inc.", "Q3 2022", "2022-06-25"},
		{"2022 Q3 AMZN.pdf", "Amazon.com, Inc.", "Q3 2022", "2022-09-30"},
		{"2023 Q1 AAPL.pdf", "Apple Inc.", "Q1 2023", "2022-12-31"},
		{"2023 Q1 AMZN.pdf", "Amazon.com, Inc.", "Q1 2023", "2023-03-31"},
		{"2023 Q2 AAPL.pdf", "Apple Inc.", "Q2 2023", "2023-04-01"},
		{"2023 Q2 AMZN.pdf", "Amazon.com, Inc.", "Q2 2023", "2023-06-30"},
		{"2023 Q3 AAPL.pdf", "Apple Inc.", "Q3 2023", "2023-07-01"},
		{"2023 Q3 AMZN.pdf", "Amazon.com, Inc.", "Q3 2023", "2023-09-30"},
	} {
		id := strings.ReplaceAll(strings.TrimSuffix(x.name, ".pdf"), " ", "-")
		out = append(out, NewDoc(id, x.name, &retrievalv1.DocumentCard{Issuer: x.issuer, FormType: "10-Q", FiscalPeriod: x.fp, PeriodEnd: x.end}))
	}
	return out
}

func TestChooseRoutesByCards(t *testing.T) {
	docs := secDocs()
	cases := []struct {
		q    string
		fan  bool
		want string // document names in order; "" for no route
	}{
		{"How has Apple's total net sales changed over time?", true, "2022 Q3 AAPL|2023 Q1 AAPL|2023 Q2 AAPL|2023 Q3 AAPL"},
		{"How has Amazon's total net sales changed over time?", true, "2022 Q3 AMZN|2023 Q1 AMZN|2023 Q2 AMZN|2023 Q3 AMZN"},
		{"Compare Apple's net sales in Q1 2023 and Q2 2023", true, "2023 Q1 AAPL|2023 Q2 AAPL"},
		{"What was Apple's iPhone revenue each quarter of 2023?", true, "2023 Q1 AAPL|2023 Q2 AAPL|2023 Q3 AAPL"},
		{"Does Apple report any acquisitions in these 10-Qs?", true, "2022 Q3 AAPL|2023 Q1 AAPL|2023 Q2 AAPL|2023 Q3 AAPL"},
		{"What is the effective tax rate in Apple's most recent 10-Q?", false, "2023 Q3 AAPL"},
		{"What were Amazon's net sales in Q2 2023?", false, "2023 Q2 AMZN"},
		{"What was Apple's net sales in the quarter ended April 1, 2023?", false, "2023 Q2 AAPL"},
		{"What is a 10-Q?", false, ""},
	}
	for _, c := range cases {
		r, ok := Choose(c.q, docs, 8)
		var got []string
		for _, d := range r.Docs {
			got = append(got, strings.TrimSuffix(d.Name, ".pdf"))
		}
		if strings.Join(got, "|") != c.want || (ok && r.Fan != c.fan) || ok != (c.want != "") {
			t.Errorf("%q: %q fan=%v ok=%v (%s), want %q fan=%v", c.q, got, r.Fan, ok, r.Reason, c.want, c.fan)
		}
	}
	// The cap keeps the most recent documents.
	r, _ := Choose("How have net sales changed over time?", docs, 3)
	if len(r.Docs) != 3 || r.Docs[2].Name != "2023 Q3 AMZN.pdf" || r.Docs[0].Name != "2023 Q2 AMZN.pdf" {
		t.Errorf("capped fan-out %v", r.Docs)
	}
}

func TestFanQuestion(t *testing.T) {
	d := secDocs()[0]
	cases := map[string]string{
		"How has Apple's total net sales changed over time?":                                                                                               "What was Apple's total net sales in Q3 2022 (period ended June 25, 2022)?",
		"What is the effective tax rate reported by Apple in these quarters and how does it compare across the periods?":                                   "What is the effective tax rate in Q3 2022 (period ended June 25, 2022)?",
		"Can any trends be identified in Apple's Services segment revenue over the reported periods?":                                                      "What was Apple's Services segment revenue in Q3 2022 (period ended June 25, 2022)?",
		"Has there been any significant change in Apple's operating expenses over the reported quarters? If so, what are the key drivers for this change?": "What was Apple's operating expenses in Q3 2022 (period ended June 25, 2022)?",
	}
	for q, want := range cases {
		if got := FanQuestion(q, d); got != want {
			t.Errorf("%q:\n got %q\nwant %q", q, got, want)
		}
	}
}

func TestFanPlanScopesEachSubQuestion(t *testing.T) {
	r, _ := Choose("How has Apple's total net sales changed over time?", secDocs(), 8)
	plan, scope := FanPlan("How has Apple's total net sales changed over time?", r)
	if plan.Source != SourceDocuments || len(plan.SubQuestions) != 4 {
		t.Fatalf("plan %v", plan)
	}
	for i, sq := range plan.SubQuestions {
		if ids := scope[sq.Id]; len(ids) != 1 || ids[0] != r.Docs[i].ID {
			t.Errorf("%s scope %v, want [%s]", sq.Id, ids, r.Docs[i].ID)
		}
	}
}
