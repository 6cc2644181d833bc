package parse

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// A rule under a header row that runs under several of its headers (the
// table's border below the column headings) spans none of them: each
// column keeps its own heading.
func TestTableBorderUnderHeadersIsNotASpan(t *testing.T) {
	p := testParser(t)
	items := []textItem{{40, 688, 8, "Route"}}
	for c, h := range []string{"2024", "2025", "Change"} {
		items = append(items, textItem{300 + float64(c)*90, 688, 8, h})
	}
	for r, row := range [][]string{{"Harbour Line", "14,920", "15,480", "+3.8%"}, {"Island Loop", "18,105", "21,350", "+17.9%"}} {
		items = append(items, textItem{40, 670 - float64(r)*12, 8, row[0]})
		for c, v := range row[1:] {
			items = append(items, textItem{300 + float64(c)*90, 670 - float64(r)*12, 8, v})
		}
	}
	var c bytes.Buffer
	for _, it := range items {
		fmt.Fprintf(&c, "BT /F1 %g Tf %g %g Td (%s) Tj ET\n", it.size, it.x, it.y, pdfEscape(it.s))
	}
	c.WriteString("38 684 500 0.5 re f\n") // the border under the whole header row
	pdf := buildPDF([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
		stream("", c.Bytes()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		"<< /Title (border) >>",
	})
	doc, err := p.Parse(context.Background(), pdf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pg := doc.Pages[0]
	if len(pg.Rules) != 1 || len(pg.Tables) != 1 {
		t.Fatalf("rules %v tables %d", pg.Rules, len(pg.Tables))
	}
	want := "Island Loop: 2024 18,105; 2025 21,350; Change +17.9%"
	if got := pg.Tables[0].RowLines("")[1]; got != want {
		t.Fatalf("row %q, want %q (header %q)", got, want, pg.Tables[0].Header)
	}
}
