package parse

import (
	"context"
	"os"
	"sync"
	"testing"
)

var (
	parserOnce sync.Once
	parserInst *PDFium
	parserErr  error
)

// testParser returns a process-wide parser (the module compiles once).
func testParser(t testing.TB) *PDFium {
	t.Helper()
	parserOnce.Do(func() {
		parserInst, parserErr = New(Config{CacheDir: os.Getenv("PDFQA_WAZERO_CACHE")})
	})
	if parserErr != nil {
		t.Fatalf("New: %v", parserErr)
	}
	return parserInst
}

func parseFile(t testing.TB, path string, opts Options) (*Document, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return testParser(t).Parse(context.Background(), data, opts)
}
