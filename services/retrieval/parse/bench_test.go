package parse

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pdfqa/pdfqa/platform/testenv"
)

// BenchmarkParseEarningsCalls parses the ten earnings-call PDFs per
// iteration, one document per pool instance in parallel, and reports
// pages/s.
func BenchmarkParseEarningsCalls(b *testing.B) {
	files := testenv.GlobData(b, "dev", "earnings-calls", "*.pdf")
	if len(files) == 0 {
		b.Skip("no earnings calls")
	}
	var docs [][]byte
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, d)
	}
	p := testParser(b)
	var pages atomic.Int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		for _, d := range docs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				doc, err := p.Parse(context.Background(), d, Options{})
				if err != nil {
					b.Error(err)
					return
				}
				pages.Add(int64(len(doc.Pages)))
			}()
		}
		wg.Wait()
	}
	b.ReportMetric(float64(pages.Load())/b.Elapsed().Seconds(), "pages/s")
}

// BenchmarkOCRPage measures OCR throughput on one synthetic scanned page.
func BenchmarkOCRPage(b *testing.B) {
	p := testParser(b)
	if !p.TesseractAvailable() {
		b.Skip("tesseract not installed")
	}
	data := scannedPDF(&testing.T{}, p, "Quarterly revenue grew 48 percent year over year", "Remaining performance obligations were strong")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Parse(context.Background(), data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}
