package parse

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/services/retrieval/parse/pdftest"
)

// Hostile documents: a page count far past the limit, a decompression bomb,
// and more pages needing OCR than the per-document OCR limit. Each must end
// in a clear, bounded message, never a trace.

func TestZlibZerosInflates(t *testing.T) {
	zr, err := zlib.NewReader(bytes.NewReader(pdftest.ZlibZeros(8)))
	if err != nil {
		t.Fatal(err)
	}
	var nonzero bool
	buf := make([]byte, 1<<16)
	var n int64
	for {
		k, err := zr.Read(buf)
		for _, c := range buf[:k] {
			nonzero = nonzero || c != 0
		}
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("inflate after %d bytes: %v", n, err) // includes the checksum
		}
	}
	if n != 8<<20 || nonzero {
		t.Fatalf("inflated %d bytes (nonzero %v), want 8 MiB of zeros", n, nonzero)
	}
}

func TestTooManyPagesRefusedByCount(t *testing.T) {
	data := pdftest.ManyPages(200_000, pdftest.TextPage)
	for _, tc := range []struct {
		name string
		p    Parser
	}{{"in-process", testParser(t)}, {"worker", testProcess(t)}} {
		start := time.Now()
		_, err := tc.p.Parse(context.Background(), data, Options{MaxPages: 5000, FailOnTooManyPages: true})
		took := time.Since(start)
		if !errors.Is(err, ErrTooManyPages) || !strings.HasSuffix(err.Error(), "too many pages: 200000 > 5000") {
			t.Fatalf("%s: got %v, want ErrTooManyPages ending in %q", tc.name, err, "too many pages: 200000 > 5000")
		}
		// Refused from the page count, before any page is read.
		if took > 30*time.Second {
			t.Errorf("%s: refusing took %v", tc.name, took)
		}
	}
}

func TestDecompressionBombIsBriefEngineError(t *testing.T) {
	// A 64 MiB sandbox and a 512 MiB content stream: the bomb exhausts the
	// sandbox as the default (1 GiB) would a 3 GiB one, in a second.
	p, err := New(Config{Instances: 1, MemoryLimitBytes: 64 << 20, CacheDir: os.Getenv("PDFQA_WAZERO_CACHE")})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	data := pdftest.Bomb(512)
	if len(data) > 1<<20 {
		t.Fatalf("bomb is %d bytes; it should be well under 1 MiB", len(data))
	}
	_, err = p.Parse(context.Background(), data, Options{})
	if !errors.Is(err, ErrEngine) {
		t.Fatalf("got %v, want ErrEngine", err)
	}
	brief := Brief(err)
	if strings.Contains(brief, "stack trace") || strings.Contains(brief, "\n") || strings.Contains(brief, "$") || len(brief) > MaxBrief {
		t.Fatalf("Brief(err) = %q: want one short line without the trace", brief)
	}
	t.Logf("full: %.200q; brief: %q", err.Error(), brief)
}

func TestOCRLimitIsOneWarning(t *testing.T) {
	p := testParser(t)
	noTess := &PDFium{cfg: Config{TesseractPath: "/nonexistent/tesseract"}, pool: p.pool}
	data := pdftest.ManyPages(300, pdftest.ImagePage)
	doc, err := noTess.Parse(context.Background(), data, Options{MaxOCRPages: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Pages 1-3 reach OCR (and warn that tesseract is missing); the other
	// 297 are named in one warning, as a range.
	want := "297 pages need OCR past the per-document OCR limit of 3 and have no text (pages 4-300)"
	if len(doc.Warnings) != 4 || doc.Warnings[3] != want {
		t.Fatalf("warnings %q, want 3 tesseract warnings then %q", doc.Warnings, want)
	}
	for _, pg := range doc.Pages[3:] {
		if len(pg.Warnings) != 0 || pg.OCR {
			t.Fatalf("page %d: %+v", pg.Number, pg.Warnings)
		}
	}

	// Every page warning (300 missing-tesseract ones): 50 kept, the last
	// counts the rest, each bounded.
	doc, err = noTess.Parse(context.Background(), data, Options{MaxOCRPages: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Warnings) != maxWarnings || doc.Warnings[maxWarnings-1] != "... and 251 more warnings" {
		t.Fatalf("%d warnings, last %q", len(doc.Warnings), doc.Warnings[len(doc.Warnings)-1])
	}
	for _, w := range doc.Warnings {
		if len(w) > MaxBrief {
			t.Fatalf("warning of %d bytes", len(w))
		}
	}
}

func TestPageRangesAndClip(t *testing.T) {
	for _, tc := range []struct {
		pages []int
		max   int
		want  string
	}{
		{nil, 8, ""},
		{[]int{7}, 8, "7"},
		{[]int{1, 2, 3, 7, 9, 10}, 8, "1-3, 7, 9-10"},
		{[]int{1, 3, 5, 7, 9}, 2, "1, 3 … and 3 more"},
	} {
		if got := PageRanges(tc.pages, tc.max); got != tc.want {
			t.Errorf("PageRanges(%v, %d) = %q, want %q", tc.pages, tc.max, got, tc.want)
		}
	}
	if got := Clip("ééé", 5); got != "é…" { // 2+3 bytes: the cut never splits a rune
		t.Errorf("Clip = %q", got)
	}
	if got := Brief(fmt.Errorf("%w: load page: wasm error: unreachable\nwasm stack trace:\n\t.$87(i32,i32) i32", ErrEngine)); got != "parse: PDF engine failure: load page: wasm error: unreachable" {
		t.Errorf("Brief = %q", got)
	}
}
