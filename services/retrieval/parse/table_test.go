package parse

import (
	"context"
	"strings"
	"testing"

	"github.com/pdfqa/pdfqa/platform/testenv"
)

// TestTableSynthetic checks that a quarterly table is found and each row is
// emitted with its headers.
func TestTableSynthetic(t *testing.T) {
	p := testParser(t)
	items := []textItem{{72, 740, 14, "Financial highlights (in millions)"}}
	rows := [][]string{
		{"", "Q1 2023", "Q2 2023", "Q3 2023"},
		{"Product revenue", "$590.1", "$640.2", "$698.5"},
		{"Remaining performance obligations", "$3,410", "$3,540", "$3,600"},
		{"Operating margin", "5%", "6%", "8%"},
	}
	cols := []float64{72, 300, 390, 480}
	for r, row := range rows {
		for c, s := range row {
			if s != "" {
				items = append(items, textItem{cols[c], 700 - float64(r)*16, 10, s})
			}
		}
	}
	items = append(items, textItem{72, 600, 10, "Revenue grew strongly in the third quarter and margins improved."})
	doc, err := p.Parse(context.Background(), textPDF("table", items), Options{})
	if err != nil {
		t.Fatal(err)
	}
	pg := doc.Pages[0]
	if len(pg.Tables) != 1 {
		t.Fatalf("tables = %d; text:\n%s", len(pg.Tables), pg.Text)
	}
	tb := pg.Tables[0]
	got := tb.RowLines("")
	want := []string{
		"Financial highlights (in millions) — Product revenue: Q1 2023 $590.1; Q2 2023 $640.2; Q3 2023 $698.5",
		"Financial highlights (in millions) — Remaining performance obligations: Q1 2023 $3,410; Q2 2023 $3,540; Q3 2023 $3,600",
		"Financial highlights (in millions) — Operating margin: Q1 2023 5%; Q2 2023 6%; Q3 2023 8%",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s\nmarkdown:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), tb.Markdown())
	}
	if !strings.Contains(pg.IndexText(), "Q3 2023 $698.5") {
		t.Fatalf("index text lacks table row")
	}
}

// TestBulletListIsNotATable: a list whose bullets stand in a column of
// their own aligns like a two-column table; it must stay text.
func TestBulletListIsNotATable(t *testing.T) {
	p := testParser(t)
	items := []textItem{{72, 740, 12, "Operating Risks"}}
	for i, s := range []string{
		"our ability to retain and increase sales to existing customers;",
		"the introduction of competitive stores, websites and products;",
		"the extent to which we invest in technology and infrastructure;",
		"increases in the prices of transportation and energy products.",
	} {
		y := 710 - float64(i)*16
		items = append(items, textItem{90, y, 10, "\x95"}, textItem{108, y, 10, s}) // WinAnsi bullet
	}
	doc, err := p.Parse(context.Background(), textPDF("list", items), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(doc.Pages[0].Tables); n != 0 {
		t.Fatalf("a bulleted list became %d table(s): %q", n, doc.Pages[0].Tables[0].RowLines(""))
	}
	if !strings.Contains(doc.Pages[0].IndexText(), "competitive stores") {
		t.Fatal("the list's text is gone")
	}
}

// statementPage lays out a financial statement the way filings print it:
// a title and units line, a period group ("Three Months Ended") spanning
// two date columns whose dates run over two lines, "$" in cells of its own,
// (negative) values and dashes, and parent labels with indented rows.
func statementPage(withHeader bool, rows [][]string) []textItem {
	var items []textItem
	y := 740.0
	if withHeader {
		items = append(items,
			textItem{200, y, 11, "CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS (Unaudited)"},
			textItem{190, y - 12, 9, "(In millions, except per share amounts)"},
			textItem{330, y - 34, 8, "Three Months Ended"}, textItem{480, y - 34, 8, "Nine Months Ended"},
			textItem{320, y - 46, 8, "June 25,"}, textItem{392, y - 46, 8, "June 26,"},
			textItem{466, y - 46, 8, "June 25,"}, textItem{540, y - 46, 8, "June 26,"},
			textItem{323, y - 56, 8, "2022"}, textItem{395, y - 56, 8, "2021"},
			textItem{469, y - 56, 8, "2022"}, textItem{543, y - 56, 8, "2021"})
		y -= 72
	}
	for _, r := range rows {
		indent, label := 30.0, r[0]
		if strings.HasPrefix(label, ">") {
			indent, label = 44, label[1:]
		}
		items = append(items, textItem{indent, y, 9, label})
		for c, v := range r[1:] {
			x := 330 + float64(c)*73
			if strings.HasPrefix(v, "$") {
				items = append(items, textItem{x - 28, y, 9, "$"})
				v = v[1:]
			}
			items = append(items, textItem{x, y, 9, v})
		}
		y -= 12
	}
	return items
}

// TestTableStatement checks a statement table's exact row lines: column
// headers from spanning and two-line headers, "$" joined to its number,
// negatives and dashes kept, label paths from parent rows, title and units.
func TestTableStatement(t *testing.T) {
	p := testParser(t)
	rows := [][]string{
		{"Net sales:"},
		{">Products", "$63,355", "$63,948", "$245,241", "$232,309"},
		{">Services", "19,604", "17,486", "58,941", "50,148"},
		{">Total net sales", "82,959", "81,434", "304,182", "282,457"},
		{"Other income/(expense), net", "(10)", "243", "(97)", "\x97"}, // WinAnsi em dash
	}
	doc, err := p.Parse(context.Background(), textPDF("statement", statementPage(true, rows)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	pg := doc.Pages[0]
	if len(pg.Tables) != 1 {
		t.Fatalf("tables = %d; text:\n%s", len(pg.Tables), pg.Text)
	}
	got := pg.Tables[0].RowLines("")
	h := "Condensed Consolidated Statements of Operations (in millions) — "
	want := []string{
		h + "Net sales › Products: Three Months Ended June 25, 2022 $63,355; Three Months Ended June 26, 2021 $63,948; Nine Months Ended June 25, 2022 $245,241; Nine Months Ended June 26, 2021 $232,309",
		h + "Net sales › Services: Three Months Ended June 25, 2022 19,604; Three Months Ended June 26, 2021 17,486; Nine Months Ended June 25, 2022 58,941; Nine Months Ended June 26, 2021 50,148",
		h + "Net sales › Total net sales: Three Months Ended June 25, 2022 82,959; Three Months Ended June 26, 2021 81,434; Nine Months Ended June 25, 2022 304,182; Nine Months Ended June 26, 2021 282,457",
		h + "Other income/(expense), net: Three Months Ended June 25, 2022 (10); Three Months Ended June 26, 2021 243; Nine Months Ended June 25, 2022 (97); Nine Months Ended June 26, 2021 —",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := len(pg.Tables[0].RowBoxes); n != 4 {
		t.Fatalf("row boxes = %d, want 4", n)
	}
}

// TestTableContinuesOnNextPage checks that a table without headers at the
// top of a page takes the headers, title and units of the table it
// continues from the previous page.
func TestTableContinuesOnNextPage(t *testing.T) {
	p := testParser(t)
	first := statementPage(true, [][]string{
		{"Total net sales", "82,959", "81,434", "304,182", "282,457"},
		{"Gross margin", "35,885", "35,255", "132,687", "117,662"},
	})
	second := statementPage(false, [][]string{
		{"Net income", "$19,442", "$21,744", "$79,082", "$74,129"},
		{"Diluted shares", "16,262", "16,781", "16,394", "16,941"},
	})
	doc, err := p.Parse(context.Background(), textPDF("two pages", first, second), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Pages) != 2 || len(doc.Pages[1].Tables) != 1 {
		t.Fatalf("pages %d, tables on page 2: %+v", len(doc.Pages), doc.Pages[1].Tables)
	}
	tb := doc.Pages[1].Tables[0]
	want := "Condensed Consolidated Statements of Operations (in millions) — Net income: Three Months Ended June 25, 2022 $19,442; Three Months Ended June 26, 2021 $21,744; Nine Months Ended June 25, 2022 $79,082; Nine Months Ended June 26, 2021 $74,129"
	if got := tb.RowLines("")[0]; got != want || !tb.Continued {
		t.Fatalf("continued=%v row:\n%s\nwant:\n%s", tb.Continued, got, want)
	}
}

// TestTableRealFiling checks exact row lines cut from a real 10-Q page
// (Apple's Q3 2022 statement of operations, page 4 of the dev filings).
func TestTableRealFiling(t *testing.T) {
	path := testenv.Data(t, "dev", "sec-10-q", "docs", "2022 Q3 AAPL.pdf")
	doc, err := parseFile(t, path, Options{OCR: OCROff})
	if err != nil {
		t.Fatal(err)
	}
	all := tableRows(doc.Pages[3])
	hasRows(t, all, "Apple Inc. Condensed Consolidated Statements of Operations (in millions) — ",
		"Net sales › Products: Three Months Ended June 25, 2022 $63,355; Three Months Ended June 26, 2021 $63,948; Nine Months Ended June 25, 2022 $245,241; Nine Months Ended June 26, 2021 $232,309",
		"Net sales › Total net sales: Three Months Ended June 25, 2022 82,959; Three Months Ended June 26, 2021 81,434; Nine Months Ended June 25, 2022 304,182; Nine Months Ended June 26, 2021 282,457",
		"Other income/(expense), net: Three Months Ended June 25, 2022 (10); Three Months Ended June 26, 2021 243; Nine Months Ended June 25, 2022 (97); Nine Months Ended June 26, 2021 796",
		"Earnings per share › Diluted: Three Months Ended June 25, 2022 $1.20; Three Months Ended June 26, 2021 $1.30; Nine Months Ended June 25, 2022 $4.82; Nine Months Ended June 26, 2021 $4.38")
	if len(doc.Pages[3].Tables) != 1 {
		t.Errorf("tables on page 4 = %d, want 1", len(doc.Pages[3].Tables))
	}
}

// tableRows is every row of pg's tables as RowLines renders it, one a line.
func tableRows(pg Page) string {
	var rows []string
	for _, tb := range pg.Tables {
		rows = append(rows, tb.RowLines("")...)
	}
	return strings.Join(rows, "\n")
}

// hasRows fails t for each row of want, after the table title prefix,
// that rows (tableRows' lines) lacks.
func hasRows(t *testing.T, rows, prefix string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(rows, prefix+w) {
			t.Errorf("missing row\n%s\nin\n%s", prefix+w, rows)
		}
	}
}

// TestTableRealSample uses the real table in the Google Docs sample.
func TestTableRealSample(t *testing.T) {
	path := testenv.Data(t, "pdf-samples", "011-google-doc-document", "google-doc-document.pdf")
	doc, err := parseFile(t, path, Options{OCR: OCROff})
	if err != nil {
		t.Fatal(err)
	}
	all := tableRows(doc.Pages[0])
	hasRows(t, all, "", "Capital: Indonesia Jakarta; Germany Berlin; Austria Vienna; France Paris; Vatican Vatican City")
	if len(doc.Pages[0].Tables) != 1 {
		t.Errorf("tables = %d, want 1:\n%s", len(doc.Pages[0].Tables), all)
	}
}

// TestTableRuleSpansHeader checks that a header's underline (a ruling line
// drawn as a path) spreads it over the columns it spans, even when the
// header text sits far from them: "Fiscal Year" printed over the left of
// three columns and underlined across all three.
func TestTableRuleSpansHeader(t *testing.T) {
	p := testParser(t)
	items := gridItems([]textItem{{300, 700, 8, "Fiscal Year"}}, []string{"2023", "2022", "2021"},
		[][]string{{"Revenue", "100", "90", "80"}, {"Costs", "60", "55", "50"}}, 305)
	pdf := ruledPDF("rules", items, "298 697 220 0.8 re f\n") // the underline under "Fiscal Year", over all three columns
	pg := oneRuledTable(t, p, pdf)
	want := "Revenue: Fiscal Year 2023 100; Fiscal Year 2022 90; Fiscal Year 2021 80"
	if got := pg.Tables[0].RowLines("")[0]; got != want {
		t.Fatalf("row %q, want %q", got, want)
	}
}
