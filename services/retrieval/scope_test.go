package retrieval

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pdfqa/pdfqa/services/retrieval/index"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

func cardDocs() []store.Document {
	mk := func(id, issuer, fp, end string) store.Document {
		return store.Document{ID: id, Card: store.Card{Issuer: issuer, FormType: "10-Q", FiscalPeriod: fp, PeriodEnd: end}}
	}
	return []store.Document{
		mk("a1", "Apple Inc.", "Q3 2022", "2022-06-25"), mk("a2", "Apple Inc.", "Q1 2023", "2022-12-31"),
		mk("a3", "Apple Inc.", "Q3 2023", "2023-07-01"), mk("z1", "Amazon.com, Inc.", "calendar Q2 2023", "2023-06-30"),
		mk("z2", "Amazon.com, Inc.", "calendar Q3 2023", "2023-09-30"),
	}
}

func keys(m map[string]bool) string {
	var ks []string
	for _, id := range []string{"a1", "a2", "a3", "z1", "z2"} {
		if m[id] {
			ks = append(ks, id)
		}
	}
	return strings.Join(ks, ",")
}

func TestScope(t *testing.T) {
	docs := cardDocs()
	for _, c := range []struct {
		q, allow string
		perDoc   int
		text     string
	}{
		{"How has Apple's total net sales changed over time?", "a1,a2,a3", 4, "How has Apple's total net sales ?"},
		{"What was Amazon's net income in Q2 2023?", "z1", 0, "What was Amazon's net income in Q2 2023?"},
		{"Apple's gross margin in the most recent 10-Q", "a3", 0, "Apple's gross margin in the 10-Q"},
		{"What is the latest revenue?", "a3,z2", 0, "What is the revenue?"}, // latest of each issuer
		// the most recent quarter against earlier ones: all of Apple's, spread
		{"How does Apple's R&D in the most recent quarter compare to previous quarters?", "a1,a2,a3", 4, "How does Apple's R&D in the quarter to previous quarters?"},
		{"What is deferred revenue?", "", 0, "What is deferred revenue?"},
		{"Compare Apple and Amazon operating income", "", 2, "Apple and Amazon operating income"},
	} {
		allow, per, text := scope(c.q, docs, 10)
		if keys(allow) != c.allow || per != c.perDoc || text != c.text {
			t.Errorf("%q: allow %q per %d text %q; want %q %d %q", c.q, keys(allow), per, text, c.allow, c.perDoc, c.text)
		}
	}
	if a, p, _ := scope("Apple revenue", docs[:1], 10); a != nil || p != 0 {
		t.Error("one document: no scoping")
	}
}

func TestCapAndMix(t *testing.T) {
	hits := []index.Hit{{ID: "a-1", Score: 9}, {ID: "a-2", Score: 8}, {ID: "a-3", Score: 7}, {ID: "b-1", Score: 6}, {ID: "b-2", Score: 5}}
	got := capPerDoc(hits, 2)
	if len(got) != 4 || got[2].ID != "b-1" {
		t.Fatalf("capPerDoc %v", got)
	}
	rs := []Result{
		{store.Chunk{Seq: 1, Kind: store.KindText}, 9}, {store.Chunk{Seq: 2, Kind: store.KindText}, 8},
		{store.Chunk{Seq: 3, Kind: store.KindText}, 7}, {store.Chunk{Seq: 4, Kind: store.KindTable}, 6},
		{store.Chunk{Seq: 5, Kind: store.KindText}, 5}, {store.Chunk{Seq: 6, Kind: store.KindTable}, 4},
	}
	var seqs []int
	for _, r := range selectResults(rs, 4, 0, 2) {
		seqs = append(seqs, r.Chunk.Seq)
	}
	if len(seqs) != 4 || seqs[0] != 1 || seqs[1] != 2 || seqs[2] != 4 || seqs[3] != 6 {
		t.Fatalf("selectResults %v, want [1 2 4 6]", seqs)
	}
	// at most 2 per document, 1 table row: spread over documents, each
	// document's best table row comes first (a's 4 before its text 2)
	for i := range rs {
		rs[i].Chunk.DocID = []string{"a", "a", "a", "a", "b", "b"}[i]
	}
	seqs = nil
	for _, r := range selectResults(rs, 4, 2, 1) {
		seqs = append(seqs, r.Chunk.Seq)
	}
	if len(seqs) != 4 || seqs[0] != 1 || seqs[1] != 4 || seqs[2] != 5 || seqs[3] != 6 {
		t.Fatalf("selectResults capped %v, want [1 4 5 6]", seqs)
	}
}

func TestEmbedTextContext(t *testing.T) {
	c := store.Chunk{Heading: "Net Sales", Text: "iPhone net sales decreased.", Context: "Apple Inc. · Form 10-Q · Q3 2023"}
	if got := embedText(c, true); got != "Apple Inc. · Form 10-Q · Q3 2023\nNet Sales\niPhone net sales decreased." {
		t.Errorf("with context: %q", got)
	}
	if got := embedText(c, false); got != "Net Sales\niPhone net sales decreased." {
		t.Errorf("without context: %q", got)
	}
	for model, want := range map[string]bool{"": true, "all-minilm-l6-v2-f16": true, "static": false, "all-minilm-l6-v2-f16-static": false} {
		if contextual(model) != want {
			t.Errorf("contextual(%q) = %v", model, !want)
		}
	}
}

// TestTableReserveFromEveryCandidate checks that the share of results kept
// for table rows is drawn from every candidate: sixty paragraphs that say
// "widget revenue" three times each outrank the one row that holds the
// figure (tf 1), and the row still gets one of the ten places.
func TestTableReserveFromEveryCandidate(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.AddDocument(t.Context(), store.Document{ID: "d", Collection: "c", Name: "d.pdf", SHA256: "d"}, ""); err != nil {
		t.Fatal(err)
	}
	var chunks []store.Chunk
	add := func(kind, text string) {
		c := store.Chunk{DocID: "d", Seq: len(chunks), Text: text, Kind: kind, Terms: map[string]int{}}
		for _, w := range index.Terms(text) {
			c.Terms[w]++
			c.Len++
		}
		chunks = append(chunks, c)
	}
	for i := range 60 {
		add(store.KindText, fmt.Sprintf("widget revenue is discussed again: widget revenue grew, and widget revenue matters in topic%c%c for reasons%c%c", 'a'+i/26, 'a'+i%26, 'a'+i/26, 'a'+i%26))
	}
	add(store.KindTable, "Segment results (in millions) — Widget revenue: Three Months Ended June 30, 2023 $1,234")
	if _, err := st.CommitIndex(t.Context(), "c", "d", chunks, nil, func(x *store.Document) { x.State, x.Chunks = store.StateReady, len(chunks) }); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t.TempDir())
	cfg.Store, cfg.Embedder = st, nil
	e := openEngine(t, cfg)
	q := Query{Collection: "c", Mode: ModeKeyword, Text: "widget revenue", TopK: 10, NoScope: true}
	bm, err := e.bm25(t.Context(), "c", q.Text, fuseDepth, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(bm) != 61 || bm[60].ID != chunkID("d", 60) {
		t.Fatalf("the premise: the row should rank last of 61 by BM25, got %d hits, last %v", len(bm), bm[len(bm)-1])
	}
	rs, err := e.Search(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, r := range rs {
		if r.Chunk.Kind == store.KindTable {
			rows++
		}
	}
	if len(rs) != 10 || rows != 1 {
		t.Fatalf("%d results, %d table rows; want 10 with the one row", len(rs), rows)
	}
}
