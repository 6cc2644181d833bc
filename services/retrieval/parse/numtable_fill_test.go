package parse

import (
	"context"
	"strings"
	"testing"

	"github.com/pdfqa/pdfqa/platform/testenv"
)

// bandedItems is a two-column statement whose second row's label wraps onto
// a second line that starts with a figure of the label ("$4"), beside the
// row's values.
func bandedItems() []textItem {
	items := []textItem{{300, 688, 8, "2024"}, {390, 688, 8, "2025"}}
	items = append(items,
		textItem{40, 670, 8, "Net income"}, textItem{300, 670, 8, "$2,872"}, textItem{390, 670, 8, "$9,879"},
		textItem{40, 656, 8, "Foreign currency translation adjustments, net of tax of $76, $36, and"},
		textItem{40, 646, 8, "$4"}, textItem{300, 646, 8, "(2,142)"}, textItem{390, 646, 8, "(1,388)"},
		textItem{40, 632, 8, "Comprehensive income"}, textItem{300, 632, 8, "$539"}, textItem{390, 632, 8, "$8,556"},
	)
	return items
}

// A shaded row (its cell backgrounds) that holds both lines of a wrapped
// label is one table row: the label's second line ("$4") is part of the
// label, not a value, and the table keeps every row. Without the shading
// the same text loses the row (the fill is what tells).
func TestShadedRowJoinsAWrappedLabel(t *testing.T) {
	p := testParser(t)
	// light-grey backgrounds: one per cell of the wrapped row, one across
	// the first row (stripes), white paint that is not shading
	shading := "0.94 g 36 642 240 24 re f 296 642 60 24 re f 386 642 60 24 re f\n" +
		"0.94 g 36 666 420 12 re f\n1 g 36 628 420 12 re f\n"
	parse := func(ops string) Page {
		doc, err := p.Parse(context.Background(), ruledPDF("banded", bandedItems(), ops), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return doc.Pages[0]
	}
	pg := parse(shading)
	if len(pg.Fills) != 4 {
		t.Errorf("fills %v: want the 4 grey ones, not the white one", pg.Fills)
	}
	if len(pg.Tables) != 1 {
		t.Fatalf("tables %d, want 1", len(pg.Tables))
	}
	want := []string{
		"Net income: 2024 $2,872; 2025 $9,879",
		"Foreign currency translation adjustments, net of tax of $76, $36, and $4: 2024 (2,142); 2025 (1,388)",
		"Comprehensive income: 2024 $539; 2025 $8,556",
	}
	if got := pg.Tables[0].RowLines(""); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	plain := parse("")
	for _, tb := range plain.Tables {
		if strings.Contains(strings.Join(tb.RowLines(""), "\n"), want[1]) {
			t.Fatalf("the unshaded page already joins the label: the shading is not what this test shows")
		}
	}
}

func TestRowBands(t *testing.T) {
	// three stripes 12 high with 12-high gaps, a cell row of two fills, and
	// a gap too tall to be one row
	fills := []Rect{{0, 100, 50, 112}, {60, 100, 90, 112}, {0, 124, 90, 136}, {0, 148, 90, 160}, {0, 200, 90, 212}}
	got := rowBands(fills)
	want := []band{{100, 112}, {112, 124}, {124, 136}, {136, 148}, {148, 160}, {200, 212}}
	if len(got) != len(want) {
		t.Fatalf("bands %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("bands %v, want %v", got, want)
		}
	}
	if rowBands(nil) != nil {
		t.Error("no fills, bands")
	}
}

// Amazon's statement of comprehensive income shades every other row; the
// row whose label wraps onto "$4" used to break the table, which then began
// four rows down under the previous statement's title.
func TestShadedStatementRealFiling(t *testing.T) {
	path := testenv.Data(t, "dev", "sec-10-q", "docs", "2023 Q3 AMZN.pdf")
	doc, err := parseFile(t, path, Options{OCR: OCROff})
	if err != nil {
		t.Fatal(err)
	}
	pg := doc.Pages[4]
	if len(pg.Fills) == 0 {
		t.Fatal("no cell backgrounds read on the shaded page")
	}
	all := tableRows(pg)
	hasRows(t, all, "Consolidated Statements of Comprehensive Income (loss) (in millions) — ",
		"Net income (loss): Three Months Ended September 30, 2022 $2,872; Three Months Ended September 30, 2023 $9,879; Nine Months Ended September 30, 2022 $(3,000); Nine Months Ended September 30, 2023 $19,801",
		"Other comprehensive income (loss) › Foreign currency translation adjustments, net of tax of $76, $36, $136, and $4: Three Months Ended September 30, 2022 (2,142); Three Months Ended September 30, 2023 (1,388); Nine Months Ended September 30, 2022 (4,661); Nine Months Ended September 30, 2023 (738)",
		"Other comprehensive income (loss) › Net change in unrealized gains (losses) on available-for-sale debt securities › Unrealized gains (losses), net of tax of $(4), $(18), $(3), and $(52): Three Months Ended September 30, 2022 (195); Three Months Ended September 30, 2023 62; Nine Months Ended September 30, 2022 (1,095); Nine Months Ended September 30, 2023 174",
		"Comprehensive income (loss): Three Months Ended September 30, 2022 $539; Three Months Ended September 30, 2023 $8,556; Nine Months Ended September 30, 2022 $(8,739); Nine Months Ended September 30, 2023 $19,285")
	if len(pg.Tables) != 1 {
		t.Errorf("tables on page 5 = %d, want 1", len(pg.Tables))
	}
}
