package card

import (
	"strings"
	"testing"

	"github.com/pdfqa/pdfqa/services/retrieval/parse"
)

func page(lines ...string) parse.Page {
	var ls []parse.Line
	for i, l := range lines {
		h := 10.0
		if i == 0 {
			h = 20 // the first line in the largest type
		}
		y := float64(20 + 30*i)
		ls = append(ls, parse.Line{Text: l, Box: parse.Rect{X0: 40, Y0: y, X1: 400, Y1: y + h}})
	}
	return parse.Page{Number: 1, Lines: ls, Text: strings.Join(lines, "\n")}
}

func TestDeriveFiling(t *testing.T) {
	doc := &parse.Document{Metadata: parse.Metadata{Title: "0000320193-22-000070"}, Pages: []parse.Page{page(
		"UNITED STATES SECURITIES AND EXCHANGE COMMISSION", "FORM 10-Q",
		"☒ QUARTERLY REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF 1934",
		"For the quarterly period ended June 25, 2022", "ACME WIDGETS, INC.",
		"(Exact name of Registrant as specified in its charter)")}}
	got := Derive(doc, "filing.pdf", []string{"Acme Widgets, Inc. | Q3 2022 Form 10-Q | 1"})
	want := Card{Title: "Acme Widgets, Inc. Form 10-Q", Issuer: "Acme Widgets, Inc.", FormType: "10-Q",
		Period: "quarterly period ended June 25, 2022", PeriodEnd: "2022-06-25", FiscalPeriod: "Q3 2022",
		Summary: "Acme Widgets, Inc. · Form 10-Q · Q3 2022 · quarterly period ended June 25, 2022"}
	if got != want {
		t.Fatalf("\n%+v\nwant\n%+v", got, want)
	}
	// no fiscal quarter stated anywhere: the calendar quarter of the period end
	got = Derive(doc, "filing.pdf", nil)
	if got.FiscalPeriod != "calendar Q2 2022" {
		t.Fatalf("fiscal period %q", got.FiscalPeriod)
	}
}

func TestDeriveTranscriptAndPaper(t *testing.T) {
	call := &parse.Document{Pages: []parse.Page{page("Microsoft FY23 Third Quarter Earnings Conference Call",
		"Safe harbor: see our Form 10-K for the fiscal year ended June 30, 2022.")}}
	got := Derive(call, "call.pdf", nil)
	if got.Issuer != "Microsoft" || got.FormType != "earnings call" || got.FiscalPeriod != "Q3 FY2023" || got.Period != "" ||
		got.Summary != "Microsoft · earnings call · Q3 FY2023" {
		t.Fatalf("%+v", got)
	}
	paper := &parse.Document{Metadata: parse.Metadata{Title: "Microsoft Word - draft7.docx"},
		Pages: []parse.Page{page("Attention Is All You Need", "Abstract", "The dominant sequence transduction models are based on ...")}}
	got = Derive(paper, "1706.03762.pdf", nil)
	if got.Title != "Attention Is All You Need" || got.Summary != "Attention Is All You Need" || got.FormType != "" || got.Issuer != "" {
		t.Fatalf("%+v", got)
	}
}

func TestDeriveHostile(t *testing.T) {
	long := strings.Repeat("Title words go on and on ", 40)
	for _, d := range []*parse.Document{{}, {Pages: []parse.Page{{}}}, {Metadata: parse.Metadata{Title: long}},
		{Pages: []parse.Page{page("For the quarterly period ended Smarch 99, 20222", "FORM 10-Q")}}} {
		c := Derive(d, "", nil)
		if len(c.Title) > 120 || len(c.Summary) > 200 || (c.PeriodEnd != "" && len(c.PeriodEnd) != 10) {
			t.Fatalf("%+v", c)
		}
	}
}

func TestPeriods(t *testing.T) {
	for in, want := range map[string]string{
		"What was Apple's revenue in Q3 2022?":              "Q3 2022",
		"In the second quarter of fiscal 2023, ...":         "Q2 FY2023",
		"Snowflake product revenue in Q1 fiscal 2023":       "Q1 FY2023",
		"the 2023 Q1 report":                                "Q1 2023",
		"FY23 guidance":                                     "FY2023",
		"How has Apple's total net sales changed over time": "",
	} {
		if got := FiscalPeriod(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	if !SamePeriod("Q2 2023", "calendar Q2 2023") || !SamePeriod("Q1 FY2023", "Q1 2023") || SamePeriod("Q1 2023", "Q2 2023") || SamePeriod("", "") {
		t.Error("SamePeriod")
	}
}
