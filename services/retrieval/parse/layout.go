package parse

import (
	"strings"
	"unicode"
)

// rawChar is one character from PDFium's text page, in PDFium's order
// (content order with PDFium's own line/space inference, which is reading
// order for ordinary single- and multi-column text).
type rawChar struct {
	r   rune
	box Rect
}

func isBreak(r rune) bool {
	return r == 0 || r == 0xFFFE || r == 0xFFFF || unicode.IsSpace(r) || unicode.IsControl(r)
}

// buildLines groups characters into words and lines. Words break at
// whitespace and at large horizontal gaps; lines break at newlines that
// PDFium inserts and whenever the next word does not overlap the current
// line vertically or jumps back to the left. It returns the lines and the
// number of non-space characters.
func buildLines(chars []rawChar, keepChars bool) ([]Line, int) {
	var (
		lines   []Line
		cur     Line
		word    []rune
		wordBox Rect
		wchars  []Char
		count   int
		lastBox Rect
	)
	flushWord := func() {
		if len(word) == 0 {
			return
		}
		w := Word{Text: string(word), Box: wordBox}
		if keepChars {
			w.Chars = wchars
		}
		// New line if the word is not on the current line's band or moves
		// back to the left of the line's last word.
		if n := len(cur.Words); n > 0 && !wordBox.Empty() && !cur.Box.Empty() {
			prev := cur.Words[n-1].Box
			if !sameBand(cur.Box, wordBox) || (!prev.Empty() && wordBox.X1 < prev.X0) {
				flushLine(&lines, &cur)
			}
		}
		cur.Words = append(cur.Words, w)
		cur.Box = cur.Box.Union(wordBox)
		word, wordBox, wchars = nil, Rect{}, nil
	}
	for _, c := range chars {
		if c.r == '\n' || c.r == '\r' {
			flushWord()
			flushLine(&lines, &cur)
			continue
		}
		if isBreak(c.r) {
			flushWord()
			continue
		}
		box := c.box
		if !finite(box.X0) || !finite(box.X1) || !finite(box.Y0) || !finite(box.Y1) {
			box = Rect{}
		}
		if len(word) > 0 && !box.Empty() && !lastBox.Empty() {
			h := max(lastBox.Height(), box.Height())
			gap := box.X0 - lastBox.X1
			dy := (box.Y0 + box.Y1 - lastBox.Y0 - lastBox.Y1) / 2
			if gap > 0.6*h || box.X1 < lastBox.X0-0.5*h || dy > 0.8*h || dy < -0.8*h {
				flushWord()
			}
		}
		word = append(word, c.r)
		wordBox = wordBox.Union(box)
		if keepChars {
			wchars = append(wchars, Char{Rune: c.r, Box: box})
		}
		if !box.Empty() {
			lastBox = box
		}
		count++
	}
	flushWord()
	flushLine(&lines, &cur)
	return lines, count
}

// sameBand reports whether two boxes overlap vertically by at least a fifth
// of the smaller height (glyph boxes are tight: a comma barely overlaps the
// letter before it).
func sameBand(a, b Rect) bool {
	ov := min(a.Y1, b.Y1) - max(a.Y0, b.Y0)
	return ov >= 0.2*min(a.Height(), b.Height())
}

func flushLine(lines *[]Line, cur *Line) {
	if len(cur.Words) == 0 {
		*cur = Line{}
		return
	}
	parts := make([]string, len(cur.Words))
	for i, w := range cur.Words {
		parts[i] = w.Text
	}
	cur.Text = strings.Join(parts, " ")
	*lines = append(*lines, *cur)
	*cur = Line{}
}

func linesText(lines []Line) string {
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l.Text)
	}
	return b.String()
}
