package parse

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"

	"github.com/klippa-app/go-pdfium/requests"
)

// MaxRenderDPI bounds RenderPNG's resolution.
const MaxRenderDPI = 300

// RenderPNG renders one page (1-based) of a PDF as a PNG at dpi (clamped to
// [20, MaxRenderDPI] and lowered to fit DefaultMaxRenderPixels). It returns
// the PNG bytes and the image size in pixels.
func (p *PDFium) RenderPNG(ctx context.Context, data []byte, password string, page, dpi int) (out []byte, w, h int, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%w: panic: %v", ErrEngine, r)
		}
	}()
	o := Options{Password: password}.withDefaults()
	if err := checkHeader(data, o); err != nil {
		return nil, 0, 0, err
	}
	dpi = max(20, min(dpi, MaxRenderDPI))
	_, inst, release, err := p.instance(ctx, o.Timeout)
	if err != nil {
		return nil, 0, 0, err
	}
	defer release()
	defer func() {
		if err != nil && !isCleanError(err) {
			_ = inst.Kill()
		} else if cerr := inst.Close(); cerr != nil {
			_ = inst.Kill()
		}
	}()
	req := &requests.OpenDocument{File: &data}
	if password != "" {
		req.Password = &password
	}
	opened, err := inst.OpenDocument(req)
	if err != nil {
		return nil, 0, 0, mapOpenError(err, password != "")
	}
	defer inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: opened.Document})
	pc, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: opened.Document})
	if err != nil {
		return nil, 0, 0, engineErr("page count", err)
	}
	if page < 1 || page > pc.PageCount {
		return nil, 0, 0, fmt.Errorf("%w: page %d out of range 1..%d", ErrPageRange, page, pc.PageCount)
	}
	pg := requests.Page{ByIndex: &requests.PageByIndex{Document: opened.Document, Index: page - 1}}
	if sz, err := inst.FPDF_GetPageSizeByIndex(&requests.FPDF_GetPageSizeByIndex{Document: opened.Document, Index: page - 1}); err == nil {
		if d := renderDPI(sz.Width, sz.Height, dpi, o.MaxRenderPixels); d > 0 {
			dpi = d
		}
	}
	r, err := inst.RenderPageInDPI(&requests.RenderPageInDPI{Page: pg, DPI: dpi})
	if err != nil {
		return nil, 0, 0, engineErr("render", err)
	}
	defer r.Cleanup()
	img := r.Result.RenderedImage
	// Copy out of the sandbox before encoding: the buffer is only valid until Cleanup.
	var cp image.Image
	switch m := img.(type) {
	case *image.RGBA:
		c := *m
		c.Pix = append([]byte(nil), m.Pix...)
		cp = &c
	case *image.Gray:
		c := *m
		c.Pix = append([]byte(nil), m.Pix...)
		cp = &c
	default:
		return nil, 0, 0, fmt.Errorf("%w: unexpected render format %T", ErrEngine, img)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, cp); err != nil {
		return nil, 0, 0, err
	}
	b := cp.Bounds()
	return buf.Bytes(), b.Dx(), b.Dy(), nil
}
