// Package parse turns untrusted PDF bytes into positioned text for the
// retrieval service.
//
// PDFium does the parsing, running as WebAssembly inside wazero (pure Go, no
// cgo), so a malicious document can at worst exhaust the sandbox's bounded
// memory or its time budget; it can never corrupt the Go process. Each document
// is parsed on a PDFium instance borrowed from a pool sized to the CPU count;
// a document that overruns its deadline gets its instance killed and replaced.
//
// Process (the retrieval engine's default) runs the same parser in a pool of
// supervised worker processes, re-executions of the current binary (main
// must call RunWorkerIfRequested first). There PDFium runs without wazero's
// per-call interrupt, about 4x faster; a deadline kills the worker process
// instead, and a crashing document takes down only its own worker.
//
// For every page the parser returns the text in reading order grouped into
// lines and words with bounding boxes (in PDF points, origin at the top-left
// corner of the page, y growing downwards), simple tables detected from
// column alignment (each row rendered together with its column headers), and,
// for pages without a usable text layer, OCR text from Tesseract.
//
// Limits (see Options): input size, page count, per-document timeout, OCR
// render size and the WebAssembly memory limit (see Config). Documents with
// more than MaxPages pages are truncated to the first MaxPages pages and
// flagged with Document.Truncated, unless Options.FailOnTooManyPages is set,
// in which case ErrTooManyPages is returned.
//
// Two files are longer than the project's ~500 lines on purpose: pdfium.go
// is the whole PDFium binding (open, per-page extraction and its error
// mapping read together, one wazero instance's lifecycle), and numtable.go
// is one detector (financial-statement tables: visual rows, value columns,
// spanning headers) whose steps share its row and column types.
package parse

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Parser parses PDF documents. Implementations must be safe for concurrent
// use and must never panic on any input.
type Parser interface {
	// Parse parses a whole PDF held in memory.
	Parse(ctx context.Context, data []byte, opts Options) (*Document, error)
	// ParseReaderAt reads size bytes from r (refusing more than
	// Options.MaxBytes) and parses them.
	ParseReaderAt(ctx context.Context, r io.ReaderAt, size int64, opts Options) (*Document, error)
	// Close releases the parser's resources.
	Close() error
}

// Metadata is the document information dictionary.
type Metadata struct {
	Title        string `json:"title,omitempty"`
	Author       string `json:"author,omitempty"`
	Subject      string `json:"subject,omitempty"`
	Keywords     string `json:"keywords,omitempty"`
	Creator      string `json:"creator,omitempty"`
	Producer     string `json:"producer,omitempty"`
	CreationDate string `json:"creation_date,omitempty"` // raw PDF date string, e.g. D:20220403180542+02'00'
	ModDate      string `json:"mod_date,omitempty"`
}

// Document is the result of parsing one PDF.
type Document struct {
	// PageCount is the number of pages in the file, which may exceed
	// len(Pages) when Truncated is set.
	PageCount int `json:"page_count"`
	// Truncated is set when only the first Options.MaxPages pages were parsed.
	Truncated bool `json:"truncated,omitempty"`
	// Encrypted is set when the file is encrypted (it was opened with the
	// supplied password, or with an empty user password).
	Encrypted bool     `json:"encrypted,omitempty"`
	Metadata  Metadata `json:"metadata"`
	Pages     []Page   `json:"pages"`
	// Warnings lists non-fatal problems (also per page in Page.Warnings).
	Warnings []string `json:"warnings,omitempty"`
}

// Rect is a box in PDF points (1/72 inch) with the origin at the top-left
// corner of the page and y growing downwards: X0 <= X1, Y0 <= Y1.
type Rect struct {
	X0 float64 `json:"x0"`
	Y0 float64 `json:"y0"`
	X1 float64 `json:"x1"`
	Y1 float64 `json:"y1"`
}

// Empty reports whether r has no area.
func (r Rect) Empty() bool { return r.X1 <= r.X0 || r.Y1 <= r.Y0 }

// Union returns the smallest rect containing r and o; empty rects are ignored.
func (r Rect) Union(o Rect) Rect {
	if o.Empty() {
		return r
	}
	if r.Empty() {
		return o
	}
	return Rect{min(r.X0, o.X0), min(r.Y0, o.Y0), max(r.X1, o.X1), max(r.Y1, o.Y1)}
}

// Width of r.
func (r Rect) Width() float64 { return r.X1 - r.X0 }

// Height of r.
func (r Rect) Height() float64 { return r.Y1 - r.Y0 }

// Char is one character with its box. Only filled when Options.IncludeChars.
type Char struct {
	Rune rune `json:"r"`
	Box  Rect `json:"box"`
}

// Word is a run of non-space characters.
type Word struct {
	Text string `json:"text"`
	Box  Rect   `json:"box"`
	// Confidence is the OCR confidence in [0,100]; 0 for text-layer words.
	Confidence float64 `json:"conf,omitempty"`
	Chars      []Char  `json:"chars,omitempty"`
}

// Line is a sequence of words on one baseline.
type Line struct {
	Text  string `json:"text"`
	Box   Rect   `json:"box"`
	Words []Word `json:"words"`
}

// Table is a block of lines whose cells align in columns.
type Table struct {
	Box Rect `json:"box"`
	// Title is the table's own title when it has one ("Condensed
	// Consolidated Statements of Operations"), Units its units ("in
	// millions").
	Title string `json:"title,omitempty"`
	Units string `json:"units,omitempty"`
	// Header holds the column headers, one per column; a multi-line header
	// is joined top down, a spanning header repeated over its columns
	// ("Three Months Ended June 25, 2022"). A column without a header has
	// an empty string. Numeric tables keep their row labels in column 0.
	Header []string `json:"header"`
	// Rows holds the body rows, one cell per column ("" when empty). In
	// numeric tables cell 0 is the row's label path ("Net sales › Products")
	// and values keep their signs ("$82,959", "(1,234)", "—", "(2)%").
	Rows [][]string `json:"rows"`
	// RowBoxes holds each body row's box when known (numeric tables).
	RowBoxes []Rect `json:"row_boxes,omitempty"`
	// Continued is set for a table that continues one from the previous
	// page (its headers and title were carried over).
	Continued bool `json:"continued,omitempty"`
}

// RowLines renders every body row as a self-contained line that names the
// table, the row and each column header with its value, e.g.
// "Condensed Consolidated Statements of Operations (in millions) — Net
// sales › Total net sales: Three Months Ended June 25, 2022 $82,959; Three
// Months Ended June 26, 2021 $81,434". context names the table when it has
// no title of its own (the section it stands in).
func (t Table) RowLines(context string) []string {
	out := make([]string, 0, len(t.Rows))
	for i := range t.Rows {
		if l := t.RowLine(i, context); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// RowLine is RowLines' line for body row i ("" when the row is empty):
// the table's Name, " — " and its RowBody.
func (t Table) RowLine(i int, context string) string {
	body := t.RowBody(i)
	if body == "" {
		return ""
	}
	if name := t.Name(context); name != "" {
		return name + " — " + body
	}
	return body
}

// Name names the table: its title (else context) and its units.
func (t Table) Name(context string) string {
	name := t.Title
	if name == "" {
		name = context
	}
	if t.Units != "" {
		if name != "" {
			name += " "
		}
		name += "(" + t.Units + ")"
	}
	return name
}

// RowBody renders body row i without the table's name: its label path and
// each column header with its value ("" when the row is empty).
func (t Table) RowBody(i int) string {
	if i < 0 || i >= len(t.Rows) {
		return ""
	}
	row := t.Rows[i]
	var b strings.Builder
	label := ""
	if len(row) > 0 {
		label = row[0]
	}
	if label != "" {
		b.WriteString(label)
		b.WriteString(": ")
	}
	n := 0
	for c := 1; c < len(row); c++ {
		if row[c] == "" {
			continue
		}
		if n > 0 {
			b.WriteString("; ")
		}
		n++
		if c < len(t.Header) && t.Header[c] != "" {
			b.WriteString(t.Header[c])
			b.WriteString(" ")
		}
		b.WriteString(row[c])
	}
	if n == 0 && label == "" {
		return ""
	}
	return strings.TrimSuffix(b.String(), ": ")
}

// Markdown renders the table as a markdown table (header row, separator,
// body rows).
func (t Table) Markdown() string {
	var b strings.Builder
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" ")
			b.WriteString(strings.ReplaceAll(c, "|", "\\|"))
			b.WriteString(" |")
		}
		b.WriteString("\n")
	}
	row(t.Header)
	b.WriteString("|")
	for range t.Header {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		row(r)
	}
	return b.String()
}

// Page is one parsed page.
type Page struct {
	// Number is 1-based.
	Number int `json:"number"`
	// Width and Height are the page size in points (after rotation).
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
	// Text is the page text in reading order, one line per "\n".
	Text  string `json:"text"`
	Lines []Line `json:"lines,omitempty"`
	// HasTextLayer is set when the page's own text layer had at least
	// Options.MinTextChars non-space characters.
	HasTextLayer bool `json:"has_text_layer"`
	// TextChars is the number of non-space characters in the text layer.
	TextChars int `json:"text_chars"`
	// OCR is set when Text/Lines come from OCR instead of the text layer.
	OCR bool `json:"ocr,omitempty"`
	// OCRConfidence is the mean word confidence in [0,100] when OCR is set.
	OCRConfidence float64 `json:"ocr_confidence,omitempty"`
	// Images is the number of top-level image objects on the page.
	Images int `json:"images"`
	// Rules are the page's horizontal ruling lines (thin path objects:
	// table borders, the underline of a header spanning its columns).
	Rules []Rect `json:"rules,omitempty"`
	// Fills are the page's shaded rectangles (filled path objects, not
	// white, not rules): cell and row backgrounds of tables.
	Fills  []Rect  `json:"fills,omitempty"`
	Tables []Table `json:"tables,omitempty"`
	// Warnings lists non-fatal problems with this page (for example: OCR
	// needed but Tesseract is not installed).
	Warnings []string `json:"warnings,omitempty"`
}

// IndexText is the text to index for retrieval: the page text followed by
// one self-contained line per table row (Table.RowLines).
func (p *Page) IndexText() string {
	if len(p.Tables) == 0 {
		return p.Text
	}
	var b strings.Builder
	b.WriteString(p.Text)
	for _, t := range p.Tables {
		for _, r := range t.RowLines("") {
			b.WriteString("\n")
			b.WriteString(r)
		}
	}
	return b.String()
}

// String summarises the document for logs.
func (d *Document) String() string {
	return fmt.Sprintf("pdf{pages=%d parsed=%d truncated=%v encrypted=%v title=%q}",
		d.PageCount, len(d.Pages), d.Truncated, d.Encrypted, d.Metadata.Title)
}
