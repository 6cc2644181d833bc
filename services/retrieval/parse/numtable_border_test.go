package parse

import (
	"testing"
)

// A rule under a header row that runs under several of its headers (the
// table's border below the column headings) spans none of them: each
// column keeps its own heading.
func TestTableBorderUnderHeadersIsNotASpan(t *testing.T) {
	p := testParser(t)
	items := gridItems([]textItem{{40, 688, 8, "Route"}}, []string{"2024", "2025", "Change"},
		[][]string{{"Harbour Line", "14,920", "15,480", "+3.8%"}, {"Island Loop", "18,105", "21,350", "+17.9%"}}, 300)
	pdf := ruledPDF("border", items, "38 684 500 0.5 re f\n") // the border under the whole header row
	pg := oneRuledTable(t, p, pdf)
	want := "Island Loop: 2024 18,105; 2025 21,350; Change +17.9%"
	if got := pg.Tables[0].RowLines("")[1]; got != want {
		t.Fatalf("row %q, want %q (header %q)", got, want, pg.Tables[0].Header)
	}
}
