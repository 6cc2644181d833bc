// Package chunk splits a parsed PDF into citable passages that follow its
// structure and fit a token budget of the embedding model.
//
// Split works in three steps:
//
//  1. Lines become blocks. A new paragraph starts where the vertical gap
//     between two lines is clearly wider than the page's usual line gap, the
//     text moves up (a new column), the font size changes, the first line is
//     indented or starts with a bullet, or the previous line is a short
//     sentence end. Running headers and footers (text repeated in the page
//     margins) and bare page numbers are dropped. Paragraphs continue across
//     a page break unless the previous page ended a sentence. Tables become
//     one block per row (with its column headers), placed where the table
//     sits on the page.
//  2. Short standalone blocks that look like titles become labels: section
//     headings (larger type, title case, numbered) and speaker lines of
//     transcripts ("Jane Doe Acme Inc. - CFO", "OPERATOR:"). A paragraph that
//     opens with an upper-case speaker name and a colon also starts a turn.
//  3. Blocks are packed into chunks of at most MaxTokens. A label starts a
//     new chunk (unless the current one holds too little body text to stand
//     alone), so a passage never straddles two sections or two speakers; a
//     paragraph that does not fit starts a new chunk; a paragraph longer than
//     MaxTokens is cut at sentence ends with Overlap tokens of sentences
//     repeated. Each chunk keeps its page span, one box per page and the
//     heading (label) it falls under.
//
// chunk.go is longer than the project's ~500 lines on purpose: Split's three
// steps share the line, block and piece types and are tuned together against
// the retrieval benchmarks, so they read as one algorithm.
package chunk

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pdfqa/pdfqa/services/retrieval/index"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// Defaults for Options.
const (
	DefaultMaxTokens = 200
	DefaultOverlap   = 32
)

// Counter counts model tokens (wordpiece.Tokenizer.Count, or WordCount).
type Counter func(string) int

// WordCount approximates WordPiece tokens when no vocabulary is available
// (English averages about 1.3 WordPiece tokens per word).
func WordCount(s string) int { return (len(strings.Fields(s))*13 + 9) / 10 }

// Options tune Split.
type Options struct {
	// MaxTokens bounds a chunk (default DefaultMaxTokens).
	MaxTokens int
	// Overlap is how many tokens of sentences are repeated between the
	// pieces of a paragraph too long for one chunk (default DefaultOverlap).
	Overlap int
	Count   Counter
}

// line is one line of text with its place.
type line struct {
	text string
	page int
	box  parse.Rect
}

// block is a paragraph, a label (heading or speaker line) or a table row.
type block struct {
	lines  []line
	kind   string
	label  bool
	tokens int
	// speaker is set for a paragraph opening with "NAME:"; it acts as a
	// label without being a line of its own.
	speaker string
	// table and row place a table row (rendered once the heading in force
	// is known: it names a table without a title of its own).
	table   *parse.Table
	tableID string
	row     int
}

func (b *block) text() string {
	var s strings.Builder
	for i, l := range b.lines {
		if i > 0 {
			if t := s.String(); strings.HasSuffix(t, "-") && len(t) > 1 && unicode.IsLetter(rune(t[len(t)-2])) {
				// a hyphen at the line end joins (e.g. "year-" + "over-year")
			} else {
				s.WriteByte(' ')
			}
		}
		s.WriteString(l.text)
	}
	return s.String()
}

// Split chunks doc's pages. progress is called after each page.
func Split(doc *parse.Document, docID, docName string, o Options, progress func(done, total int)) []store.Chunk {
	if o.MaxTokens <= 0 {
		o.MaxTokens = DefaultMaxTokens
	}
	if o.Overlap < 0 || o.Overlap >= o.MaxTokens/2 {
		o.Overlap = DefaultOverlap
	}
	if o.Count == nil {
		o.Count = WordCount
	}
	furniture := repeatedMargins(doc)
	var blocks []block
	for pi := range doc.Pages {
		blocks = appendPage(blocks, &doc.Pages[pi], furniture)
		if progress != nil {
			progress(pi+1, len(doc.Pages))
		}
	}
	renderRows(blocks)
	for i := range blocks {
		blocks[i].tokens = o.Count(blocks[i].text())
	}
	return pack(blocks, docID, docName, o)
}

// renderRows writes each table row as its self-contained line, naming a
// table without a title after the heading in force.
func renderRows(bs []block) {
	heading := ""
	for i := range bs {
		b := &bs[i]
		switch {
		case b.table != nil:
			b.lines[0].text = b.table.RowLine(b.row, heading)
		case b.label:
			heading = b.text()
		}
	}
}

// pageLines returns a page's lines, or its text split at newlines when the
// parser kept no line geometry (blank lines then mark paragraphs).
func pageLines(p *parse.Page) []parse.Line {
	if len(p.Lines) > 0 || strings.TrimSpace(p.Text) == "" {
		return p.Lines
	}
	var out []parse.Line
	for _, l := range strings.Split(p.Text, "\n") {
		out = append(out, parse.Line{Text: l})
	}
	return out
}

// margin is the share of the page height at the top and bottom where
// running headers, footers and page numbers live.
const margin = 0.08

var digits = regexp.MustCompile(`\d+`)

func furnitureKey(t string) string {
	return strings.ToLower(digits.ReplaceAllString(strings.Join(strings.Fields(t), " "), "#"))
}

func inMargin(p *parse.Page, r parse.Rect) bool {
	if r.Empty() || p.Height <= 0 {
		return false
	}
	return r.Y1 < p.Height*margin || r.Y0 > p.Height*(1-margin)
}

// repeatedMargins finds the text (digits ignored) that appears in the top
// or bottom margin of at least 40% of the pages (3 pages at least).
func repeatedMargins(doc *parse.Document) map[string]bool {
	if len(doc.Pages) < 3 {
		return nil
	}
	seen := map[string]int{}
	for pi := range doc.Pages {
		p := &doc.Pages[pi]
		keys := map[string]bool{}
		for _, l := range p.Lines {
			if inMargin(p, l.Box) {
				keys[furnitureKey(l.Text)] = true
			}
		}
		for k := range keys {
			seen[k]++
		}
	}
	out := map[string]bool{}
	for k, n := range seen {
		if n >= 3 && n*10 >= len(doc.Pages)*4 {
			out[k] = true
		}
	}
	return out
}

// RunningText returns the running headers and footers of doc (text
// repeated in the page margins), as printed on the first page that has
// them, most repeated first; they often name the document ("Apple Inc. |
// Q3 2022 Form 10-Q | 1").
func RunningText(doc *parse.Document) []string {
	furniture := repeatedMargins(doc)
	var out []string
	seen := map[string]bool{}
	for pi := range doc.Pages {
		p := &doc.Pages[pi]
		for _, l := range p.Lines {
			k := furnitureKey(l.Text)
			if furniture[k] && !seen[k] && inMargin(p, l.Box) && !pageNumber.MatchString(strings.TrimSpace(l.Text)) {
				seen[k] = true
				out = append(out, strings.TrimSpace(l.Text))
			}
		}
	}
	return out
}

var pageNumber = regexp.MustCompile(`(?i)^[-–—\s]*(page\s+)?\d{1,4}(\s*(of|/)\s*\d{1,4})?[-–—\s]*$`)

// appendPage adds a page's blocks to bs, continuing the last paragraph of
// the previous page when it did not end a sentence.
func appendPage(bs []block, p *parse.Page, furniture map[string]bool) []block {
	kind := store.KindText
	if p.OCR {
		kind = store.KindOCR
	}
	start := len(bs)
	var lines []parse.Line
	for _, l := range pageLines(p) {
		t := strings.TrimSpace(l.Text)
		if t == "" && l.Box.Empty() && len(p.Lines) == 0 {
			lines = append(lines, parse.Line{}) // blank line of a geometry-less page: paragraph mark
			continue
		}
		if t == "" || parse.InTables(l.Box, p.Tables) {
			continue
		}
		if inMargin(p, l.Box) && (furniture[furnitureKey(t)] || pageNumber.MatchString(t)) {
			continue
		}
		l.Text = t
		lines = append(lines, l)
	}
	gap, height, left, right := pageMetrics(lines)
	tables := slices.Clone(p.Tables)
	slices.SortFunc(tables, func(a, b parse.Table) int { return cmp.Compare(a.Box.Y0, b.Box.Y0) })
	addTable := func(t parse.Table) {
		id := fmt.Sprintf("p%d-t%d", p.Number, slices.IndexFunc(p.Tables, func(x parse.Table) bool { return x.Box == t.Box }))
		for i := range t.Rows {
			box := t.Box
			if i < len(t.RowBoxes) {
				box = t.RowBoxes[i]
			}
			bs = append(bs, block{lines: []line{{page: p.Number, box: box}}, kind: store.KindTable, table: &t, tableID: id, row: i})
		}
	}
	first := true
	var prev parse.Line
	blank := false
	for _, l := range lines {
		if l.Text == "" { // paragraph mark
			blank = true
			continue
		}
		for len(tables) > 0 && !l.Box.Empty() && tables[0].Box.Y0 <= l.Box.Y0 {
			addTable(tables[0])
			tables = tables[1:]
			first = true // text after a table starts afresh
		}
		ln := line{text: l.Text, page: p.Number, box: l.Box}
		spk := speakerPrefix(l.Text)
		var brk bool
		switch {
		case first:
			last := len(bs) - 1
			brk = last < 0 || bs[last].kind != kind || bs[last].label || endsSentence(bs[last].lines[len(bs[last].lines)-1].text) ||
				spk != "" || startsItem(l.Text) || (!l.Box.Empty() && l.Box.Height() > 1.2*height)
		default:
			brk = blank || spk != "" || paraBreak(prev, l, gap, height, left, right)
		}
		if brk {
			bs = append(bs, block{lines: []line{ln}, kind: kind, speaker: spk})
		} else {
			bs[len(bs)-1].lines = append(bs[len(bs)-1].lines, ln)
		}
		first, blank, prev = false, false, l
	}
	for _, t := range tables {
		addTable(t)
	}
	// Labels are judged per block once the page's blocks are complete (a
	// block continued from the previous page is never a label).
	for i := start; i < len(bs); i++ {
		b := &bs[i]
		if b.kind == kind && isLabel(b, height) {
			b.label = true
		}
	}
	return bs
}

// pageMetrics returns the usual gap between consecutive lines of the page,
// the median line height and the text's left and right edges.
func pageMetrics(ls []parse.Line) (gap, height, left, right float64) {
	var gaps, hs, xs0, xs1 []float64
	for i, l := range ls {
		if l.Box.Empty() {
			continue
		}
		hs = append(hs, l.Box.Height())
		xs0 = append(xs0, l.Box.X0)
		xs1 = append(xs1, l.Box.X1)
		if i > 0 && !ls[i-1].Box.Empty() {
			if g := l.Box.Y0 - ls[i-1].Box.Y1; g > -0.5*l.Box.Height() {
				gaps = append(gaps, max(g, 0))
			}
		}
	}
	if len(hs) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(xs0)
	slices.Sort(xs1)
	// the 10th percentile of left edges and the 90th of right edges: the
	// column bounds, ignoring indents and short lines
	// The usual gap between lines is the lower quartile of the gaps: on a
	// page of short paragraphs the median is already a paragraph gap.
	slices.Sort(gaps)
	g := 0.0
	if len(gaps) > 0 {
		g = gaps[len(gaps)/4]
	}
	return g, median(hs), xs0[len(xs0)/10], xs1[len(xs1)*9/10]
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// paraBreak decides whether line l starts a new paragraph after prev.
func paraBreak(prev, l parse.Line, gap, height, left, right float64) bool {
	if startsItem(l.Text) {
		return true
	}
	a, b := prev.Box, l.Box
	if a.Empty() || b.Empty() {
		return false
	}
	h := max(height, 1)
	g := b.Y0 - a.Y1
	switch {
	case b.Y1 < a.Y0: // moved up: a new column or a new region
		return true
	case g > gap+0.5*h && g > 0.3*h: // wider than the usual line gap
		return true
	case (b.Height() > 1.25*a.Height() || a.Height() > 1.25*b.Height()) &&
		len(strings.Fields(prev.Text)) >= 4 && len(strings.Fields(l.Text)) >= 4: // type size changes
		// (glyph boxes of a short line without ascenders or descenders
		// are lower than the font size: only longer lines are compared)
		return true
	case b.X0 > left+1.5*h && b.X0 > a.X0+1.5*h && a.X0 < left+h: // first-line indent
		return true
	case endsSentence(prev.Text) && right > left && a.X1 < right-0.3*(right-left): // short last line
		return true
	}
	return false
}

var item = regexp.MustCompile(`^([•●○◦▪■►\-–—*]\s|(\d{1,2}|[a-zA-Z]|[ivxIVX]{1,4})[.)]\s+\S|\(\d{1,2}|[a-z]\)\s)`)

func startsItem(t string) bool { return item.MatchString(t) }

func endsSentence(t string) bool {
	t = strings.TrimRight(t, `"'”’)]`)
	return strings.HasSuffix(t, ".") || strings.HasSuffix(t, "?") || strings.HasSuffix(t, "!") || strings.HasSuffix(t, ":")
}

// speaker is an upper-case name (or "Operator") and a colon opening a line:
// "SATYA NADELLA: Thank you." or "OPERATOR:".
var speaker = regexp.MustCompile(`^((?:[A-Z][A-Z.'’\-]*\s+){0,4}[A-Z][A-Z.'’\-]+|Operator):(\s|$)`)

func speakerPrefix(t string) string {
	m := speaker.FindStringSubmatch(t)
	if m == nil || len(m[1]) < 3 {
		return ""
	}
	return m[1]
}

// smallWords do not count against title case.
var smallWords = map[string]bool{"a": true, "an": true, "and": true, "as": true, "at": true, "by": true, "for": true,
	"from": true, "in": true, "of": true, "on": true, "or": true, "the": true, "to": true, "vs": true, "with": true, "de": true}

var numbered = regexp.MustCompile(`^(\d{1,2}(\.\d{1,2})*\.?|[IVX]{1,4}\.|[A-Z]\.)\s+\p{Lu}`)

// isLabel spots headings and speaker lines: a short block of one or two
// lines that does not end like a sentence and is set in larger type, is in
// title case, is numbered, or names a speaker ("Name Org – Role", "NAME:").
func isLabel(b *block, height float64) bool {
	if len(b.lines) > 2 {
		return false
	}
	t := b.text()
	ws := strings.Fields(t)
	if len(ws) == 0 || len(ws) > 14 || len(t) > 120 {
		return false
	}
	if b.speaker != "" && strings.TrimSpace(strings.TrimPrefix(t, b.speaker+":")) == "" {
		return true // "OPERATOR:" alone on its line
	}
	if strings.ContainsAny(t[len(t)-1:], ".,;!?") {
		return false
	}
	letters, caps := 0, 0
	for _, w := range ws {
		r, _ := utf8.DecodeRuneInString(w)
		if !unicode.IsLetter(r) {
			continue
		}
		if smallWords[strings.ToLower(strings.Trim(w, ",;:"))] {
			continue
		}
		letters++
		if unicode.IsUpper(r) {
			caps++
		}
	}
	if letters == 0 {
		return false // numbers alone: a page number or a table remnant
	}
	titled := caps*10 >= letters*8
	big := height > 0 && !b.lines[0].box.Empty() && b.lines[0].box.Height() > 1.15*height
	switch {
	case big && (titled || len(ws) <= 8):
		return true
	case numbered.MatchString(t) && len(ws) <= 10:
		return true
	case titled && len(ws) <= 8:
		return true
	case titled && (strings.Contains(t, " – ") || strings.Contains(t, " — ") || strings.Contains(t, " - ")):
		return true // "Jane Doe Acme Inc. – Chief Financial Officer"
	}
	return false
}

// piece is what a chunk is built from: a whole block or a span of one.
type piece struct {
	block  int // index of the block it comes from
	text   string
	lines  []line
	kind   string
	label  bool
	tokens int
	table  string
	tab    *parse.Table // the table of a whole row, with its row index
	row    int
}

func pack(bs []block, docID, docName string, o Options) []store.Chunk {
	var out []store.Chunk
	var cur []piece
	tokens, body := 0, 0
	heading := ""    // the label in force
	curHeading := "" // the label of the chunk being filled
	minBody := o.MaxTokens / 4
	emit := func() {
		if len(cur) > 0 {
			out = append(out, build(cur, docID, docName, curHeading, len(out)))
		}
		cur, tokens, body = nil, 0, 0
	}
	add := func(p piece) {
		if len(cur) == 0 {
			curHeading = heading
		}
		cur = append(cur, p)
		tokens += p.tokens
		if !p.label {
			body += p.tokens
		}
	}
	for bi, b := range bs {
		if b.table != nil && b.text() == "" {
			continue
		}
		if len(cur) > 0 && (cur[len(cur)-1].kind != b.kind || cur[len(cur)-1].table != b.tableID) {
			emit() // a chunk holds one kind of text, and rows of one table
		}
		whole := piece{block: bi, text: b.text(), lines: b.lines, kind: b.kind, label: b.label, tokens: b.tokens, table: b.tableID, tab: b.table, row: b.row}
		if b.label || b.speaker != "" {
			// A new section or speaker: close the chunk unless it is too
			// thin to stand alone.
			if len(cur) > 0 && (body >= minBody || tokens+b.tokens > o.MaxTokens) {
				emit()
			}
			if b.label {
				heading = whole.text
			} else {
				heading = b.speaker
			}
			if allLabels(cur) { // no body yet: the latest label names the chunk
				curHeading = heading
			}
		}
		if tokens+b.tokens <= o.MaxTokens {
			add(whole)
			continue
		}
		if b.label { // a label that does not fit: it opens the next chunk
			emit()
			add(whole)
			continue
		}
		// The block does not fit. Start a new chunk unless the current one
		// is thin (a heading and little else), in which case the block is
		// cut to fill it.
		if body >= minBody || allLabels(cur) && tokens > o.MaxTokens/2 {
			emit()
		}
		if tokens+b.tokens <= o.MaxTokens {
			add(whole)
			continue
		}
		spans := sentences(whole.text, o)
		var prevTail []piece
		for i := 0; i < len(spans); i++ {
			p := spanPiece(whole, spans[i], o)
			if len(cur) > 0 && tokens+p.tokens > o.MaxTokens {
				emit()
				// repeat the last sentences of the previous chunk
				var keep []piece
				n := 0
				for j := len(prevTail) - 1; j >= 0 && n+prevTail[j].tokens <= min(o.Overlap, o.MaxTokens-p.tokens); j-- {
					n += prevTail[j].tokens
					keep = append([]piece{prevTail[j]}, keep...)
				}
				for _, k := range keep {
					add(k)
				}
			}
			add(p)
			prevTail = append(prevTail, p)
		}
	}
	if len(cur) > 0 {
		emit()
	}
	return out
}

func allLabels(ps []piece) bool {
	for _, p := range ps {
		if !p.label {
			return false
		}
	}
	return true
}

// span is a byte range of a block's text.
type span struct{ a, b int }

// sentences cuts text at sentence ends; a sentence longer than MaxTokens is
// cut at word boundaries.
func sentences(t string, o Options) []span {
	var out []span
	start := 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c != '.' && c != '?' && c != '!' {
			continue
		}
		j := i + 1
		for j < len(t) && strings.IndexByte(`"')]`, t[j]) >= 0 {
			j++
		}
		if j >= len(t) || t[j] != ' ' {
			continue
		}
		k := j
		for k < len(t) && t[k] == ' ' {
			k++
		}
		if k < len(t) {
			r, _ := utf8.DecodeRuneInString(t[k:])
			if !unicode.IsUpper(r) && !unicode.IsDigit(r) && !strings.ContainsRune(`"'“‘$(`, r) {
				continue
			}
		}
		out = append(out, span{start, j})
		start = k
		i = k - 1
	}
	if start < len(t) {
		out = append(out, span{start, len(t)})
	}
	var res []span
	for _, s := range out {
		if o.Count(t[s.a:s.b]) <= o.MaxTokens {
			res = append(res, s)
			continue
		}
		// words
		a := s.a
		for a < s.b {
			n, e := 0, a
			for e < s.b {
				ws := e
				for ws < s.b && t[ws] == ' ' {
					ws++
				}
				we := ws
				for we < s.b && t[we] != ' ' {
					we++
				}
				if ws == we {
					e = s.b
					break
				}
				c := o.Count(t[ws:we])
				if n > 0 && n+c > o.MaxTokens {
					break
				}
				n += c
				e = we
			}
			res = append(res, span{a, e})
			for e < s.b && t[e] == ' ' {
				e++
			}
			a = e
		}
	}
	return res
}

// spanPiece is the piece of block b's text covering sp, with the lines it
// touches (b.text joins lines with at most one space).
func spanPiece(b piece, sp span, o Options) piece {
	p := piece{block: b.block, text: strings.TrimSpace(b.text[sp.a:sp.b]), kind: b.kind, table: b.table}
	p.tokens = o.Count(p.text)
	off := 0
	for i, l := range b.lines {
		end := off + len(l.text)
		if end > sp.a && off < sp.b {
			p.lines = append(p.lines, l)
		}
		off = end
		if i+1 < len(b.lines) && off < len(b.text) && b.text[off] == ' ' {
			off++
		}
	}
	if len(p.lines) == 0 && len(b.lines) > 0 {
		p.lines = b.lines[:1]
	}
	return p
}

func build(ps []piece, docID, docName, heading string, seq int) store.Chunk {
	var b strings.Builder
	boxes := map[int]parse.Rect{}
	var pages []int
	tokens := 0
	kind := ps[0].kind
	for i, p := range ps {
		switch {
		case i == 0:
		case p.block == ps[i-1].block: // sentences of one paragraph
			b.WriteString(" ")
		default:
			b.WriteString("\n")
		}
		b.WriteString(p.text)
		tokens += p.tokens
		for _, l := range p.lines {
			if _, ok := boxes[l.page]; !ok {
				pages = append(pages, l.page)
			}
			boxes[l.page] = boxes[l.page].Union(l.box)
		}
	}
	slices.Sort(pages)
	c := store.Chunk{DocID: docID, Seq: seq, DocName: docName, Page: pages[0], PageEnd: pages[len(pages)-1],
		Text: b.String(), Kind: kind, Heading: heading, Table: ps[0].table, Tokens: tokens, Terms: map[string]int{}}
	for _, p := range pages {
		r := boxes[p]
		if !r.Empty() {
			c.Boxes = append(c.Boxes, store.Box{Page: int32(p), X0: float32(r.X0), Y0: float32(r.Y0), X1: float32(r.X1), Y1: float32(r.Y1)})
		}
	}
	// The heading counts for keyword search unless the text already starts
	// with it.
	text := c.Text
	if c.Heading != "" && !strings.HasPrefix(c.Text, c.Heading) {
		text = c.Heading + "\n" + c.Text
	}
	if rowTerms(&c, ps, heading) {
		return c
	}
	terms := index.Terms(text)
	for _, t := range terms {
		c.Terms[t]++
	}
	c.Len = len(terms)
	return c
}

// labelWeight is how many times a row label's terms count in a chunk of
// table rows (BM25 term frequency).
const labelWeight = 2

// rowTerms counts the keyword terms of a chunk of table rows: the table's
// name and its column headers once, however many rows repeat them, and each
// row's label path twice, so that what tells rows apart (the label) weighs
// more than what they share. It reports false when a piece is not a whole row.
func rowTerms(c *store.Chunk, ps []piece, heading string) bool {
	for _, p := range ps {
		if p.tab == nil {
			return false
		}
	}
	once := map[string]bool{}
	addOnce := func(s string) {
		for _, t := range index.Terms(s) {
			if !once[t] {
				once[t] = true
				c.Terms[t]++
				c.Len++
			}
		}
	}
	t := ps[0].tab
	addOnce(t.Name(heading))
	for _, h := range t.Header {
		addOnce(h)
	}
	for _, p := range ps {
		row := p.tab.Rows[p.row]
		if len(row) == 0 {
			continue
		}
		for _, term := range index.Terms(row[0]) {
			c.Terms[term] += labelWeight
			c.Len += labelWeight
		}
		for _, v := range row[1:] {
			for _, term := range index.Terms(v) {
				c.Terms[term]++
				c.Len++
			}
		}
	}
	return true
}
