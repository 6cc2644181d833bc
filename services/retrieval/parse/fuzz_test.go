package parse

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/testenv"
)

// FuzzParse feeds arbitrary bytes to Parse. It must never panic or hang: a
// per-input timeout bounds each parse, and any error must be one of the
// typed errors.
//
//	go test ./parse -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	f.Add(textPDF("seed", []textItem{{72, 700, 12, "Seed text"}, {300, 700, 12, "col"}}))
	f.Add([]byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj trailer<</Root 1 0 R>>"))
	f.Add([]byte{})
	for _, s := range []string{
		"001-trivial/minimal-document.pdf",
		"007-imagemagick-images/imagemagick-CCITTFaxDecode.pdf",
		"007-imagemagick-images/imagemagick-ASCII85Decode.pdf",
		"005-libreoffice-writer-password/libreoffice-writer-password.pdf",
	} {
		f.Add(testenv.ReadData(f, "pdf-samples", filepath.FromSlash(s)))
	}
	p := testParser(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		wd := time.AfterFunc(15*time.Second, func() {
			buf := make([]byte, 1<<22)
			n := runtime.Stack(buf, true)
			os.WriteFile("/tmp/fuzz-hang.txt", buf[:n], 0o644)
			panic("Parse hung")
		})
		defer wd.Stop()
		_, err := p.Parse(context.Background(), data, Options{
			Timeout:         2 * time.Second,
			MaxPages:        20,
			OCR:             OCROff,
			MaxBytes:        8 << 20,
			MaxRenderPixels: 4_000_000,
		})
		if el := time.Since(start); el > 5*time.Second {
			t.Fatalf("parse took %v", el)
		}
		if err != nil {
			for _, typed := range []error{ErrInvalidPDF, ErrEncrypted, ErrTimeout, ErrTooLarge, ErrEngine, ErrTooManyPages} {
				if errors.Is(err, typed) {
					return
				}
			}
			t.Fatalf("untyped error: %v", err)
		}
	})
}
