package parse

import (
	"context"
	"image"
	"strings"
	"testing"
	"time"

	"github.com/klippa-app/go-pdfium/requests"

	"github.com/pdfqa/pdfqa/platform/testenv"
)

// scannedPDF renders a text PDF with PDFium and wraps the bitmap in an
// image-only PDF, simulating a scan.
func scannedPDF(t *testing.T, p *PDFium, lines ...string) []byte {
	t.Helper()
	var items []textItem
	for i, l := range lines {
		items = append(items, textItem{72, 700 - float64(i)*24, 16, l})
	}
	src := textPDF("scan", items)
	inst, err := p.pool.GetInstance(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	d, err := inst.OpenDocument(&requests.OpenDocument{File: &src})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: d.Document})
	r, err := inst.RenderPageInDPI(&requests.RenderPageInDPI{
		Page:        requests.Page{ByIndex: &requests.PageByIndex{Document: d.Document, Index: 0}},
		DPI:         150,
		ImageFormat: requests.RenderImageFormatGrayscale,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Cleanup()
	g := r.Result.RenderedImage.(*image.Gray)
	b := g.Bounds()
	cp := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		copy(cp.Pix[y*cp.Stride:(y+1)*cp.Stride], g.Pix[y*g.Stride:y*g.Stride+b.Dx()])
	}
	return imagePDF(cp, 612, 792)
}

func TestOCRImageOnlyPage(t *testing.T) {
	p := testParser(t)
	if !p.TesseractAvailable() {
		testenv.Missing(t, "tesseract not installed (scripts/setup/system.sh installs tesseract-ocr tesseract-ocr-eng)")
	}
	data := scannedPDF(t, p, "Quarterly revenue grew 48 percent", "Remaining performance obligations")
	start := time.Now()
	doc, err := p.Parse(context.Background(), data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("OCR page in %v", time.Since(start))
	pg := doc.Pages[0]
	if pg.HasTextLayer || !pg.OCR || pg.Images != 1 {
		t.Fatalf("page flags: text=%v ocr=%v images=%d warnings=%v", pg.HasTextLayer, pg.OCR, pg.Images, pg.Warnings)
	}
	low := strings.ToLower(pg.Text)
	for _, w := range []string{"quarterly", "revenue", "percent", "performance", "obligations"} {
		if !strings.Contains(low, w) {
			t.Errorf("OCR text %q lacks %q", pg.Text, w)
		}
	}
	if len(pg.Lines) != 2 || pg.OCRConfidence < 50 {
		t.Errorf("lines=%d conf=%.1f", len(pg.Lines), pg.OCRConfidence)
	}
	// Boxes come back in points: the first line's baseline is at y=700 in
	// PDF space, so its box is near 792-700-16 .. 792-700.
	if len(pg.Lines) > 0 {
		b := pg.Lines[0].Box
		if b.X0 < 60 || b.X0 > 85 || b.Y0 < 70 || b.Y1 > 100 {
			t.Errorf("line box %+v", b)
		}
	}
}

func TestOCRMissingTesseract(t *testing.T) {
	p := testParser(t)
	noTess := &PDFium{cfg: Config{TesseractPath: "/nonexistent/tesseract"}, pool: p.pool}
	data := imagePDF(image.NewGray(image.Rect(0, 0, 100, 100)), 200, 200)
	doc, err := noTess.Parse(context.Background(), data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pg := doc.Pages[0]
	if pg.OCR || len(pg.Warnings) == 0 || !strings.Contains(pg.Warnings[0], "tesseract") {
		t.Fatalf("want a tesseract warning, got %+v", pg.Warnings)
	}
}

func TestRenderDPI(t *testing.T) {
	if got := renderDPI(612, 792, 300, 25_000_000); got != 300 {
		t.Errorf("letter: %d", got)
	}
	// A 200x200 inch page must be scaled down to fit the pixel budget.
	if got := renderDPI(14400, 14400, 300, 25_000_000); got != 25 {
		t.Errorf("huge: %d", got)
	}
	if got := renderDPI(1e9, 1e9, 300, 25_000_000); got != 0 {
		t.Errorf("absurd: %d", got)
	}
}
