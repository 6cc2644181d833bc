package parse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/retrieval/parse/pdftest"
)

type sampleEntry struct {
	Path      string `json:"path"`
	Pages     int    `json:"pages"`
	Encrypted bool   `json:"encrypted"`
	Images    *int   `json:"images"`
}

// knownUnopenable lists samples PDFium itself rejects (verified with the
// same PDFium build): a linearized file with a corrupted first xref table.
var knownUnopenable = map[string]bool{
	"017-unreadable-meta-data/unreadablemetadata.pdf": true,
}

// samplePasswords maps encrypted samples to their user password (py-pdf
// sample-files README).
var samplePasswords = map[string]string{
	"005-libreoffice-writer-password/libreoffice-writer-password.pdf": "openpassword",
}

func TestSamplesFromFilesJSON(t *testing.T) {
	dir := testenv.Data(t, "pdf-samples")
	raw, err := os.ReadFile(filepath.Join(dir, "files.json"))
	if err != nil {
		t.Fatalf("files.json: %v", err)
	}
	var idx struct {
		Data []sampleEntry `json:"data"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, e := range idx.Data {
		path := filepath.Join(dir, e.Path)
		if _, err := os.Stat(path); err != nil {
			continue // files.json lists more samples than are checked out
		}
		seen++
		t.Run(e.Path, func(t *testing.T) {
			if knownUnopenable[e.Path] {
				_, err := parseFile(t, path, Options{OCR: OCROff})
				if !errors.Is(err, ErrInvalidPDF) {
					t.Fatalf("want ErrInvalidPDF for known-unopenable sample, got %v", err)
				}
				t.Skip("PDFium cannot open this sample (corrupt linearized xref); typed error checked")
			}
			opts := Options{OCR: OCROff}
			if e.Encrypted {
				_, err := parseFile(t, path, opts)
				if !errors.Is(err, ErrEncrypted) {
					t.Fatalf("no password: want ErrEncrypted, got %v", err)
				}
				_, err = parseFile(t, path, Options{OCR: OCROff, Password: "wrong"})
				if !errors.Is(err, ErrEncrypted) {
					t.Fatalf("wrong password: want ErrEncrypted, got %v", err)
				}
				pw, ok := samplePasswords[e.Path]
				if !ok {
					t.Skip("no known password")
				}
				opts.Password = pw
			}
			doc, err := parseFile(t, path, opts)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if doc.PageCount != e.Pages || len(doc.Pages) != e.Pages {
				t.Errorf("pages = %d (parsed %d), want %d", doc.PageCount, len(doc.Pages), e.Pages)
			}
			if doc.Encrypted != e.Encrypted {
				t.Errorf("encrypted = %v, want %v", doc.Encrypted, e.Encrypted)
			}
			for i, p := range doc.Pages {
				if p.Number != i+1 || p.Width <= 0 || p.Height <= 0 {
					t.Errorf("page %d: number %d size %vx%v", i+1, p.Number, p.Width, p.Height)
				}
			}
			if e.Encrypted && !strings.Contains(doc.Pages[0].Text, " ") {
				t.Errorf("decrypted text looks empty: %q", doc.Pages[0].Text)
			}
		})
	}
	if seen == 0 {
		t.Fatal("no samples present")
	}
}

func TestTypedErrors(t *testing.T) {
	p := testParser(t)
	ctx := context.Background()
	good := textPDF("t", []textItem{{72, 700, 12, "Hello typed errors"}})

	cases := []struct {
		name string
		data []byte
		opts Options
		want error
	}{
		{"empty", nil, Options{}, ErrEmpty},
		{"empty-is-invalid", []byte{}, Options{}, ErrInvalidPDF},
		{"not-a-pdf", []byte("<html><body>hello</body></html>"), Options{}, ErrNotPDF},
		{"not-a-pdf-binary", bytes.Repeat([]byte{0x89, 'P', 'N', 'G', 0}, 400), Options{}, ErrInvalidPDF},
		{"header-only", []byte("%PDF-1.7\n"), Options{}, ErrInvalidPDF},
		{"truncated", good[:len(good)/3], Options{}, ErrInvalidPDF},
		{"garbage-after-header", append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("(((<<[[["), 5000)...), Options{}, ErrInvalidPDF},
		{"too-large", good, Options{MaxBytes: 100}, ErrTooLarge},
		{"zero-pages", pdftest.Assemble([]string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>", "<< >>"}), Options{}, ErrNoPages},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := p.Parse(ctx, c.data, c.opts)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestPageLimit(t *testing.T) {
	p := testParser(t)
	var pages [][]textItem
	for i := 0; i < 5; i++ {
		pages = append(pages, []textItem{{72, 700, 12, fmt.Sprintf("Page number %d text", i+1)}})
	}
	data := textPDF("five", pages...)
	doc, err := p.Parse(context.Background(), data, Options{MaxPages: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !doc.Truncated || doc.PageCount != 5 || len(doc.Pages) != 2 || doc.Pages[1].Text != "Page number 2 text" {
		t.Fatalf("truncation: %v pages=%d text=%q", doc, len(doc.Pages), doc.Pages[len(doc.Pages)-1].Text)
	}
	if doc.Metadata.Title != "five" || doc.Metadata.Author != "pdfqa test" {
		t.Errorf("metadata %+v", doc.Metadata)
	}
	if _, err := p.Parse(context.Background(), data, Options{MaxPages: 2, FailOnTooManyPages: true}); !errors.Is(err, ErrTooManyPages) {
		t.Fatalf("want ErrTooManyPages, got %v", err)
	}
}

func TestTimeoutKillsInstance(t *testing.T) {
	p := testParser(t)
	data := testenv.ReadData(t, "pdf-samples", "009-pdflatex-geotopo", "GeoTopo-komprimiert.pdf")
	start := time.Now()
	_, err := p.Parse(context.Background(), data, Options{Timeout: 50 * time.Millisecond, OCR: OCROff})
	el := time.Since(start)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want ErrTimeout wrapping DeadlineExceeded, got %v", err)
	}
	if el > 2*time.Second {
		t.Fatalf("timeout took %v", el)
	}
	// The pool must still work after the kill.
	doc, err := p.Parse(context.Background(), textPDF("x", []textItem{{72, 700, 12, "still alive"}}), Options{})
	if err != nil || doc.Pages[0].Text != "still alive" {
		t.Fatalf("after kill: %v %v", doc, err)
	}
	// A cancelled caller context is honoured too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Parse(ctx, data, Options{}); !errors.Is(err, ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestWordsLinesBoxes(t *testing.T) {
	p := testParser(t)
	data := textPDF("boxes",
		[]textItem{{72, 720, 12, "First line here,"}, {72, 700, 12, "second line."}, {300, 700, 12, "Right"}})
	doc, err := p.Parse(context.Background(), data, Options{IncludeChars: true})
	if err != nil {
		t.Fatal(err)
	}
	pg := doc.Pages[0]
	if pg.Width != 612 || pg.Height != 792 || !pg.HasTextLayer || pg.OCR {
		t.Fatalf("page %+v", pg)
	}
	if len(pg.Lines) < 2 || pg.Lines[0].Text != "First line here," {
		t.Fatalf("lines: %q", pg.Text)
	}
	w := pg.Lines[0].Words[0]
	if w.Text != "First" || len(w.Chars) != 5 {
		t.Fatalf("word %+v", w)
	}
	// Top-left origin: y of a baseline at 720 is about 792-720 = 72.
	if w.Box.X0 < 71 || w.Box.X0 > 74 || w.Box.Y1 < 70 || w.Box.Y1 > 75 || w.Box.Y0 > w.Box.Y1 {
		t.Fatalf("box %+v", w.Box)
	}
	if !strings.Contains(pg.Text, "second line.") || !strings.Contains(pg.Text, "Right") {
		t.Fatalf("text %q", pg.Text)
	}
}

func TestEarningsCalls(t *testing.T) {
	files := testenv.GlobData(t, "dev", "earnings-calls", "*.pdf")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			doc, err := parseFile(t, f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if doc.PageCount < 2 || len(doc.Pages) != doc.PageCount {
				t.Fatalf("pages %d/%d", len(doc.Pages), doc.PageCount)
			}
			for i, p := range doc.Pages {
				if p.Number != i+1 {
					t.Fatalf("page numbering")
				}
				if p.OCR {
					t.Errorf("page %d unexpectedly OCR'd", p.Number)
				}
			}
			if !doc.Pages[0].HasTextLayer || len(doc.Pages[0].Text) < 200 {
				t.Fatalf("page 1 text too short: %q", doc.Pages[0].Text)
			}
			joined := ""
			for _, p := range doc.Pages {
				joined += p.Text + "\n"
			}
			low := strings.ToLower(joined)
			if !strings.Contains(low, "revenue") && !strings.Contains(low, "quarter") {
				t.Errorf("expected earnings vocabulary")
			}
		})
	}
}

func TestParseReaderAt(t *testing.T) {
	p := testParser(t)
	data := textPDF("r", []textItem{{72, 700, 12, "reader at"}})
	doc, err := p.ParseReaderAt(context.Background(), bytes.NewReader(data), int64(len(data)), Options{})
	if err != nil || doc.Pages[0].Text != "reader at" {
		t.Fatalf("%v %v", doc, err)
	}
	if _, err := p.ParseReaderAt(context.Background(), bytes.NewReader(data), int64(len(data)), Options{MaxBytes: 10}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("want ErrTooLarge, got %v", err)
	}
}
