// Package chunk splits a parsed PDF into citable passages that follow its
// structure (lines and paragraphs, table rows with their headers, OCR pages)
// and fit a token budget of the embedding model.
package chunk

import (
	"strings"
	"unicode"

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
	MaxTokens int
	Overlap   int
	Count     Counter
}

type unit struct {
	text    string
	page    int
	box     parse.Rect
	kind    string
	heading string
	tokens  int
	para    bool // starts a paragraph
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
	var units []unit
	heading := ""
	for pi := range doc.Pages {
		p := &doc.Pages[pi]
		kind := store.KindText
		if p.OCR {
			kind = store.KindOCR
		}
		lines := p.Lines
		if len(lines) == 0 && strings.TrimSpace(p.Text) != "" {
			for _, l := range strings.Split(p.Text, "\n") {
				lines = append(lines, parse.Line{Text: l})
			}
		}
		prevBottom, prevH := -1.0, 0.0
		for _, l := range lines {
			t := strings.TrimSpace(l.Text)
			if t == "" || inTable(l.Box, p.Tables) {
				continue
			}
			para := prevBottom < 0 || (l.Box.Y0-prevBottom) > 0.8*max(prevH, l.Box.Height())
			prevBottom, prevH = l.Box.Y1, l.Box.Height()
			if isHeading(t) {
				heading = t
				para = true
			}
			units = append(units, unit{text: t, page: p.Number, box: l.Box, kind: kind, heading: heading, para: para})
		}
		for _, tb := range p.Tables {
			for _, r := range tb.RowStrings() {
				units = append(units, unit{text: r, page: p.Number, box: tb.Box, kind: store.KindTable, heading: heading, para: true})
			}
		}
		if progress != nil {
			progress(pi+1, len(doc.Pages))
		}
	}
	for i := range units {
		units[i].tokens = o.Count(units[i].text)
	}
	return pack(units, docID, docName, o)
}

func pack(units []unit, docID, docName string, o Options) []store.Chunk {
	var out []store.Chunk
	var cur []unit
	tokens := 0
	emit := func(keepOverlap bool) {
		if len(cur) == 0 {
			return
		}
		out = append(out, build(cur, docID, docName, len(out)))
		var keep []unit
		if keepOverlap && o.Overlap > 0 {
			n := 0
			for i := len(cur) - 1; i >= 0 && n+cur[i].tokens <= o.Overlap; i-- {
				n += cur[i].tokens
				keep = append([]unit{cur[i]}, keep...)
			}
			if len(keep) == len(cur) {
				keep = nil
			}
		}
		cur, tokens = keep, 0
		for _, u := range keep {
			tokens += u.tokens
		}
	}
	for _, u := range units {
		if len(cur) > 0 && cur[len(cur)-1].kind != u.kind {
			emit(false)
		}
		// Prefer paragraph boundaries once the chunk is reasonably full.
		if len(cur) > 0 && (tokens+u.tokens > o.MaxTokens || (u.para && tokens >= o.MaxTokens*3/4)) {
			emit(u.kind == store.KindText || u.kind == store.KindOCR)
		}
		if u.tokens > o.MaxTokens { // a single over-long line: split by words
			for _, part := range splitLong(u, o) {
				cur = append(cur, part)
				emit(false)
			}
			continue
		}
		cur = append(cur, u)
		tokens += u.tokens
	}
	emit(false)
	return out
}

func splitLong(u unit, o Options) []unit {
	words := strings.Fields(u.text)
	var out []unit
	for i := 0; i < len(words); {
		j, n := i, 0
		for j < len(words) && (n == 0 || n+o.Count(words[j]) <= o.MaxTokens) {
			n += o.Count(words[j])
			j++
		}
		p := u
		p.text, p.tokens = strings.Join(words[i:j], " "), n
		out = append(out, p)
		i = j
	}
	return out
}

func build(us []unit, docID, docName string, seq int) store.Chunk {
	var b strings.Builder
	boxes := map[int]parse.Rect{}
	var pages []int
	tokens := 0
	for i, u := range us {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(u.text)
		tokens += u.tokens
		if _, ok := boxes[u.page]; !ok {
			pages = append(pages, u.page)
		}
		boxes[u.page] = boxes[u.page].Union(u.box)
	}
	c := store.Chunk{DocID: docID, Seq: seq, DocName: docName, Page: us[0].page, PageEnd: us[len(us)-1].page,
		Text: b.String(), Kind: us[0].kind, Heading: us[0].heading, Tokens: tokens, Terms: map[string]int{}}
	for _, p := range pages {
		r := boxes[p]
		if !r.Empty() {
			c.Boxes = append(c.Boxes, store.Box{Page: int32(p), X0: float32(r.X0), Y0: float32(r.Y0), X1: float32(r.X1), Y1: float32(r.Y1)})
		}
	}
	terms := index.Terms(c.Heading + "\n" + c.Text)
	for _, t := range terms {
		c.Terms[t]++
	}
	c.Len = len(terms)
	return c
}

func inTable(r parse.Rect, ts []parse.Table) bool {
	if r.Empty() {
		return false
	}
	cx, cy := (r.X0+r.X1)/2, (r.Y0+r.Y1)/2
	for _, t := range ts {
		if cx >= t.Box.X0 && cx <= t.Box.X1 && cy >= t.Box.Y0 && cy <= t.Box.Y1 {
			return true
		}
	}
	return false
}

// isHeading spots short title-like lines: few words, no sentence ending,
// mostly capitalised words, not a number.
func isHeading(t string) bool {
	ws := strings.Fields(t)
	if len(ws) == 0 || len(ws) > 8 || len(t) > 80 {
		return false
	}
	if strings.ContainsAny(t[len(t)-1:], ".,;") {
		return false
	}
	caps, letters := 0, 0
	for _, w := range ws {
		r := []rune(w)[0]
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				caps++
			}
		}
	}
	return letters > 0 && caps*10 >= len(ws)*8
}
