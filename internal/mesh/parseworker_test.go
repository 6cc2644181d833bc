package mesh

import (
	"os"
	"testing"

	"github.com/pdfqa/pdfqa/services/retrieval/parse"
)

// TestMain lets the retrieval service started in these tests re-exec the
// test binary as a PDF parse worker.
func TestMain(m *testing.M) {
	parse.RunWorkerIfRequested()
	os.Exit(m.Run())
}
