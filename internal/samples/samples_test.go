package samples

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
)

var (
	pdfiumOnce sync.Once
	pdfium     *parse.PDFium
	pdfiumErr  error
)

func parser(t *testing.T) *parse.PDFium {
	t.Helper()
	pdfiumOnce.Do(func() { pdfium, pdfiumErr = parse.New(parse.Config{Instances: 1}) })
	if pdfiumErr != nil {
		t.Fatal(pdfiumErr)
	}
	return pdfium
}

func parsed(t *testing.T, data []byte) *parse.Document {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	doc, err := parser(t).Parse(ctx, data, parse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// The committed files are what the generator writes today
// (`go run ./internal/samples/gen` rewrites them).
func TestCommittedSamplesAreFresh(t *testing.T) {
	files, err := Files(context.Background(), parser(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("%d samples, want 3", len(files))
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("..", "..", "samples", name))
		if err != nil {
			t.Fatalf("%v (run: go run ./internal/samples/gen)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("samples/%s is stale: run go run ./internal/samples/gen and commit", name)
		}
		if len(want) > 200<<10 {
			t.Errorf("samples/%s is %d bytes; keep samples small", name, len(want))
		}
	}
}

func TestReportTableIsReadAsATable(t *testing.T) {
	doc := parsed(t, Report())
	if len(doc.Pages) != 2 || !doc.Pages[0].HasTextLayer {
		t.Fatalf("pages %d, text layer %v", len(doc.Pages), doc.Pages[0].HasTextLayer)
	}
	tables := doc.Pages[0].Tables
	if len(tables) != 1 {
		t.Fatalf("%d tables on page 1, want 1", len(tables))
	}
	tb := tables[0]
	if !strings.Contains(tb.Title, "Revenue by route") || !strings.Contains(tb.Units, "thousands") {
		t.Errorf("title %q units %q", tb.Title, tb.Units)
	}
	// The rule under the header row spans the whole table: a border, not
	// an underline spreading "2024" over every column.
	if want := []string{"2024", "2025", "Change"}; len(tb.Header) != 4 || tb.Header[1] != want[0] || tb.Header[2] != want[1] || tb.Header[3] != want[2] {
		t.Errorf("header %q, want [stub 2024 2025 Change]", tb.Header)
	}
	if len(tb.Rows) != len(RevenueRows) {
		t.Fatalf("rows %q, want %d", tb.Rows, len(RevenueRows))
	}
	for i, want := range RevenueRows {
		row := strings.Join(tb.Rows[i], " | ")
		for _, cell := range want {
			if !strings.Contains(row, cell) {
				t.Errorf("row %d %q lacks %q", i, row, cell)
			}
		}
	}
}

func TestScanNeedsOCRAndReadsBack(t *testing.T) {
	if !parser(t).TesseractAvailable() {
		testenv.Missing(t, "tesseract is not installed (Debian: tesseract-ocr tesseract-ocr-eng)")
	}
	data, err := Scan(context.Background(), parser(t))
	if err != nil {
		t.Fatal(err)
	}
	doc := parsed(t, data)
	if len(doc.Pages) != 1 {
		t.Fatalf("%d pages", len(doc.Pages))
	}
	pg := doc.Pages[0]
	if pg.HasTextLayer || !pg.OCR || pg.Images != 1 {
		t.Fatalf("text layer %v, OCR %v, images %d: want an image-only page read by OCR", pg.HasTextLayer, pg.OCR, pg.Images)
	}
	text := strings.Join(strings.Fields(pg.Text), " ")
	for _, want := range []string{"Kestrel Sound Harbour Authority", "HA-2025-117", "296 passengers", "30 June 2027", "three minor deficiencies"} {
		if !strings.Contains(text, want) {
			t.Errorf("OCR text lacks %q:\n%s", want, pg.Text)
		}
	}
}

func TestPaperReadsColumnByColumn(t *testing.T) {
	doc := parsed(t, Paper())
	text := strings.Join(strings.Fields(doc.Pages[0].Text), " ")
	order := []string{"Abstract", "1 Introduction", "departures on the quarter hour. 2 Method",
		"3 Results", "an 18% reduction. Missed connections", "4 Conclusion"}
	at := 0
	for _, s := range order {
		i := strings.Index(text[at:], s)
		if i < 0 {
			t.Fatalf("%q not after offset %d in reading order:\n%s", s, at, doc.Pages[0].Text)
		}
		at += i + len(s)
	}
	// A line never joins the two columns.
	for _, l := range doc.Pages[0].Lines {
		if strings.Contains(l.Text, "tide than against it") && strings.Contains(l.Text, "timetable") && len(l.Text) > 60 {
			t.Errorf("line spans both columns: %q", l.Text)
		}
	}
}

func TestSyntheticDocumentsHaveTheirPageType(t *testing.T) {
	for _, kind := range Kinds {
		data, err := Synthetic(context.Background(), parser(t), kind, 2)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := Synthetic(context.Background(), parser(t), kind, 2)
		if !bytes.Equal(data, again) {
			t.Errorf("%s: not deterministic", kind)
		}
		if kind == Scanned && !parser(t).TesseractAvailable() {
			continue
		}
		doc := parsed(t, data)
		if len(doc.Pages) != 2 {
			t.Fatalf("%s: %d pages", kind, len(doc.Pages))
		}
		for _, pg := range doc.Pages {
			words := len(strings.Fields(pg.Text))
			switch kind {
			case Text:
				if !pg.HasTextLayer || len(pg.Tables) != 0 || words < 400 {
					t.Errorf("text page %d: text layer %v, %d tables, %d words", pg.Number, pg.HasTextLayer, len(pg.Tables), words)
				}
			case Table:
				if len(pg.Tables) != 1 || len(pg.Tables[0].Rows) != 24 {
					t.Errorf("table page %d: tables %d", pg.Number, len(pg.Tables))
				}
			case Scanned:
				if pg.HasTextLayer || !pg.OCR || words < 100 {
					t.Errorf("scanned page %d: text layer %v, OCR %v, %d words", pg.Number, pg.HasTextLayer, pg.OCR, words)
				}
			}
		}
	}
}

// scripts/demo.sh fails an answer without its figure, without a citation,
// or citing another document (its --self-test runs the checks on canned
// answers, without a mesh).
func TestDemoScriptChecksItsAnswers(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "scripts/demo.sh", "--self-test")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "demo self-test: ok") {
		t.Fatalf("demo.sh --self-test: %v\n%s", err, out)
	}
}

// TestWinAnsi: the samples' non-ASCII runes become their WinAnsiEncoding
// octal escapes, PDF string delimiters are escaped, and a rune the
// encoding lacks is '?'.
func TestWinAnsi(t *testing.T) {
	got := winAnsi(`€1 – 2 — it’s • a·b (x) \ é ✓`)
	want := `\2001 \226 2 \227 it\222s \225 a\267b \(x\) \\ \351 ?`
	if got != want {
		t.Errorf("winAnsi = %s, want %s", got, want)
	}
}
