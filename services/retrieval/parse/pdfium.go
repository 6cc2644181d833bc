package parse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/enums"
	pdfiumerrors "github.com/klippa-app/go-pdfium/errors"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// DefaultMemoryLimitBytes is the default WebAssembly memory limit per PDFium
// instance.
const DefaultMemoryLimitBytes = 1 << 30 // 1 GiB

// Config configures a PDFium parser (process-wide settings; per-document
// settings are in Options).
type Config struct {
	// Instances is the number of PDFium instances, i.e. documents parsed in
	// parallel (default runtime.NumCPU()). Further Parse calls wait.
	Instances int
	// CacheDir holds wazero's compilation cache so that compiling the PDFium
	// module (several seconds) happens once per machine. Default:
	// $XDG_CACHE_HOME/pdfqa/wazero (os.UserCacheDir). "-" disables the
	// on-disk cache.
	CacheDir string
	// MemoryLimitBytes bounds the linear memory of each instance (default
	// DefaultMemoryLimitBytes, max 4 GiB). A document that needs more fails
	// with ErrEngine.
	MemoryLimitBytes int64
	// ReuseInstances keeps an instance for the next document after a
	// successful parse. Default false: every document gets a fresh instance
	// (instantiation is cheap once the module is compiled, and no state or
	// grown memory leaks from one hostile document to the next).
	ReuseInstances bool
	// FontDir, when set, is mounted read-only into the sandbox at
	// /usr/share/fonts so PDFium can find system fonts for non-embedded
	// fonts when rendering for OCR. By default the sandbox sees no host
	// files at all.
	FontDir string
	// DisableInterrupt turns off wazero's CloseOnContextDone. By default a
	// parse that overruns its deadline is interrupted inside PDFium and its
	// instance is destroyed. That costs one watcher goroutine per PDFium
	// call (about 4x slower text extraction: measured 8.6 vs 36.6 pages/s
	// on 2 cores). With DisableInterrupt the caller still gets ErrTimeout on
	// time and the instance is dropped from the pool, but the abandoned
	// PDFium call keeps running (burning one CPU, outside the pool's count)
	// until it finishes on its own.
	DisableInterrupt bool
	// TesseractPath is the tesseract binary (default: "tesseract" looked up
	// in PATH). When it is missing, pages that need OCR get a warning.
	TesseractPath string
}

// PDFium is the Parser backed by PDFium compiled to WebAssembly.
type PDFium struct {
	cfg  Config
	pool pdfium.Pool

	calls

	tessOnce sync.Once
	tessPath string
	tessErr  error
}

var _ Parser = (*PDFium)(nil)

// New compiles (or loads from cache) the PDFium module and creates the pool.
func New(cfg Config) (*PDFium, error) {
	if cfg.Instances <= 0 {
		cfg.Instances = runtime.NumCPU()
	}
	if cfg.MemoryLimitBytes <= 0 {
		cfg.MemoryLimitBytes = DefaultMemoryLimitBytes
	}
	pages := cfg.MemoryLimitBytes / 65536
	if pages > 65536 {
		pages = 65536
	}
	if pages < 256 {
		pages = 256 // 16 MiB: PDFium does not initialise in less
	}
	rc := wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
		WithCloseOnContextDone(!cfg.DisableInterrupt).
		WithMemoryLimitPages(uint32(pages))
	if cfg.CacheDir != "-" {
		dir := cfg.CacheDir
		if dir == "" {
			if base, err := os.UserCacheDir(); err == nil {
				dir = filepath.Join(base, "pdfqa", "wazero")
			} else {
				dir = filepath.Join(os.TempDir(), "pdfqa-wazero-cache")
			}
		}
		if err := os.MkdirAll(dir, 0o755); err == nil {
			if cache, err := wazero.NewCompilationCacheWithDir(dir); err == nil {
				rc = rc.WithCompilationCache(cache)
			}
		}
	}
	fs := wazero.NewFSConfig()
	if cfg.FontDir != "" {
		fs = fs.WithReadOnlyDirMount(cfg.FontDir, "/usr/share/fonts")
	}
	pool, err := webassembly.Init(webassembly.Config{
		MinIdle:       0,
		MaxIdle:       cfg.Instances,
		MaxTotal:      cfg.Instances,
		RuntimeConfig: rc,
		FSConfig:      fs,
		Stdout:        io.Discard,
		Stderr:        io.Discard,
		ReuseWorkers:  cfg.ReuseInstances,
	})
	if err != nil {
		return nil, fmt.Errorf("parse: init pdfium: %w", err)
	}
	return &PDFium{cfg: cfg, pool: pool}, nil
}

// Close waits for running parses to finish and releases the pool.
func (p *PDFium) Close() error {
	if !p.shut(nil) {
		return nil
	}
	return p.pool.Close()
}

// ParseReaderAt implements Parser.
func (p *PDFium) ParseReaderAt(ctx context.Context, r io.ReaderAt, size int64, opts Options) (*Document, error) {
	buf, err := readAllAt(r, size, opts.withDefaults())
	if err != nil {
		return nil, err
	}
	return p.Parse(ctx, buf, opts)
}

// checkHeader applies the cheap checks that need no PDFium.
func checkHeader(data []byte, o Options) error {
	if len(data) == 0 {
		return ErrEmpty
	}
	if int64(len(data)) > o.MaxBytes {
		return fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, len(data), o.MaxBytes)
	}
	// PDFium requires the header within the first 1024 bytes, as do
	// Acrobat and the spec's implementation notes.
	head := data[:min(len(data), 1024)]
	if !bytes.Contains(head, []byte("%PDF-")) {
		return ErrNotPDF
	}
	return nil
}

// Parse implements Parser. It never panics; a parse that overruns the
// deadline returns ErrTimeout immediately and its PDFium instance is killed.
func (p *PDFium) Parse(ctx context.Context, data []byte, opts Options) (doc *Document, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("%w: panic: %v", ErrEngine, r)
		}
	}()
	o := opts.withDefaults()
	if err := checkHeader(data, o); err != nil {
		return nil, err
	}
	ctx, inst, release, err := p.instance(ctx, o.Timeout)
	if err != nil {
		return nil, err
	}
	defer release()

	type result struct {
		doc *Document
		err error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		defer func() {
			if r := recover(); r != nil {
				res = result{nil, fmt.Errorf("%w: panic: %v\n%s", ErrEngine, r, debug.Stack())}
			}
			done <- res
		}()
		res.doc, res.err = p.parse(ctx, inst, data, o)
	}()

	select {
	case res := <-done:
		if res.err != nil && !isCleanError(res.err) {
			// The instance may be in a bad state (trap, OOM): drop it.
			_ = inst.Kill()
		} else if cerr := inst.Close(); cerr != nil {
			_ = inst.Kill()
		}
		if res.err != nil && ctx.Err() != nil && !isCleanError(res.err) {
			return nil, timeoutErr(ctx, "parse")
		}
		return res.doc, res.err
	case <-ctx.Done():
		// Interrupt the WebAssembly execution; the goroutine then sees an
		// error from its pending call and exits (done is buffered).
		_ = inst.Kill()
		return nil, timeoutErr(ctx, "parse")
	}
}

// instance admits a call and takes a pool instance within timeout, under
// the returned context; release (the caller defers it once err is nil) ends
// the deadline and the call. Closing or killing inst is the caller's.
func (p *PDFium) instance(ctx context.Context, timeout time.Duration) (context.Context, pdfium.Pdfium, func(), error) {
	if err := p.enter(); err != nil {
		return ctx, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	done := func() { cancel(); p.wg.Done() }
	inst, err := p.pool.GetInstanceWithContext(ctx)
	if err != nil {
		if ctx.Err() != nil {
			err = timeoutErr(ctx, "waiting for a PDFium instance")
		} else {
			err = fmt.Errorf("%w: get instance: %v", ErrEngine, err)
		}
		done()
		return ctx, nil, nil, err
	}
	return ctx, inst, done, nil
}

func timeoutErr(ctx context.Context, what string) error {
	return fmt.Errorf("%w (%s): %w", ErrTimeout, what, context.Cause(ctx))
}

// isCleanError reports errors after which the instance is still healthy.
func isCleanError(err error) bool {
	return errors.Is(err, ErrInvalidPDF) || errors.Is(err, ErrEncrypted) || errors.Is(err, ErrTooManyPages)
}

// parse runs on a borrowed instance.
func (p *PDFium) parse(ctx context.Context, inst pdfium.Pdfium, data []byte, o Options) (*Document, error) {
	req := &requests.OpenDocument{File: &data}
	if o.Password != "" {
		req.Password = &o.Password
	}
	opened, err := inst.OpenDocument(req)
	if err != nil {
		return nil, mapOpenError(err, o.Password != "")
	}
	docRef := opened.Document
	defer inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: docRef})

	doc := &Document{}
	pc, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: docRef})
	if err != nil {
		return nil, engineErr("page count", err)
	}
	doc.PageCount = pc.PageCount
	if doc.PageCount <= 0 {
		return nil, ErrNoPages
	}
	if rev, err := inst.FPDF_GetSecurityHandlerRevision(&requests.FPDF_GetSecurityHandlerRevision{Document: docRef}); err == nil && rev.SecurityHandlerRevision != -1 {
		doc.Encrypted = true
	}
	if md, err := inst.GetMetaData(&requests.GetMetaData{Document: docRef}); err == nil {
		m := &doc.Metadata
		fields := map[string]*string{
			"Title": &m.Title, "Author": &m.Author, "Subject": &m.Subject, "Keywords": &m.Keywords,
			"Creator": &m.Creator, "Producer": &m.Producer, "CreationDate": &m.CreationDate, "ModDate": &m.ModDate,
		}
		for _, t := range md.Tags {
			if f, ok := fields[t.Tag]; ok {
				*f = cleanMeta(t.Value)
			}
		}
	}

	n := doc.PageCount
	if n > o.MaxPages {
		if o.FailOnTooManyPages {
			return nil, fmt.Errorf("%w: %d > %d", ErrTooManyPages, n, o.MaxPages)
		}
		n = o.MaxPages
		doc.Truncated = true
		doc.Warnings = append(doc.Warnings, fmt.Sprintf("document has %d pages; only the first %d were parsed", doc.PageCount, n))
	}

	ocr := ocrBudget{left: o.MaxOCRPages}
	doc.Pages = make([]Page, 0, n)
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, timeoutErr(ctx, fmt.Sprintf("page %d", i+1))
		}
		page, err := p.parsePage(ctx, inst, docRef, i, o, &ocr)
		if err != nil {
			if ctx.Err() != nil {
				return nil, timeoutErr(ctx, fmt.Sprintf("page %d", i+1))
			}
			if errors.Is(err, ErrEngine) {
				return nil, err
			}
			// A single broken page does not fail the document.
			page = Page{Number: i + 1, Warnings: []string{Brief(err)}}
		}
		for j, w := range page.Warnings {
			page.Warnings[j] = Clip(w, MaxBrief)
			doc.Warnings = append(doc.Warnings, Clip(fmt.Sprintf("page %d: %s", i+1, w), MaxBrief))
		}
		doc.Pages = append(doc.Pages, page)
	}
	if len(ocr.skipped) > 0 {
		doc.Warnings = append(doc.Warnings, fmt.Sprintf("%d pages need OCR past the per-document OCR limit of %d and have no text (pages %s)",
			len(ocr.skipped), o.MaxOCRPages, PageRanges(ocr.skipped, 8)))
	}
	doc.Warnings = boundWarnings(doc.Warnings)
	linkTables(doc.Pages)
	return doc, nil
}

// ocrBudget is a document's OCR allowance: pages left, and the pages that
// needed OCR after it ran out.
type ocrBudget struct {
	left    int
	skipped []int
}

// boundWarnings keeps the first maxWarnings-1 warnings and counts the rest
// in a last one.
func boundWarnings(ws []string) []string {
	if len(ws) <= maxWarnings {
		return ws
	}
	return append(ws[:maxWarnings-1:maxWarnings-1], fmt.Sprintf("... and %d more warnings", len(ws)-(maxWarnings-1)))
}

// PageRanges writes sorted page numbers as ranges ("1-3, 7, 9-12"), at most
// maxRanges of them, then how many pages the rest hold ("… and 40 more").
func PageRanges[T ~int | ~int32](pages []T, maxRanges int) string {
	var b strings.Builder
	ranges := 0
	for i := 0; i < len(pages); {
		j := i
		for j+1 < len(pages) && pages[j+1] == pages[j]+1 {
			j++
		}
		if ranges == maxRanges {
			fmt.Fprintf(&b, " … and %d more", len(pages)-i)
			break
		}
		if ranges > 0 {
			b.WriteString(", ")
		}
		if j > i {
			fmt.Fprintf(&b, "%d-%d", pages[i], pages[j])
		} else {
			fmt.Fprintf(&b, "%d", pages[i])
		}
		ranges++
		i = j + 1
	}
	return b.String()
}

// engineErr marks errors from the WebAssembly runtime itself (traps, closed
// module, exhausted memory) as ErrEngine.
func engineErr(what string, err error) error {
	return fmt.Errorf("%w: %s: %v", ErrEngine, what, err)
}

func mapOpenError(err error, hadPassword bool) error {
	switch {
	case errors.Is(err, pdfiumerrors.ErrPassword):
		if hadPassword {
			return fmt.Errorf("%w (wrong password)", ErrEncrypted)
		}
		return fmt.Errorf("%w (password required)", ErrEncrypted)
	case errors.Is(err, pdfiumerrors.ErrSecurity):
		return ErrUnsupportedEncryption
	case errors.Is(err, pdfiumerrors.ErrFormat), errors.Is(err, pdfiumerrors.ErrFile),
		errors.Is(err, pdfiumerrors.ErrUnknown), errors.Is(err, pdfiumerrors.ErrPage):
		return fmt.Errorf("%w: %v", ErrInvalidPDF, err)
	default:
		return engineErr("open", err)
	}
}

func cleanMeta(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\x00", ""))
	if len(s) > 4096 {
		s = s[:4096]
	}
	return s
}

// pageErr is a non-fatal per-page failure.
type pageErr struct{ msg string }

func (e *pageErr) Error() string { return e.msg }

func (p *PDFium) parsePage(ctx context.Context, inst pdfium.Pdfium, docRef references.FPDF_DOCUMENT, idx int, o Options, ocr *ocrBudget) (Page, error) {
	page := Page{Number: idx + 1}
	lp, err := inst.FPDF_LoadPage(&requests.FPDF_LoadPage{Document: docRef, Index: idx})
	if err != nil {
		if isRuntimeFailure(err) {
			return page, engineErr("load page", err)
		}
		return page, &pageErr{fmt.Sprintf("could not load page: %v", err)}
	}
	pageRef := lp.Page
	defer inst.FPDF_ClosePage(&requests.FPDF_ClosePage{Page: pageRef})
	pg := requests.Page{ByReference: &pageRef}

	if w, err := inst.FPDF_GetPageWidthF(&requests.FPDF_GetPageWidthF{Page: pg}); err == nil {
		page.Width = float64(w.PageWidth)
	}
	if h, err := inst.FPDF_GetPageHeightF(&requests.FPDF_GetPageHeightF{Page: pg}); err == nil {
		page.Height = float64(h.PageHeight)
	}
	if !finite(page.Width) || !finite(page.Height) || page.Width < 0 || page.Height < 0 {
		page.Width, page.Height = 0, 0
	}

	objects := 0
	if c, err := inst.FPDFPage_CountObjects(&requests.FPDFPage_CountObjects{Page: pg}); err == nil {
		objects = c.Count
		for j := 0; j < min(objects, maxObjectsScanned); j++ {
			obj, err := inst.FPDFPage_GetObject(&requests.FPDFPage_GetObject{Page: pg, Index: j})
			if err != nil {
				break
			}
			t, err := inst.FPDFPageObj_GetType(&requests.FPDFPageObj_GetType{PageObject: obj.PageObject})
			if err != nil {
				continue
			}
			switch t.Type {
			case enums.FPDF_PAGEOBJ_IMAGE:
				page.Images++
			case enums.FPDF_PAGEOBJ_PATH:
				if len(page.Rules) >= maxRules {
					continue
				}
				b, err := inst.FPDFPageObj_GetBounds(&requests.FPDFPageObj_GetBounds{PageObject: obj.PageObject})
				if err != nil {
					continue
				}
				r := Rect{X0: float64(b.Left), X1: float64(b.Right), Y0: page.Height - float64(b.Top), Y1: page.Height - float64(b.Bottom)}
				if isRule(r) {
					page.Rules = append(page.Rules, r)
				} else if isFillBox(r, page.Width) && len(page.Fills) < maxRules && shaded(inst, obj.PageObject) {
					page.Fills = append(page.Fills, r)
				}
			}
		}
	} else if isRuntimeFailure(err) {
		return page, engineErr("count objects", err)
	}

	st, err := inst.GetPageTextStructured(&requests.GetPageTextStructured{
		Page: pg,
		Mode: requests.GetPageTextStructuredModeChars,
	})
	if err != nil {
		if isRuntimeFailure(err) {
			return page, engineErr("text", err)
		}
		page.Warnings = append(page.Warnings, fmt.Sprintf("text extraction failed: %v", err))
	} else {
		chars := make([]rawChar, 0, len(st.Chars))
		for _, c := range st.Chars {
			var r rune
			for _, rr := range c.Text {
				r = rr
				break
			}
			pp := c.PointPosition
			// PDFium reports page space (origin bottom-left, y up); flip.
			chars = append(chars, rawChar{r: r, box: Rect{
				X0: pp.Left, X1: pp.Right,
				Y0: page.Height - pp.Top, Y1: page.Height - pp.Bottom,
			}})
		}
		page.Lines, page.TextChars = buildLines(chars, o.IncludeChars)
	}
	page.HasTextLayer = page.TextChars >= o.MinTextChars

	needOCR := objects > 0 && (o.OCR == OCRAlways || (o.OCR == OCRAuto && !page.HasTextLayer))
	if needOCR {
		if ocr.left <= 0 {
			ocr.skipped = append(ocr.skipped, page.Number) // one document warning names them
		} else {
			ocr.left--
			lines, conf, warn, err := p.ocrPage(ctx, inst, pg, page.Width, page.Height, o)
			if err != nil {
				if isRuntimeFailure(err) {
					return page, engineErr("render", err)
				}
				page.Warnings = append(page.Warnings, err.Error())
			} else {
				if warn != "" {
					page.Warnings = append(page.Warnings, warn)
				}
				if len(lines) > 0 || o.OCR == OCRAlways {
					page.Lines = lines
					page.OCR = true
					page.OCRConfidence = conf
				}
			}
		}
	}

	page.Text = linesText(page.Lines)
	if !o.DisableTables {
		page.Tables = detectTables(page.Lines, page.Rules, page.Fills)
	}
	if o.OmitLines {
		page.Lines = nil
	}
	return page, nil
}

// isRuntimeFailure distinguishes WebAssembly runtime failures (closed
// module, trap, memory exhaustion) from ordinary PDFium "no result" errors.
func isRuntimeFailure(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	for _, m := range []string{"module closed", "exit_code", "wasm error", "out of bounds", "unreachable", "instance is already closed", "instance is closed", "context canceled", "deadline exceeded", "panic"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// renderDPI picks the largest DPI <= want for which the page fits maxPixels.
func renderDPI(wPt, hPt float64, want, maxPixels int) int {
	if wPt <= 0 || hPt <= 0 {
		return want
	}
	wIn, hIn := wPt/72, hPt/72
	limit := math.Sqrt(float64(maxPixels) / (wIn * hIn))
	dpi := min(float64(want), math.Floor(limit))
	if dpi < 1 {
		return 0
	}
	return int(dpi)
}

// deadlineTimer is used by OCR to respect both the per-page and the
// document deadlines.
func remaining(ctx context.Context, d time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if r := time.Until(dl); r < d {
			return r
		}
	}
	return d
}

// shaded reports whether path object obj is filled with a colour other
// than white (a cell or row background, not a page's white ground).
func shaded(inst pdfium.Pdfium, obj references.FPDF_PAGEOBJECT) bool {
	dm, err := inst.FPDFPath_GetDrawMode(&requests.FPDFPath_GetDrawMode{PageObject: obj})
	if err != nil || dm.FillMode == enums.FPDF_FILLMODE_NONE {
		return false
	}
	fc, err := inst.FPDFPageObj_GetFillColor(&requests.FPDFPageObj_GetFillColor{PageObject: obj})
	if err != nil || fc == nil {
		return false
	}
	c := fc.FillColor
	return c.A > 0 && !(c.R >= 250 && c.G >= 250 && c.B >= 250)
}
