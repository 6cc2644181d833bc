package retrieval

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// ingestFilings ingests the dev 10-Q filings (keyword index only) and
// returns the engine and the documents by file name.
func ingestFilings(t *testing.T) (*Engine, map[string]store.Document) {
	t.Helper()
	dir := testenv.Data(t, "dev", "sec-10-q", "docs")
	files, _ := filepath.Glob(filepath.Join(dir, "*.pdf"))
	if len(files) != 8 {
		t.Fatalf("want the 8 dev 10-Q filings in %s, found %d", dir, len(files))
	}
	cfg := testConfig(t.TempDir())
	cfg.Embedder = nil
	e := openEngine(t, cfg)
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
		if d, err = e.st.GetDocument(t.Context(), "tenq", d.ID); err != nil || d.State != store.StateReady {
			t.Fatalf("%s: %+v %v", f, d, err)
		}
		docs[d.Name] = d
	}
	return e, docs
}

// TestFilings ingests the real dev filings once and checks
// their document cards, and that a question about change over time
// retrieves the asked row from every matching filing (and none of the
// other issuer's).
func TestFilings(t *testing.T) {
	e, docs := ingestFilings(t)
	t.Run("CardsAndChangeOverTime", func(t *testing.T) { cardsAndChangeOverTime(t, e, docs) })
	t.Run("TableExpansion", func(t *testing.T) { tableExpansion(t, e, docs) })
	t.Run("BoilerplateOnce", func(t *testing.T) { boilerplateOnce(t, e) })
}

// boilerplateOnce checks that a paragraph every filing repeats (Amazon
// describes its segments in the same words each quarter) fills one of the
// ten places per wording, not one per filing.
func boilerplateOnce(t *testing.T, e *Engine) {
	rs, err := e.Search(context.Background(), Query{Collection: "tenq", Mode: ModeKeyword, TopK: 10,
		Text: "How has Amazon's revenue from online retail stores and its North America segment changed across these quarters?"})
	if err != nil {
		t.Fatal(err)
	}
	described := 0
	for i, r := range rs {
		if strings.Contains(r.Chunk.Text, "The North America segment primarily consists of") {
			described++
		}
		for _, p := range rs[:i] {
			if j := jaccard(trigrams(r.Chunk.Text), trigrams(p.Chunk.Text)); j >= repeatJaccard {
				t.Errorf("%s p%d repeats %s p%d (trigram Jaccard %.2f)", r.Chunk.DocName, r.Chunk.Page, p.Chunk.DocName, p.Chunk.Page, j)
			}
		}
	}
	if described > 2 { // the filings of 2023 reworded it once
		t.Errorf("the segment description is %d of the 10 passages, want at most its 2 wordings", described)
	}
}

func cardsAndChangeOverTime(t *testing.T, e *Engine, docs map[string]store.Document) {
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

// tableExpansion checks that a row's passage expands to its whole table
// through ListChunks with its table_id, and that bad requests are refused.
func tableExpansion(t *testing.T, e *Engine, docs map[string]store.Document) {
	d := docs["2023 Q3 AMZN.pdf"]
	rs, err := e.Search(context.Background(), Query{Collection: "tenq", Text: "Amazon Q3 2023 diluted earnings per share", TopK: 10, Mode: ModeKeyword, DocIDs: []string{d.ID}})
	if err != nil {
		t.Fatal(err)
	}
	var row *store.Chunk
	for i := range rs {
		if rs[i].Chunk.Table != "" && strings.Contains(rs[i].Chunk.Text, "Diluted earnings per share") {
			row = &rs[i].Chunk
			break
		}
	}
	if row == nil {
		t.Fatal("no table row for diluted EPS")
	}
	svc := &Service{e: e}
	resp, err := svc.ListChunks(context.Background(), &retrievalv1.ListChunksRequest{Collection: "tenq", DocumentId: d.ID, TableId: row.Table})
	if err != nil {
		t.Fatal(err)
	}
	all := ""
	for _, p := range resp.Chunks {
		if p.TableId != row.Table || p.DocumentCard.GetIssuer() != "Amazon.com, Inc." {
			t.Fatalf("passage %+v", p)
		}
		all += p.Text + "\n"
	}
	for _, want := range []string{"Total net sales", "Operating income", "Diluted earnings per share"} {
		if !strings.Contains(all, want) {
			t.Errorf("table lacks %q:\n%s", want, all)
		}
	}
	if _, err := svc.ListChunks(context.Background(), &retrievalv1.ListChunksRequest{Collection: "tenq", TableId: row.Table}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("table_id without document_id: %v", err)
	}
	if _, err := svc.ListChunks(context.Background(), &retrievalv1.ListChunksRequest{Collection: "tenq", DocumentId: d.ID, TableId: "p999-t9"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown table: %v", err)
	}
}
