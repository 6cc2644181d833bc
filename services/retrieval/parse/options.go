package parse

import (
	"time"

	"github.com/pdfqa/pdfqa/platform/config"
)

// Default limits, used when the corresponding Options field is zero.
const (
	DefaultMaxBytes        = 200 << 20 // 200 MiB
	DefaultMaxPages        = 5000
	DefaultTimeout         = 2 * time.Minute
	DefaultOCRDPI          = 300
	DefaultMaxRenderPixels = 25_000_000 // ~ A4 at 420 DPI; 25 MB gray, 100 MB RGBA in the sandbox
	DefaultOCRPageTimeout  = 60 * time.Second
	DefaultOCRLanguage     = "eng"
	DefaultMinTextChars    = 10
	DefaultMaxOCRPages     = 200
	// maxObjectsScanned bounds the per-page object walk used to count images.
	maxObjectsScanned = 20_000
	// maxRules bounds the ruling lines kept per page.
	maxRules = 2_000
	// maxWarnings bounds Document.Warnings; the last one counts the rest.
	maxWarnings = 50
)

// OCRMode selects when OCR runs.
type OCRMode int

const (
	// OCRAuto OCRs pages whose text layer has fewer than MinTextChars
	// non-space characters but that do draw something.
	OCRAuto OCRMode = iota
	// OCROff never OCRs.
	OCROff
	// OCRAlways OCRs every page that draws something, replacing the text
	// layer.
	OCRAlways
)

// Options are per-document parse options. The zero value uses the defaults.
type Options struct {
	// Password opens encrypted documents (user or owner password).
	Password string
	// MaxBytes is the largest accepted input (default DefaultMaxBytes).
	MaxBytes int64
	// MaxPages is the largest number of pages parsed (default
	// DefaultMaxPages). Longer documents are truncated to the first MaxPages
	// pages with Document.Truncated set, or rejected with ErrTooManyPages
	// when FailOnTooManyPages is true.
	MaxPages           int
	FailOnTooManyPages bool
	// Timeout bounds the whole parse including OCR (default DefaultTimeout).
	// The context's own deadline also applies; the earlier one wins.
	Timeout time.Duration

	// OCR selects when pages are OCR'd (default OCRAuto).
	OCR OCRMode
	// MinTextChars is the number of non-space text-layer characters below
	// which a page counts as having no text layer (default
	// DefaultMinTextChars). Set to a negative value to treat any text as a
	// text layer.
	MinTextChars int
	// OCRDPI is the render resolution for OCR (default DefaultOCRDPI); it is
	// lowered so that the render stays within MaxRenderPixels.
	OCRDPI int
	// MaxRenderPixels bounds width*height of any render (default
	// DefaultMaxRenderPixels).
	MaxRenderPixels int
	// OCRPageTimeout bounds one Tesseract run (default DefaultOCRPageTimeout).
	OCRPageTimeout time.Duration
	// OCRLanguage is passed to tesseract -l (default "eng").
	OCRLanguage string
	// MaxOCRPages bounds the number of pages OCR'd per document (default
	// DefaultMaxOCRPages); the pages past it that needed OCR are named in
	// one document warning (as page ranges, bounded) and keep no text.
	MaxOCRPages int

	// DisableTables turns table detection off.
	DisableTables bool
	// IncludeChars keeps per-character boxes in Word.Chars (memory heavy).
	IncludeChars bool
	// OmitLines drops Page.Lines (keeps Text and Tables) to save memory.
	OmitLines bool
}

func (o Options) withDefaults() Options {
	config.Default(&o.MaxBytes, DefaultMaxBytes)
	config.Default(&o.MaxPages, DefaultMaxPages)
	config.Default(&o.Timeout, DefaultTimeout)
	if o.MinTextChars == 0 {
		o.MinTextChars = DefaultMinTextChars
	} else if o.MinTextChars < 0 {
		o.MinTextChars = 1
	}
	config.Default(&o.OCRDPI, DefaultOCRDPI)
	config.Default(&o.MaxRenderPixels, DefaultMaxRenderPixels)
	config.Default(&o.OCRPageTimeout, DefaultOCRPageTimeout)
	if o.OCRLanguage == "" {
		o.OCRLanguage = DefaultOCRLanguage
	}
	config.Default(&o.MaxOCRPages, DefaultMaxOCRPages)
	return o
}
