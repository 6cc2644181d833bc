package samples

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"strings"

	"golang.org/x/text/encoding/charmap"

	"github.com/pdfqa/pdfqa/services/retrieval/parse/pdftest"
)

// A minimal PDF writer: Letter pages of base-14 text (Helvetica, its bold and
// Times), rules for tables, and image-only pages. Output depends only on the
// input, so the committed samples can be checked for freshness byte for byte.

const (
	pageW = 612.0 // Letter, points
	pageH = 792.0
)

type font int

const (
	helvetica font = iota
	helveticaBold
	times
)

var fontNames = [...]string{"/F1", "/F2", "/F3"}

type textRun struct {
	x, y float64 // baseline start, PDF user space (origin bottom-left)
	size float64
	f    font
	s    string
}

type rule struct{ x1, y1, x2, y2, width float64 }

type page struct {
	texts []textRun
	rules []rule
}

func (p *page) text(x, y, size float64, f font, s string) {
	p.texts = append(p.texts, textRun{x, y, size, f, s})
}

// right places s so that it ends at x.
func (p *page) right(x, y, size float64, f font, s string) {
	p.text(x-textWidth(s, size, f), y, size, f, s)
}

func (p *page) line(x1, y1, x2, y2, w float64) {
	p.rules = append(p.rules, rule{x1, y1, x2, y2, w})
}

// paragraph sets s in lines of at most width points from (x, y) downwards,
// leading points apart, and returns the baseline below the last line.
func (p *page) paragraph(x, y, width, size, leading float64, f font, s string) float64 {
	for _, l := range wrap(s, width, size, f) {
		p.text(x, y, size, f, l)
		y -= leading
	}
	return y
}

func wrap(s string, width, size float64, f font) []string {
	var lines []string
	var cur string
	for _, w := range strings.Fields(s) {
		try := w
		if cur != "" {
			try = cur + " " + w
		}
		if cur != "" && textWidth(try, size, f) > width {
			lines = append(lines, cur)
			cur = w
			continue
		}
		cur = try
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// helveticaWidths are the Adobe AFM advance widths (1/1000 em) of
// Helvetica for ASCII 32..126; bold and Times are close enough for wrapping
// at these sizes (both are narrower or within a few percent).
var helveticaWidths = [95]int{
	278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
	556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0..?
	1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @..O
	667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P.._
	333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `..o
	556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p..~
}

func textWidth(s string, size float64, f font) float64 {
	w := 0
	for _, r := range s {
		if r >= 32 && r <= 126 {
			w += helveticaWidths[r-32]
		} else {
			w += 556
		}
	}
	k := 1.0
	if f == helveticaBold {
		k = 1.06
	}
	return float64(w) * size / 1000 * k
}

// winAnsi encodes s for a WinAnsiEncoding font (Windows-1252; the samples
// use € – — ’ • · beyond ASCII, a rune it lacks becomes '?') and escapes
// PDF string delimiters; a byte over 127 is written as an octal escape.
func winAnsi(s string) string {
	var b strings.Builder
	for _, r := range s {
		c, ok := charmap.Windows1252.EncodeRune(r)
		switch {
		case r == '\\' || r == '(' || r == ')':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 128:
			b.WriteRune(r)
		case ok:
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

type info struct{ title, author, subject string }

func (i info) dict() string {
	return fmt.Sprintf("<< /Title (%s) /Author (%s) /Subject (%s) /Producer (pdfqa internal/samples) >>",
		winAnsi(i.title), winAnsi(i.author), winAnsi(i.subject))
}

// textPDF writes pages of text and rules.
func textPDF(meta info, pages []page) []byte {
	// 1 catalog, 2 pages, 3-5 fonts, then a page and its content per page; last: info.
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman /Encoding /WinAnsiEncoding >>",
	}
	var kids []string
	for _, pg := range pages {
		n := len(objs) + 1
		kids = append(kids, fmt.Sprintf("%d 0 R", n))
		var c bytes.Buffer
		for _, r := range pg.rules {
			fmt.Fprintf(&c, "%.2f w %.2f %.2f m %.2f %.2f l S\n", r.width, r.x1, r.y1, r.x2, r.y2)
		}
		for _, t := range pg.texts {
			fmt.Fprintf(&c, "BT %s %.1f Tf %.2f %.2f Td (%s) Tj ET\n", fontNames[t.f], t.size, t.x, t.y, winAnsi(t.s))
		}
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Resources << /Font << /F1 3 0 R /F2 4 0 R /F3 5 0 R >> >> /Contents %d 0 R >>", pageW, pageH, n+1),
			flateStream("", c.Bytes()))
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages))
	objs = append(objs, meta.dict())
	return pdftest.Assemble(objs)
}

// imagePDF writes one Letter page per image, the image scaled to the page.
func imagePDF(meta info, imgs ...*image.Gray) []byte {
	content := flateStream("", []byte(fmt.Sprintf("q %g 0 0 %g 0 0 cm /Im1 Do Q\n", pageW, pageH)))
	// 1 catalog, 2 pages, 3 the shared content stream, then a page and its image per image; last: info.
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", "", content}
	var kids []string
	for _, img := range imgs {
		b := img.Bounds()
		raw := make([]byte, 0, b.Dx()*b.Dy())
		for y := b.Min.Y; y < b.Max.Y; y++ {
			off := (y - b.Min.Y) * img.Stride
			raw = append(raw, img.Pix[off:off+b.Dx()]...)
		}
		n := len(objs) + 1
		kids = append(kids, fmt.Sprintf("%d 0 R", n))
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Resources << /XObject << /Im1 %d 0 R >> >> /Contents 3 0 R >>", pageW, pageH, n+1),
			flateStream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8", b.Dx(), b.Dy()), raw))
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(imgs))
	objs = append(objs, meta.dict())
	return pdftest.Assemble(objs)
}

func flateStream(dict string, data []byte) string {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(data)
	zw.Close()
	return fmt.Sprintf("<< %s /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream", strings.TrimSpace(dict), z.Len(), z.Bytes())
}
