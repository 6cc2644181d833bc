package retrieval

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// ingestFilings ingests the dev 10-Q filings (keyword index only) and
// returns the engine and the documents by file name.
func ingestFilings(t *testing.T) (*Engine, map[string]store.Document) {
	t.Helper()
	dir := filepath.Join(dataDir(t), "dev", "sec-10-q", "docs")
	files, _ := filepath.Glob(filepath.Join(dir, "*.pdf"))
	if len(files) != 8 {
		t.Fatalf("want the 8 dev 10-Q filings in %s, found %d", dir, len(files))
	}
	cfg := testConfig(t.TempDir())
	cfg.Embedder = nil
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	docs := map[string]store.Document{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, _, err := e.Upload("tenq", filepath.Base(f), data, "")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		err = e.Watch(ctx, "tenq", d.ID, func(Event) error { return nil })
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if d, err = e.st.GetDocument("tenq", d.ID); err != nil || d.State != store.StateReady {
			t.Fatalf("%s: %+v %v", f, d, err)
		}
		docs[d.Name] = d
	}
	return e, docs
}

// TestFilingsCardsAndChangeOverTime ingests the real dev filings and checks
// their document cards, and that a question about change over time
// retrieves the asked row from every matching filing (and none of the
// other issuer's).
func TestFilingsCardsAndChangeOverTime(t *testing.T) {
	e, docs := ingestFilings(t)
	c := docs["2022 Q3 AAPL.pdf"].Card
	want := store.Card{Title: "Apple Inc. Form 10-Q", Issuer: "Apple Inc.", FormType: "10-Q", Period: "quarterly period ended June 25, 2022",
		PeriodEnd: "2022-06-25", FiscalPeriod: "Q3 2022", Summary: "Apple Inc. · Form 10-Q · Q3 2022 · quarterly period ended June 25, 2022"}
	if c != want {
		t.Fatalf("card\n%+v\nwant\n%+v", c, want)
	}
	if c := docs["2023 Q2 AMZN.pdf"].Card; c.Issuer != "Amazon.com, Inc." || c.PeriodEnd != "2023-06-30" || c.FiscalPeriod != "Q2 2023" {
		t.Fatalf("amazon card %+v", c)
	}

	rs, err := e.Search(context.Background(), Query{Collection: "tenq", Text: "How has Apple's total net sales changed over time?", TopK: 10, Mode: ModeKeyword})
	if err != nil {
		t.Fatal(err)
	}
	totals := map[string]string{ // each filing's own quarter, from its statement of operations
		"2022 Q3 AAPL.pdf": "82,959", "2023 Q1 AAPL.pdf": "117,154", "2023 Q2 AAPL.pdf": "94,836", "2023 Q3 AAPL.pdf": "81,797"}
	for name, total := range totals {
		found := false
		for _, r := range rs {
			if r.Chunk.DocName == name && strings.Contains(r.Chunk.Text, "Total net sales") && strings.Contains(r.Chunk.Text, total) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no passage with its total net sales row (%s)", name, total)
		}
	}
	for _, r := range rs {
		if !strings.Contains(r.Chunk.DocName, "AAPL") {
			t.Errorf("passage of another issuer: %s p%d", r.Chunk.DocName, r.Chunk.Page)
		}
	}

	// the most recent filing, by its card's period
	rs, err = e.Search(context.Background(), Query{Collection: "tenq", Text: "What was Amazon's net income in the most recent 10-Q?", TopK: 5, Mode: ModeKeyword})
	if err != nil || len(rs) == 0 {
		t.Fatal(rs, err)
	}
	for _, r := range rs {
		if r.Chunk.DocName != "2023 Q3 AMZN.pdf" {
			t.Errorf("most recent: got %s", r.Chunk.DocName)
		}
	}
	if _, err := e.Search(context.Background(), Query{Collection: "tenq", Text: "net sales", MaxPerDoc: -1}); err == nil {
		t.Error("negative max_per_document accepted")
	}
}
