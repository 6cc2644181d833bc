package chunk

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pdfqa/pdfqa/services/retrieval/index"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// pageBuilder lays out lines the way a PDF does: 10pt type on a 14pt pitch,
// paragraphs separated by an extra blank gap.
type pageBuilder struct {
	p *parse.Page
	y float64
}

func newPage(n int) *pageBuilder {
	return &pageBuilder{p: &parse.Page{Number: n, Width: 612, Height: 792, HasTextLayer: true}, y: 72}
}

func (b *pageBuilder) line(text string, x, h, width float64) {
	b.p.Lines = append(b.p.Lines, parse.Line{Text: text, Box: parse.Rect{X0: x, Y0: b.y, X1: x + width, Y1: b.y + h}})
	b.y += h + 4
}

// para writes text as lines of about 14 words (the last one shorter).
func (b *pageBuilder) para(text string) {
	ws := strings.Fields(text)
	for i := 0; i < len(ws); i += 14 {
		j := min(i+14, len(ws))
		w := 500.0
		if j == len(ws) {
			w = 500 * float64(j-i) / 14
		}
		b.line(strings.Join(ws[i:j], " "), 36, 10, w)
	}
	b.y += 14
}

func (b *pageBuilder) label(text string) {
	b.line(text, 36, 12.5, 300)
	b.y += 12
}

func (b *pageBuilder) page() parse.Page {
	var t []string
	for _, l := range b.p.Lines {
		t = append(t, l.Text)
	}
	b.p.Text = strings.Join(t, "\n")
	return *b.p
}

func prose(n int, topic string) string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf("Sentence %d of the %s paragraph talks about the %s at some length here.", i+1, topic, topic))
	}
	return strings.Join(s, " ")
}

func find(t *testing.T, cs []store.Chunk, sub string) store.Chunk {
	t.Helper()
	for _, c := range cs {
		if strings.Contains(c.Text, sub) {
			return c
		}
	}
	t.Fatalf("no chunk contains %q", sub)
	return store.Chunk{}
}

func transcript() *parse.Document {
	p1 := newPage(1)
	p1.label("Presentation")
	p1.label("Jane Roe Acme Inc. – Head of IR")
	p1.para("During today's call we will make forward-looking statements. " + prose(3, "legal"))
	p1.para("With that, I will turn the call over to John.")
	p1.label("John Doe Acme Inc. – Chairman & CEO")
	p1.para("Thanks, Jane. Product revenue grew 84% year-on-year to $394 million. " + prose(2, "growth"))
	// a paragraph running over the page break
	p1.para("Remaining performance obligations grew 82% to $2.6 billion and the")
	p1.p.Lines = append(p1.p.Lines, parse.Line{Text: "Page 1 of 2", Box: parse.Rect{X0: 280, Y0: 760, X1: 330, Y1: 770}})
	p2 := newPage(2)
	p2.y = 40
	p2.para("number of customers kept growing strongly in every region we serve.")
	p2.para("SATYA NADELLA: Thank you very much. " + prose(2, "cloud"))
	p2.p.Lines = append(p2.p.Lines, parse.Line{Text: "Page 2 of 2", Box: parse.Rect{X0: 280, Y0: 760, X1: 330, Y1: 770}})
	return &parse.Document{PageCount: 2, Pages: []parse.Page{p1.page(), p2.page()}}
}

func TestSplitFollowsSpeakers(t *testing.T) {
	cs := Split(transcript(), "d", "d.pdf", Options{MaxTokens: 200}, nil)
	ceo := find(t, cs, "Product revenue grew 84%")
	if strings.Contains(ceo.Text, "forward-looking") || strings.Contains(ceo.Text, "turn the call over") {
		t.Errorf("the CEO's remarks share a chunk with the previous speaker:\n%s", ceo.Text)
	}
	if ceo.Heading != "John Doe Acme Inc. – Chairman & CEO" || !strings.HasPrefix(ceo.Text, "John Doe") {
		t.Errorf("chunk should open with its speaker line: heading %q, text %q", ceo.Heading, ceo.Text)
	}
	legal := find(t, cs, "forward-looking")
	if legal.Heading != "Jane Roe Acme Inc. – Head of IR" {
		t.Errorf("heading %q", legal.Heading)
	}
	satya := find(t, cs, "Thank you very much")
	if satya.Heading != "SATYA NADELLA" || strings.Contains(satya.Text, "number of customers") {
		t.Errorf("an upper-case speaker with a colon should start a chunk: heading %q text %q", satya.Heading, satya.Text)
	}
	for _, c := range cs {
		if strings.Contains(c.Text, "Page 1 of 2") || strings.Contains(c.Text, "Page 2 of 2") {
			t.Errorf("page numbers kept: %q", c.Text)
		}
	}
}

func TestSplitParagraphAcrossPages(t *testing.T) {
	cs := Split(transcript(), "d", "d.pdf", Options{MaxTokens: 200}, nil)
	c := find(t, cs, "obligations grew 82%")
	if !strings.Contains(c.Text, "and the number of customers") {
		t.Errorf("the paragraph broken by the page end was not joined: %q", c.Text)
	}
	if c.Page != 1 || c.PageEnd != 2 || len(c.Boxes) != 2 || c.Boxes[0].Page != 1 || c.Boxes[1].Page != 2 {
		t.Errorf("page span %d-%d boxes %+v", c.Page, c.PageEnd, c.Boxes)
	}
	for _, b := range c.Boxes {
		if b.X0 >= b.X1 || b.Y0 >= b.Y1 {
			t.Errorf("empty box %+v", b)
		}
	}
}

func TestSplitLongParagraph(t *testing.T) {
	p := newPage(1)
	p.label("1. Introduction")
	long := prose(40, "long")
	p.para(long)
	p.label("2. Method")
	p.para("The method is short.")
	doc := &parse.Document{PageCount: 1, Pages: []parse.Page{p.page()}}
	o := Options{MaxTokens: 120, Overlap: 20}
	cs := Split(doc, "d", "d.pdf", o, nil)
	var parts []store.Chunk
	for _, c := range cs {
		if c.Tokens > o.MaxTokens {
			t.Errorf("chunk %d has %d tokens > %d", c.Seq, c.Tokens, o.MaxTokens)
		}
		if c.Heading == "1. Introduction" {
			parts = append(parts, c)
		}
		if strings.Contains(c.Text, "long paragraph") && strings.Contains(c.Text, "method is short") {
			t.Errorf("two sections in one chunk: %q", c.Text)
		}
	}
	if len(parts) < 3 {
		t.Fatalf("the long paragraph should be cut into several chunks, got %d", len(parts))
	}
	for i, c := range parts {
		text := strings.TrimPrefix(c.Text, "1. Introduction\n")
		if !strings.HasPrefix(text, "Sentence ") || !strings.HasSuffix(text, ".") || strings.Contains(text, "\n") {
			t.Errorf("part %d is not cut at sentence ends: %q", i, c.Text)
		}
		if i > 0 {
			prev := parts[i-1].Text
			first := text[:strings.Index(text, ".")+1]
			if !strings.Contains(prev, first) {
				t.Errorf("part %d does not repeat the end of part %d (overlap)", i, i-1)
			}
		}
	}
	m := find(t, cs, "method is short")
	if m.Heading != "2. Method" || !strings.HasPrefix(m.Text, "2. Method") {
		t.Errorf("numbered heading not recognised: %q %q", m.Heading, m.Text)
	}
	// every word of the paragraph is somewhere
	all := ""
	for _, c := range parts {
		all += " " + c.Text
	}
	for i := 1; i <= 40; i++ {
		if !strings.Contains(all, fmt.Sprintf("Sentence %d of", i)) {
			t.Errorf("sentence %d lost", i)
		}
	}
}

func TestSplitTablesAndOCR(t *testing.T) {
	p := newPage(1)
	p.para("Revenue is shown below in the table for the quarter.")
	top := p.y
	p.line("Metric Q1 Q2", 36, 10, 300)
	p.line("Revenue 10 20", 36, 10, 300)
	p.p.Tables = []parse.Table{{Box: parse.Rect{X0: 30, Y0: top - 1, X1: 340, Y1: p.y}, Header: []string{"Metric", "Q1", "Q2"},
		Rows: [][]string{{"Revenue", "10", "20"}}}}
	p.y += 14
	p.para("Text after the table continues here.")
	o := newPage(2)
	o.p.OCR = true
	o.para("Scanned words recognised by OCR on the second page.")
	doc := &parse.Document{PageCount: 2, Pages: []parse.Page{p.page(), o.page()}}
	var done []int
	cs := Split(doc, "d", "d.pdf", Options{}, func(i, n int) { done = append(done, i) })
	if len(done) != 2 || done[1] != 2 {
		t.Errorf("progress %v", done)
	}
	kinds := map[string]string{}
	for _, c := range cs {
		kinds[c.Text] = c.Kind
	}
	tb := find(t, cs, "Revenue: Q1")
	if tb.Kind != store.KindTable || tb.Text != "Revenue: Q1 10; Q2 20" || tb.Table != "p1-t0" {
		t.Errorf("table chunk %+v", tb)
	}
	if strings.Contains(find(t, cs, "shown below").Text, "Metric Q1") {
		t.Error("table lines leaked into the text")
	}
	if c := find(t, cs, "Scanned words"); c.Kind != store.KindOCR || c.Page != 2 {
		t.Errorf("OCR chunk %+v", c)
	}
	if tb.Seq < find(t, cs, "shown below").Seq || tb.Seq > find(t, cs, "after the table").Seq {
		t.Error("table not kept in reading order")
	}
}

func TestSplitTextWithoutGeometry(t *testing.T) {
	doc := &parse.Document{PageCount: 1, Pages: []parse.Page{{Number: 1, Text: "First paragraph line one\nline two.\n\nSecond paragraph."}}}
	cs := Split(doc, "d", "d.pdf", Options{}, nil)
	if len(cs) != 1 || cs[0].Text != "First paragraph line one line two.\nSecond paragraph." {
		t.Errorf("%+v", cs)
	}
}

func TestSplitEmpty(t *testing.T) {
	if cs := Split(&parse.Document{Pages: []parse.Page{{Number: 1}}}, "d", "d.pdf", Options{}, nil); len(cs) != 0 {
		t.Errorf("%+v", cs)
	}
}

// packRows renders bs's table rows, counts their words and packs them into
// chunks of document "d" (200 words, 32 overlap), as Split does.
func packRows(bs []block) []store.Chunk {
	renderRows(bs)
	for i := range bs {
		bs[i].tokens = WordCount(bs[i].text())
	}
	return pack(bs, "d", "d.pdf", Options{MaxTokens: 200, Overlap: 32, Count: WordCount})
}

// TestRowsNamedAfterHeading checks that a table without a title of its own
// is named after the heading in force, and that rows of two tables never
// share a chunk.
func TestRowsNamedAfterHeading(t *testing.T) {
	a := &parse.Table{Header: []string{"", "2023", "2022"}, Rows: [][]string{{"iPhone", "$39,669", "$40,665"}, {"Mac", "6,840", "7,382"}}}
	b := &parse.Table{Title: "Gross margin", Header: []string{"", "2023"}, Rows: [][]string{{"Products", "$21,448"}}}
	bs := []block{
		{lines: []line{{text: "Net Sales by Category", page: 1}}, kind: store.KindText, label: true},
		{lines: []line{{page: 1}}, kind: store.KindTable, table: a, tableID: "p1-t0", row: 0},
		{lines: []line{{page: 1}}, kind: store.KindTable, table: a, tableID: "p1-t0", row: 1},
		{lines: []line{{page: 1}}, kind: store.KindTable, table: b, tableID: "p1-t1", row: 0},
	}
	cs := packRows(bs)
	var got []string
	for _, c := range cs {
		got = append(got, c.Table+": "+c.Text)
	}
	want := []string{
		": Net Sales by Category",
		"p1-t0: Net Sales by Category — iPhone: 2023 $39,669; 2022 $40,665\nNet Sales by Category — Mac: 2023 6,840; 2022 7,382",
		"p1-t1: Gross margin — Products: 2023 $21,448",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("chunks:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRowTermsWeighLabels checks the keyword terms of a chunk of table
// rows: the table's title, units and column headers count once however
// many rows repeat them, each row label twice, each value once.
func TestRowTermsWeighLabels(t *testing.T) {
	tb := &parse.Table{Title: "Statements of Operations", Units: "in millions", Header: []string{"", "Three Months Ended June 2023", "Three Months Ended June 2022"},
		Rows: [][]string{{"Net sales › Services", "$21,213", "$19,604"}, {"Net sales › Products", "60,584", "63,355"}}}
	bs := []block{
		{lines: []line{{page: 4}}, kind: store.KindTable, table: tb, tableID: "p4-t0", row: 0},
		{lines: []line{{page: 4}}, kind: store.KindTable, table: tb, tableID: "p4-t0", row: 1},
	}
	cs := packRows(bs)
	if len(cs) != 1 {
		t.Fatalf("%d chunks, want the two rows in one", len(cs))
	}
	c := cs[0]
	if !strings.Contains(c.Text, "Statements of Operations (in millions) — Net sales › Services: Three Months Ended June 2023 $21,213") {
		t.Errorf("row line: %q", c.Text)
	}
	term := func(w string) int { return c.Terms[index.Terms(w)[0]] }
	for w, want := range map[string]int{"operations": 1, "millions": 1, "months": 1, "services": 2, "products": 2, "sales": 4, "21,213": 1} {
		if got := term(w); got != want {
			t.Errorf("term %q counted %d times, want %d", w, got, want)
		}
	}
	n := 0
	for _, v := range c.Terms {
		n += v
	}
	if c.Len != n {
		t.Errorf("Len %d, terms sum to %d", c.Len, n)
	}
}
