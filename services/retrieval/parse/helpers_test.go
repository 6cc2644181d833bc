package parse

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// sharedDir finds the read-only data directory "shared" next to the
// repository root (../shared from the root, i.e. ../../../shared from this
// package), or via PDFQA_SHARED_DIR.
func sharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("PDFQA_SHARED_DIR"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Skip("no working dir")
	}
	for d := wd; ; d = filepath.Dir(d) {
		for _, c := range []string{filepath.Join(d, "shared"), filepath.Join(d, "..", "shared")} {
			if st, err := os.Stat(filepath.Join(c, "data")); err == nil && st.IsDir() {
				return c
			}
		}
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	t.Fatal("shared data directory not found beside the repository (set PDFQA_SHARED_DIR)")
	return ""
}

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
