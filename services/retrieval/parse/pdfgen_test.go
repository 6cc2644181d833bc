package parse

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"strings"
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

// buildPDF assembles objects (1-based, object 1 must be the catalog).
func buildPDF(objs []string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, len(objs), xref)
	return b.Bytes()
}

func stream(dict string, data []byte) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
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
		var c bytes.Buffer
		for _, it := range items {
			fmt.Fprintf(&c, "BT /F1 %g Tf %g %g Td (%s) Tj ET\n", it.size, it.x, it.y, pdfEscape(it.s))
		}
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", pageObj+1),
			stream("", c.Bytes()))
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n)
	objs = append(objs, fmt.Sprintf("<< /Title (%s) /Author (pdfqa test) >>", pdfEscape(title)))
	return buildPDF(objs)
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
	return buildPDF(objs)
}
