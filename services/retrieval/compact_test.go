package retrieval

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/testenv"
)

// plainRun is a stretch of chunk text the store's JSON writes as is.
var plainRun = regexp.MustCompile(`[A-Za-z0-9][A-Za-z0-9 ,.]{30,}[A-Za-z0-9]`)

// passagesOf is a distinctive stretch of each of doc's chunks (32 bytes
// or more that the store's JSON does not escape), read from the store.
func passagesOf(t *testing.T, e *Engine, coll, doc string) []string {
	t.Helper()
	cs, _, err := e.st.ListChunks(t.Context(), coll, doc, "", 100000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		if m := plainRun.FindString(c.Text); m != "" && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	if len(out) < 3 {
		t.Fatalf("%s has %d distinctive passages (%d chunks): too few to grep for", doc, len(out), len(cs))
	}
	return out
}

// filesHolding are the passages found in some file under dir, at any
// depth (the bbolt file, the blob directory, anything else).
func filesHolding(t *testing.T, dir string, passages []string) []string {
	t.Helper()
	var found []string
	for _, f := range testenv.Files(t, dir) {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) { // a compaction's temporary file may vanish
			t.Fatal(err)
		}
		for _, p := range passages {
			if bytes.Contains(b, []byte(p)) && !slices.Contains(found, p) {
				found = append(found, p)
			}
		}
	}
	return found
}

// A deleted document's text is gone from every file of the data directory
// once the store has been compacted after the delete (bbolt reuses the
// pages a transaction frees without erasing them: without the compaction
// every passage below is still in retrieval.db); the kept document's text
// is still there, searchable, and the store still takes writes.
func TestDeletedDocumentsTextLeavesTheDataDirectory(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.CompactEvery = 50 * time.Millisecond
	svc, c := serve(t, cfg)
	e := svc.Engine()
	ctx := context.Background()
	ids := map[string]string{}
	for _, name := range []string{"northwind-annual-report-2025.pdf", "tide-aware-timetables-paper.pdf"} {
		up, err := streamUpload(ctx, c, "docs", name, testenv.Sample(t, name), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		waitReady(t, c, "docs", up.Document.Id, name)
		ids[name] = up.Document.Id
	}
	gone, kept := ids["northwind-annual-report-2025.pdf"], ids["tide-aware-timetables-paper.pdf"]
	goneText, keptText := passagesOf(t, e, "docs", gone), passagesOf(t, e, "docs", kept)
	goneText = slices.DeleteFunc(goneText, func(p string) bool {
		return slices.ContainsFunc(keptText, func(k string) bool { return bytes.Contains([]byte(k), []byte(p)) })
	})
	if got := filesHolding(t, cfg.Dir, goneText); len(got) != len(goneText) {
		t.Fatalf("before the delete only %d of %d passages are found in the data directory: the check cannot fail", len(got), len(goneText))
	}

	if _, err := c.DeleteDocument(ctx, &retrievalv1.DeleteDocumentRequest{Collection: "docs", DocumentId: gone}); err != nil {
		t.Fatal(err)
	}
	var left []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if left = filesHolding(t, cfg.Dir, goneText); len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Fatalf("30 s after the delete %d of %d passages of it are still in the data directory, e.g. %q", len(left), len(goneText), left[0])
	}
	if got := filesHolding(t, cfg.Dir, keptText); len(got) != len(keptText) {
		t.Errorf("the kept document has %d of its %d passages left in the data directory", len(got), len(keptText))
	}
	if got := searchDocs(t, c, "docs", "tide timetables"); !slices.Contains(got, kept) || slices.Contains(got, gone) {
		t.Errorf("search after the compaction: %v, want %s and not %s", got, kept, gone)
	}
	up, err := streamUpload(ctx, c, "docs", "memo.pdf", testenv.Sample(t, "harbour-inspection-memo-scan.pdf"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, c, "docs", up.Document.Id, "an upload after the compaction")
}
