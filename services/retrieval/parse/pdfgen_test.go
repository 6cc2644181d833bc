package parse

import (
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"image"
	"strings"
	"testing"

	"github.com/pdfqa/pdfqa/services/retrieval/parse/pdftest"
)

// Minimal PDF writer for tests: text pages (Helvetica) and image-only pages.

type textItem struct {
	x, y float64 // PDF user space, origin bottom-left
	size float64
	s    string
}

func pdfEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
	return r.Replace(s)
}

func stream(dict string, data []byte) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

// textContent is the content stream that shows items in font /F1.
func textContent(items []textItem) *bytes.Buffer {
	var c bytes.Buffer
	for _, it := range items {
		fmt.Fprintf(&c, "BT /F1 %g Tf %g %g Td (%s) Tj ET\n", it.size, it.x, it.y, pdfEscape(it.s))
	}
	return &c
}

// gridItems appends to items a table at font size 8: heads on one line at
// y 688 from x 300, then rows from y 670, each a label at x 40 and its cells
// from x cellX, the columns 90 points apart.
func gridItems(items []textItem, heads []string, rows [][]string, cellX float64) []textItem {
	for c, h := range heads {
		items = append(items, textItem{300 + float64(c)*90, 688, 8, h})
	}
	for r, row := range rows {
		items = append(items, textItem{40, 670 - float64(r)*12, 8, row[0]})
		for c, v := range row[1:] {
			items = append(items, textItem{cellX + float64(c)*90, 670 - float64(r)*12, 8, v})
		}
	}
	return items
}

// ruledPDF makes a one-page Letter PDF titled title that shows items and
// then draws with the content operators ops (rules, say).
func ruledPDF(title string, items []textItem, ops string) []byte {
	c := textContent(items)
	c.WriteString(ops)
	return pdftest.Assemble([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
		stream("", c.Bytes()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		fmt.Sprintf("<< /Title (%s) >>", title),
	})
}

// oneRuledTable parses pdf and returns its first page, failing t unless
// that page has exactly one rule and one table.
func oneRuledTable(t *testing.T, p *PDFium, pdf []byte) Page {
	t.Helper()
	doc, err := p.Parse(context.Background(), pdf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pg := doc.Pages[0]
	if len(pg.Rules) != 1 || len(pg.Tables) != 1 {
		t.Fatalf("rules %v tables %d", pg.Rules, len(pg.Tables))
	}
	return pg
}

// textPDF makes a one-page-per-entry Letter PDF with the given text items.
func textPDF(title string, pages ...[]textItem) []byte {
	n := len(pages)
	// 1 catalog, 2 pages, 3 font, then per page: page, content; last: info.
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", "", "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"}
	var kids []string
	for _, items := range pages {
		pageObj := len(objs) + 1
		kids = append(kids, fmt.Sprintf("%d 0 R", pageObj))
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", pageObj+1),
			stream("", textContent(items).Bytes()))
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n)
	objs = append(objs, fmt.Sprintf("<< /Title (%s) /Author (pdfqa test) >>", pdfEscape(title)))
	return pdftest.Assemble(objs)
}

// imagePDF makes a one-page PDF whose only content is a grayscale image
// scaled to wPt x hPt points.
func imagePDF(img *image.Gray, wPt, hPt float64) []byte {
	b := img.Bounds()
	var raw bytes.Buffer
	for y := b.Min.Y; y < b.Max.Y; y++ {
		off := (y - b.Min.Y) * img.Stride
		raw.Write(img.Pix[off : off+b.Dx()])
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw.Bytes())
	zw.Close()
	content := fmt.Sprintf("q %g 0 0 %g 0 0 cm /Im1 Do Q\n", wPt, hPt)
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>", wPt, hPt),
		stream("", []byte(content)),
		stream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode", b.Dx(), b.Dy()), z.Bytes()),
		"<< /Producer (pdfqa test) >>",
	}
	return pdftest.Assemble(objs)
}
