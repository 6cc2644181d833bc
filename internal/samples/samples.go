// Package samples generates the small PDFs committed under samples/ that
// `make demo` ingests and asks about, so a fresh clone demos without the
// shared data set: a report with a table (text layer), a scanned memo (an
// image-only page: the OCR path) and a two-column paper. Every name, figure
// and organisation in them is invented; the generator is the project's own
// code, so the files are as redistributable as the repository.
//
// `go run ./internal/samples/gen` rewrites samples/; TestCommittedSamplesAreFresh
// fails when the committed files differ from what this package writes.
package samples

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
)

// File names under samples/.
const (
	ReportFile = "northwind-annual-report-2025.pdf"
	ScanFile   = "harbour-inspection-memo-scan.pdf"
	PaperFile  = "tide-aware-timetables-paper.pdf"
)

// Renderer renders one page (1-based) of a PDF as a PNG at dpi; the
// retrieval service's parse.PDFium (RenderPNG) is one.
type Renderer interface {
	RenderPNG(ctx context.Context, data []byte, password string, page, dpi int) ([]byte, int, int, error)
}

// Files returns every sample, by file name.
func Files(ctx context.Context, r Renderer) (map[string][]byte, error) {
	scan, err := Scan(ctx, r)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{ReportFile: Report(), ScanFile: scan, PaperFile: Paper()}, nil
}

// Write writes every sample into dir.
func Write(ctx context.Context, r Renderer, dir string) error {
	files, err := Files(ctx, r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// RevenueRows is the report's table: route, revenue 2024 and 2025 in
// thousands of euros, and the change.
var RevenueRows = [][4]string{
	{"Harbour Line", "14,920", "15,480", "+3.8%"},
	{"Island Loop", "18,105", "21,350", "+17.9%"},
	{"Night Service", "9,860", "11,370", "+15.3%"},
	{"Total revenue", "42,885", "48,200", "+12.4%"},
}

// Report is a two-page annual report with a revenue table on page 1.
func Report() []byte {
	const left, width = 72.0, 468.0
	var p1, p2 page
	p1.text(left, 720, 20, helveticaBold, "Northwind Ferries Ltd.")
	p1.text(left, 698, 13, helvetica, "Annual Operations Report 2025")
	p1.line(left, 688, left+width, 688, 0.8)
	y := p1.paragraph(left, 664, width, 10.5, 14, helvetica,
		"Northwind Ferries Ltd. operates three passenger routes across the Kestrel Sound from its home port of Brannock. "+
			"In 2025 the company carried 1.84 million passengers, up from 1.62 million in 2024, and added a fourth vessel to the fleet. "+
			"Demand on the Island Loop route grew fastest after the summer timetable added two daily sailings.")
	y = p1.paragraph(left, y-8, width, 10.5, 14, helvetica,
		"Total revenue for 2025 was 48,200 thousand euros, an increase of 12.4% over 2024. Table 1 shows revenue by route.")
	y -= 18
	p1.text(left, y, 11, helveticaBold, "Table 1: Revenue by route (in thousands of euros)")
	y -= 10
	cols := [...]float64{340, 420, 500} // right edges of the figure columns
	p1.line(left, y, left+width, y, 0.8)
	y -= 16
	p1.text(left, y, 10, helveticaBold, "Route")
	for i, h := range []string{"2024", "2025", "Change"} {
		p1.right(cols[i], y, 10, helveticaBold, h)
	}
	y -= 6
	p1.line(left, y, left+width, y, 0.5)
	for i, r := range RevenueRows {
		y -= 16
		f := helvetica
		if i == len(RevenueRows)-1 {
			p1.line(left, y+12, left+width, y+12, 0.5)
			f = helveticaBold
		}
		p1.text(left, y, 10, f, r[0])
		for j := 1; j < 4; j++ {
			p1.right(cols[j-1], y, 10, f, r[j])
		}
	}
	y -= 8
	p1.line(left, y, left+width, y, 0.8)
	p1.paragraph(left, y-22, width, 10.5, 14, helvetica,
		"Ticket prices rose by 3% on 1 April 2025. The Night Service benefited from the extended opening hours of the Brannock market, "+
			"and the Harbour Line remained close to capacity on weekdays.")
	p1.text(left, 48, 8, helvetica, "Northwind Ferries Ltd. · Annual Operations Report 2025 · page 1")

	p2.text(left, 720, 14, helveticaBold, "Fleet and safety")
	y = p2.paragraph(left, 696, width, 10.5, 14, helvetica,
		"The hybrid vessel MV Tern entered service in May 2025. Fuel consumption per passenger fell by 6% over the year, "+
			"and the Kestrel Sound Harbour Authority renewed the passenger certificates of all four vessels.")
	y = p2.paragraph(left, y-8, width, 10.5, 14, helvetica,
		"No passenger was injured in 2025. Punctuality, measured as departures within five minutes of the timetable, was 96.1% (2024: 94.8%).")
	p2.text(left, y-18, 14, helveticaBold, "Outlook")
	p2.paragraph(left, y-42, width, 10.5, 14, helvetica,
		"For 2026 the company expects passenger numbers to grow by about 5% and plans a tide-aware timetable on the Island Loop, "+
			"following the study of the Brannock Maritime Institute.")
	p2.text(left, 48, 8, helvetica, "Northwind Ferries Ltd. · Annual Operations Report 2025 · page 2")
	return textPDF(info{"Northwind Ferries Ltd. Annual Operations Report 2025", "Northwind Ferries Ltd.", "Annual report"}, []page{p1, p2})
}

// memo is the page Scan prints, renders and "scans".
func memo() []byte {
	const left, width = 80.0, 452.0
	var p page
	p.text(left, 712, 17, helveticaBold, "Kestrel Sound Harbour Authority")
	p.text(left, 690, 13, helvetica, "Inspection Memorandum HA-2025-117")
	p.line(left, 680, left+width, 680, 1)
	y := 652.0
	for _, kv := range [][2]string{
		{"Date:", "14 March 2025"},
		{"Vessel:", "MV Tern (Northwind Ferries Ltd.)"},
		{"Inspector:", "M. Halvorsen"},
	} {
		p.text(left, y, 12, helveticaBold, kv[0])
		p.text(left+90, y, 12, helvetica, kv[1])
		y -= 20
	}
	y = p.paragraph(left, y-14, width, 12, 18, helvetica,
		"The annual safety inspection of MV Tern found three minor deficiencies and no major deficiencies. "+
			"All three were corrected before the vessel returned to service.")
	y = p.paragraph(left, y-10, width, 12, 18, helvetica,
		"The passenger certificate is renewed until 30 June 2027. The certified maximum capacity is 296 passengers and 24 cars.")
	p.paragraph(left, y-10, width, 12, 18, helvetica,
		"The next inspection is due in March 2026.")
	p.text(left, 120, 12, helvetica, "Signed: M. Halvorsen, Senior Marine Surveyor")
	return textPDF(info{"Inspection Memorandum HA-2025-117", "Kestrel Sound Harbour Authority", "Vessel inspection"}, []page{p})
}

// scanDPI is the resolution of the scanned page.
const scanDPI = 150

// Scan is the memo as a scanner would deliver it: the page rendered to
// grayscale, turned by 0.6 degrees, on off-white paper with a few specks,
// and wrapped as an image-only PDF (no text layer: retrieval must OCR it).
func Scan(ctx context.Context, r Renderer) ([]byte, error) {
	img, err := scan(ctx, r, memo(), 0.6)
	if err != nil {
		return nil, err
	}
	return imagePDF(info{}, img), nil
}

// scan renders page 1 of pdf at scanDPI and "scans" it, turned by deg.
func scan(ctx context.Context, r Renderer, pdf []byte, deg float64) (*image.Gray, error) {
	pngBytes, _, _, err := r.RenderPNG(ctx, pdf, "", 1, scanDPI)
	if err != nil {
		return nil, fmt.Errorf("samples: render: %w", err)
	}
	src, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		return nil, fmt.Errorf("samples: decode render: %w", err)
	}
	gray := image.NewGray(src.Bounds())
	draw.Draw(gray, gray.Bounds(), src, src.Bounds().Min, draw.Src)
	return scanned(gray, deg), nil
}

// scanned rotates g by deg around its centre (bilinear), maps white to a
// paper tone and adds sparse deterministic specks.
func scanned(g *image.Gray, deg float64) *image.Gray {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	sin, cos := math.Sincos(deg * math.Pi / 180)
	cx, cy := float64(w)/2, float64(h)/2
	at := func(x, y int) float64 {
		if x < 0 || y < 0 || x >= w || y >= h {
			return 255
		}
		return float64(g.Pix[y*g.Stride+x])
	}
	seed := uint32(2463534242)
	next := func() uint32 { // xorshift32: the same specks on every run and platform
		seed ^= seed << 13
		seed ^= seed >> 17
		seed ^= seed << 5
		return seed
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			sx, sy := cos*dx+sin*dy+cx, -sin*dx+cos*dy+cy
			x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
			fx, fy := sx-float64(x0), sy-float64(y0)
			v := at(x0, y0)*(1-fx)*(1-fy) + at(x0+1, y0)*fx*(1-fy) + at(x0, y0+1)*(1-fx)*fy + at(x0+1, y0+1)*fx*fy
			v = 18 + v*(236-18)/255 // ink is never black, paper never white
			if next()%4000 == 0 {
				v = 90
			}
			out.Pix[y*out.Stride+x] = uint8(math.Round(v))
		}
	}
	return out
}

// Paper is a one-page two-column research paper: title and abstract across
// the page, sections in two columns (reading order: the left column, then
// the right).
func Paper() []byte {
	var p page
	title := "Tide-Aware Timetables for Small Ferry Networks"
	p.text((pageW-textWidth(title, 17, helveticaBold))/2, 724, 17, helveticaBold, title)
	authors := "Astrid Lindqvist and Rafael Okafor · Brannock Maritime Institute"
	p.text((pageW-textWidth(authors, 10.5, helvetica))/2, 704, 10.5, helvetica, authors)
	p.text(72, 672, 10, helveticaBold, "Abstract")
	y := p.paragraph(72, 658, 468, 9.5, 12.5, times,
		"Small ferry operators publish fixed timetables although crossing times depend on the tide. We model crossing time as a function of "+
			"tidal current and schedule departures against it. On the Island Loop route of Northwind Ferries the tide-aware timetable reduced the average "+
			"passenger waiting time from 14.2 to 11.6 minutes, an 18% reduction, with no additional vessel.")
	colW, gap := 222.0, 24.0
	lx, rx := 72.0, 72.0+colW+gap
	top := y - 18
	section := func(x, y float64, head, body string) float64 {
		p.text(x, y, 10.5, helveticaBold, head)
		return p.paragraph(x, y-15, colW, 9.5, 12.5, times, body) - 10
	}
	ly := section(lx, top, "1 Introduction",
		"Ferries on shallow sounds cross faster with the tide than against it, and a timetable written for the slowest crossing leaves "+
			"vessels idle at the pier for much of the day. Operators nevertheless print one timetable per season because passengers "+
			"value departures at memorable times. We ask how much waiting a timetable that follows the tide can save while keeping "+
			"departures on the quarter hour.")
	section(lx, ly, "2 Method",
		"We fitted crossing times recorded over 41 days to the predicted tidal current with a piecewise linear model (mean absolute "+
			"error 1.3 minutes). Departures are then chosen by a mixed integer program that minimises expected passenger waiting time "+
			"subject to crew shifts, a fixed fleet of four vessels and departures on the quarter hour.")
	ry := section(rx, top, "3 Results",
		"Over a simulated summer season the tide-aware timetable reduced the average passenger waiting time from 14.2 to 11.6 minutes, "+
			"an 18% reduction. Missed connections at Brannock fell from 7.5% to 4.1% of transfers. Fuel use was unchanged, because "+
			"vessels still sail the same number of crossings.")
	section(rx, ry, "4 Conclusion",
		"Scheduling against the tide saves passengers time at no cost in vessels or fuel. Northwind Ferries plans to adopt the "+
			"timetable on the Island Loop in 2026; longer routes with stronger currents should gain more.")
	p.text(72, 48, 8, helvetica, "Brannock Maritime Institute Working Paper 2025-04")
	return textPDF(info{title, "Astrid Lindqvist; Rafael Okafor", "Working paper"}, []page{p})
}
