package parse

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/requests"
)

// OCR: the page is rendered by PDFium in grayscale at Options.OCRDPI
// (lowered to fit Options.MaxRenderPixels), written as a PGM file and run
// through `tesseract <img> stdout -l <lang> --psm 3 --dpi <dpi> tsv` with a
// timeout. The TSV output gives word boxes in pixels, converted back to
// points.

// errNoTesseract is reported as a page warning.
var errNoTesseract = errors.New("page has no text layer and needs OCR, but tesseract is not installed (install Debian packages tesseract-ocr tesseract-ocr-eng)")

func (p *PDFium) tesseract() (string, error) {
	p.tessOnce.Do(func() {
		name := p.cfg.TesseractPath
		if name == "" {
			name = "tesseract"
		}
		p.tessPath, p.tessErr = exec.LookPath(name)
		if p.tessErr != nil {
			p.tessErr = errNoTesseract
		}
	})
	return p.tessPath, p.tessErr
}

// TesseractAvailable reports whether OCR can run.
func (p *PDFium) TesseractAvailable() bool {
	_, err := p.tesseract()
	return err == nil
}

// ocrPage renders and OCRs one page. Errors that are not runtime failures
// are meant as page warnings.
func (p *PDFium) ocrPage(ctx context.Context, inst pdfium.Pdfium, pg requests.Page, wPt, hPt float64, o Options) ([]Line, float64, string, error) {
	bin, err := p.tesseract()
	if err != nil {
		return nil, 0, "", err
	}
	dpi := renderDPI(wPt, hPt, o.OCRDPI, o.MaxRenderPixels)
	if dpi < 20 {
		return nil, 0, "", fmt.Errorf("page too large to render for OCR (%.0fx%.0f pt)", wPt, hPt)
	}
	r, err := inst.RenderPageInDPI(&requests.RenderPageInDPI{
		Page:        pg,
		DPI:         dpi,
		ImageFormat: requests.RenderImageFormatGrayscale,
	})
	if err != nil {
		return nil, 0, "", err
	}
	pgm, err := encodePGM(r.Result.RenderedImage)
	r.Cleanup()
	if err != nil {
		return nil, 0, "", err
	}
	f, err := os.CreateTemp("", "pdfqa-ocr-*.pgm")
	if err != nil {
		return nil, 0, "", fmt.Errorf("ocr temp file: %v", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(pgm); err != nil {
		f.Close()
		return nil, 0, "", fmt.Errorf("ocr temp file: %v", err)
	}
	f.Close()

	tctx, cancel := context.WithTimeout(ctx, remaining(ctx, o.OCRPageTimeout))
	defer cancel()
	cmd := exec.CommandContext(tctx, bin, f.Name(), "stdout", "-l", o.OCRLanguage, "--psm", "3", "--dpi", strconv.Itoa(dpi), "tsv")
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if tctx.Err() != nil {
			if ctx.Err() != nil {
				return nil, 0, "", ctx.Err()
			}
			return nil, 0, "", fmt.Errorf("ocr timed out after %s", o.OCRPageTimeout)
		}
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 300 {
			msg = msg[:300]
		}
		return nil, 0, "", fmt.Errorf("ocr failed: %v: %s", err, msg)
	}
	lines, conf := parseTSV(stdout.Bytes(), 72/float64(dpi))
	warn := ""
	if len(lines) == 0 {
		warn = "ocr found no text"
	}
	return lines, conf, warn, nil
}

func encodePGM(img image.Image) ([]byte, error) {
	g, ok := img.(*image.Gray)
	if !ok || g == nil {
		return nil, fmt.Errorf("unexpected render format %T", img)
	}
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	var buf bytes.Buffer
	buf.Grow(w*h + 32)
	fmt.Fprintf(&buf, "P5\n%d %d\n255\n", w, h)
	for y := 0; y < h; y++ {
		off := y * g.Stride
		buf.Write(g.Pix[off : off+w])
	}
	return buf.Bytes(), nil
}

// parseTSV converts tesseract TSV (level page block par line word left top
// width height conf text) into lines; scale converts pixels to points.
func parseTSV(tsv []byte, scale float64) ([]Line, float64) {
	type key struct{ block, par, line int }
	var (
		lines   []Line
		curKey  key
		have    bool
		cur     Line
		sumConf float64
		nConf   int
	)
	flush := func() {
		if len(cur.Words) > 0 {
			parts := make([]string, len(cur.Words))
			for i, w := range cur.Words {
				parts[i] = w.Text
			}
			cur.Text = strings.Join(parts, " ")
			lines = append(lines, cur)
		}
		cur = Line{}
	}
	sc := bufio.NewScanner(bytes.NewReader(tsv))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 12 || f[0] != "5" {
			continue
		}
		text := strings.TrimSpace(f[11])
		if text == "" {
			continue
		}
		num := func(i int) float64 { v, _ := strconv.ParseFloat(f[i], 64); return v }
		k := key{int(num(2)), int(num(3)), int(num(4))}
		if !have || k != curKey {
			flush()
			curKey, have = k, true
		}
		conf := num(10)
		box := Rect{X0: num(6) * scale, Y0: num(7) * scale}
		box.X1 = box.X0 + num(8)*scale
		box.Y1 = box.Y0 + num(9)*scale
		cur.Words = append(cur.Words, Word{Text: text, Box: box, Confidence: max(conf, 0)})
		cur.Box = cur.Box.Union(box)
		if conf >= 0 {
			sumConf += conf
			nConf++
		}
	}
	flush()
	if nConf == 0 {
		return lines, 0
	}
	return lines, sumConf / float64(nConf)
}
