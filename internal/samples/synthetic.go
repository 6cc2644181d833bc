package samples

import (
	"context"
	"fmt"
	"image"
	"strings"
)

// Kind is a page type for synthetic documents (benchmarks).
type Kind string

// Page types: running text in two columns, a numeric table with a caption
// and a paragraph, and a scanned page (an image only: OCR).
const (
	Text    Kind = "text"
	Table   Kind = "table"
	Scanned Kind = "scanned"
)

// Kinds lists the page types.
var Kinds = []Kind{Text, Table, Scanned}

// words is the vocabulary of the synthetic running text.
var words = strings.Fields(`ferry route passenger timetable tide current crossing harbour vessel
fleet schedule departure arrival waiting minutes season summer winter island loop night service
revenue ticket fuel crew shift pier capacity demand model estimate measured average reduction
increase operator network sound port weather delay connection transfer study result method`)

// Synthetic returns a document of n pages of one kind, deterministic for
// (kind, n); scanned pages are rendered with r (which may be nil otherwise).
func Synthetic(ctx context.Context, r Renderer, kind Kind, n int) ([]byte, error) {
	if n < 1 {
		return nil, fmt.Errorf("samples: %d pages", n)
	}
	meta := info{fmt.Sprintf("Synthetic %s document, %d pages", kind, n), "pdfqa internal/samples", "benchmark"}
	seed := uint32(0x9e3779b9) ^ uint32(n)
	next := func() uint32 {
		seed ^= seed << 13
		seed ^= seed >> 17
		seed ^= seed << 5
		return seed
	}
	sentence := func() string {
		k := 8 + int(next()%10)
		ws := make([]string, k)
		for i := range ws {
			ws[i] = words[next()%uint32(len(words))]
		}
		ws[0] = strings.ToUpper(ws[0][:1]) + ws[0][1:]
		return strings.Join(ws, " ") + fmt.Sprintf(" %d.%d%%.", next()%90+1, next()%10)
	}
	paragraph := func(k int) string {
		ss := make([]string, k)
		for i := range ss {
			ss[i] = sentence()
		}
		return strings.Join(ss, " ")
	}
	switch kind {
	case Text:
		pages := make([]page, n)
		for i := range pages {
			p := &pages[i]
			for col, x := range []float64{72, 318} {
				y := 720.0
				for s := 0; y > 110; s++ {
					p.text(x, y, 10.5, helveticaBold, fmt.Sprintf("%d.%d Section", i+1, col*4+s+1))
					y = p.paragraph(x, y-15, 222, 9.5, 12.5, times, paragraph(5)) - 12
				}
			}
			p.text(72, 48, 8, helvetica, fmt.Sprintf("Synthetic text document · page %d", i+1))
		}
		return textPDF(meta, pages), nil
	case Table:
		pages := make([]page, n)
		for i := range pages {
			p := &pages[i]
			p.text(72, 720, 12, helveticaBold, fmt.Sprintf("Table %d: Passengers and revenue by route (in thousands)", i+1))
			y := 700.0
			p.line(72, y, 540, y, 0.8)
			y -= 16
			p.text(72, y, 10, helveticaBold, "Route")
			for j, h := range []string{"Q1", "Q2", "Q3", "Q4", "Total"} {
				p.right(300+float64(j)*60, y, 10, helveticaBold, h)
			}
			y -= 6
			p.line(72, y, 540, y, 0.5)
			for row := 0; row < 24; row++ {
				y -= 16
				p.text(72, y, 10, helvetica, fmt.Sprintf("Route %c%d", 'A'+rune(row%26), i+1))
				total := 0
				for j := 0; j < 4; j++ {
					v := 1000 + int(next()%9000)
					total += v
					p.right(300+float64(j)*60, y, 10, helvetica, fmt.Sprintf("%d,%03d", v/1000, v%1000))
				}
				p.right(540, y, 10, helvetica, fmt.Sprintf("%d,%03d", total/1000, total%1000))
			}
			y -= 8
			p.line(72, y, 540, y, 0.8)
			p.paragraph(72, y-24, 468, 10.5, 14, helvetica, paragraph(3))
			p.text(72, 48, 8, helvetica, fmt.Sprintf("Synthetic table document · page %d", i+1))
		}
		return textPDF(meta, pages), nil
	case Scanned:
		if r == nil {
			return nil, fmt.Errorf("samples: scanned pages need a renderer")
		}
		imgs := make([]*image.Gray, 0, n)
		for i := 0; i < n; i++ {
			var p page
			p.text(80, 712, 16, helveticaBold, fmt.Sprintf("Inspection Memorandum HA-2025-%03d", 100+i))
			p.paragraph(80, 680, 452, 12, 18, helvetica, paragraph(12))
			img, err := scan(ctx, r, textPDF(meta, []page{p}), 0.4+float64(i%3)*0.2)
			if err != nil {
				return nil, err
			}
			imgs = append(imgs, img)
		}
		return imagePDF(info{}, imgs...), nil
	}
	return nil, fmt.Errorf("samples: unknown kind %q", kind)
}
