package parse

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Typed errors returned by Parse. Test with errors.Is.
var (
	// ErrInvalidPDF: the input is not a PDF PDFium can open (not a PDF,
	// corrupted or truncated beyond repair).
	ErrInvalidPDF = errors.New("parse: invalid or corrupted PDF")
	// ErrEmpty: the input has zero bytes. Wraps ErrInvalidPDF.
	ErrEmpty = fmt.Errorf("%w: empty input", ErrInvalidPDF)
	// ErrNotPDF: the input has no %PDF- header in its first 1024 bytes.
	// Wraps ErrInvalidPDF.
	ErrNotPDF = fmt.Errorf("%w: not a PDF (no %%PDF- header)", ErrInvalidPDF)
	// ErrNoPages: the document opened but has zero pages. Wraps ErrInvalidPDF.
	ErrNoPages = fmt.Errorf("%w: document has no pages", ErrInvalidPDF)
	// ErrEncrypted: the document is encrypted and no (or a wrong) password
	// was supplied.
	ErrEncrypted = errors.New("parse: document is encrypted and the password is missing or wrong")
	// ErrUnsupportedEncryption: the encryption handler is not supported.
	// Wraps ErrEncrypted.
	ErrUnsupportedEncryption = fmt.Errorf("%w: unsupported security handler", ErrEncrypted)
	// ErrTooLarge: the input exceeds Options.MaxBytes.
	ErrTooLarge = errors.New("parse: document exceeds the size limit")
	// ErrTooManyPages: the document exceeds Options.MaxPages and
	// Options.FailOnTooManyPages is set. The message ends with the counts:
	// "parse: too many pages: 200000 > 5000".
	ErrTooManyPages = errors.New("parse: too many pages")
	// ErrTimeout: the per-document timeout or the caller's deadline expired;
	// the PDFium instance was killed. The error also matches the context
	// error (context.DeadlineExceeded or context.Canceled).
	ErrTimeout = errors.New("parse: timed out")
	// ErrEngine: PDFium failed internally (WebAssembly trap, out of sandbox
	// memory, recovered panic). The document is most likely hostile or
	// badly broken.
	ErrEngine = errors.New("parse: PDF engine failure")
	// ErrClosed: the parser was closed.
	ErrClosed = errors.New("parse: parser is closed")
)

// ErrPageRange: a page number outside the document (RenderPNG).
var ErrPageRange = errors.New("parse: page out of range")

// MaxBrief bounds Brief's result and each warning in Document.Warnings (bytes).
const MaxBrief = 300

// Brief returns err's message as users may read it: its first line only
// (an ErrEngine failure carries WebAssembly's stack trace, a recovered
// panic Go's, on the lines after it), at most MaxBrief bytes. Log err
// itself where the trace is wanted.
func Brief(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return Clip(strings.TrimSpace(s), MaxBrief)
}

// Clip shortens s to at most n bytes on a rune boundary, marking the cut
// with "…".
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n-len("…"), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
