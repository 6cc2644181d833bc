package parse

import (
	"cmp"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Numeric tables: the financial-statement layout.
//
// The page's lines are first regrouped into visual rows (lines whose
// vertical bands overlap, whatever order PDFium emitted them in) and each
// row is split into cells at wide horizontal gaps. A currency sign standing
// alone joins the number to its right, and a lone ")" or "%" the number to
// its left. A body row has a label (its leading non-numeric cells) and at
// least one value cell (a number, a percentage, a (negative) or a dash). A
// table is a run of at least two body rows, close together, in which rows
// holding only a label ("Net sales:") may stand between body rows: they
// become the parents of the rows indented below them.
//
// The value columns are the horizontal extents of the value cells merged
// across the body rows. Above the body, header rows are the rows whose
// cells all stand either in the value zone or clear of it, none of them a
// plain number other than a year: each column collects, top down, the
// header cell nearest to it in every header row, so that a period group
// ("Three Months Ended") spans its date columns and dates split over two
// lines are joined. Above the headers, up to three short lines give the
// table's title and its units ("(In millions, except ...)").

var (
	numericCell = regexp.MustCompile(`^[(\[]?[-–—−+]?\s?(?:US\$|[$€£¥])?\s?[(]?\d[\d,]*(?:\.\d+)?\s?[)]?\s?(?:%|x|bps|pts)?[)\]]?\s?%?$`)
	dashCell    = regexp.MustCompile(`^(?:[-–—]{1,3}|(?i:n/?a|n/?m|nmf?))$`)
	yearCell    = regexp.MustCompile(`^(?:19|20)\d\d$`)
	unitsRe     = regexp.MustCompile(`(?i)\b(?:(?:u\.s\.\s)?dollars\s|amounts\s|\$\s?)?in\s(millions|thousands|billions)\b`)
	unitsParen  = regexp.MustCompile(`(?i)\([^()]*\bin\s(?:millions|thousands|billions)\b[^()]*\)`)
	unaudited   = regexp.MustCompile(`(?i)\s*\(?unaudited\)?\s*`)
)

const (
	currencySigns = "$€£¥"
	maxHeaderRows = 6
	maxTitleRows  = 3
)

// isValue reports whether a cell holds a table value.
func isValue(s string) bool {
	return numericCell.MatchString(s) || dashCell.MatchString(s)
}

// vrow is a visual row: cells of all the lines sharing a band.
type vrow struct {
	box   Rect
	cells []cell
	h     float64 // median word height
}

// visualRows groups lines into rows by vertical band, top to bottom.
func visualRows(lines []Line) []vrow {
	idx := make([]int, 0, len(lines))
	for i, l := range lines {
		if !l.Box.Empty() && len(l.Words) > 0 {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		return cmp.Compare((lines[a].Box.Y0+lines[a].Box.Y1)/2, (lines[b].Box.Y0+lines[b].Box.Y1)/2)
	})
	var rows []vrow
	var ref Rect // band of the row's first line
	var words []Word
	flush := func() {
		if len(words) == 0 {
			return
		}
		slices.SortStableFunc(words, func(a, b Word) int { return cmp.Compare(a.Box.X0, b.Box.X0) })
		hs := make([]float64, len(words))
		var box Rect
		for i, w := range words {
			hs[i] = w.Box.Height()
			box = box.Union(w.Box)
		}
		slices.Sort(hs)
		h := hs[len(hs)/2]
		rows = append(rows, vrow{box: box, cells: rowCells(words, h), h: h})
		words = nil
	}
	for _, i := range idx {
		l := lines[i]
		if len(words) > 0 && !sameBand(ref, l.Box) {
			flush()
		}
		if len(words) == 0 {
			ref = l.Box
		}
		for _, w := range l.Words {
			if !w.Box.Empty() {
				words = append(words, w)
			}
		}
	}
	flush()
	return rows
}

// rowCells splits a row's words (sorted by x) into cells and joins
// currency signs and closing marks to their numbers.
func rowCells(words []Word, h float64) []cell {
	var cells []cell
	for i, w := range words {
		if i > 0 && len(cells) > 0 {
			prev := words[i-1].Box
			if h > 0 && w.Box.X0-prev.X1 <= cellGapFactor*h {
				c := &cells[len(cells)-1]
				c.text += " " + w.Text
				c.box = c.box.Union(w.Box)
				continue
			}
		}
		cells = append(cells, cell{text: w.Text, box: w.Box})
	}
	var out []cell
	for i := 0; i < len(cells); i++ {
		c := cells[i]
		t := strings.TrimSpace(c.text)
		switch {
		case (t == "US$" || (utf8.RuneCountInString(t) == 1 && strings.ContainsAny(t, currencySigns))) &&
			i+1 < len(cells) && isValue(strings.TrimSpace(cells[i+1].text)):
			n := cells[i+1]
			cells[i+1] = cell{text: t + strings.TrimSpace(n.text), box: c.box.Union(n.box)}
			continue
		case (t == ")" || t == "%" || t == ")%" || t == "%)") && len(out) > 0 && isValue(out[len(out)-1].text):
			p := &out[len(out)-1]
			p.text += t
			p.box = p.box.Union(c.box)
			continue
		}
		c.text = strings.Join(strings.Fields(t), " ")
		// "$ 63,355" or "5 %" inside one cell: signs belong to the number.
		if isValue(c.text) {
			c.text = strings.ReplaceAll(c.text, " ", "")
		}
		out = append(out, c)
	}
	return out
}

// split returns a row's label cells (before its first value) and values.
func (r vrow) split() (label []cell, values []cell) {
	for i, c := range r.cells {
		if isValue(c.text) {
			return r.cells[:i], r.cells[i:]
		}
	}
	return r.cells, nil
}

// isBody reports whether r is a table body row: a label (one or two cells)
// and values, or two values that are not all years; every cell after the
// label must be a value (a row of years and words is a header).
func (r vrow) isBody() bool {
	label, values := r.split()
	if len(values) == 0 {
		return false
	}
	for _, v := range values {
		if !isValue(v.text) {
			return false
		}
	}
	if len(label) > 2 {
		return false // words scattered across the row: a text table
	}
	if len(label) > 0 {
		return true
	}
	if len(values) < 2 {
		return false
	}
	for _, v := range values {
		if !yearCell.MatchString(v.text) {
			return true
		}
	}
	return false
}

func words(s string) int { return len(strings.Fields(s)) }

// isLabelOnly reports whether r can stand inside a table body as a parent
// label ("Operating expenses:") or the first line of a wrapped label: one
// cell that is not a sentence.
func (r vrow) isLabelOnly() bool {
	if len(r.cells) != 1 {
		return false
	}
	t := r.cells[0].text
	return words(t) <= 30 && !strings.HasSuffix(t, ".") && !isValue(t)
}

// numTable is a detected numeric table before rendering.
type numTable struct {
	top, bottom int // body rows [top, bottom]
	cols        []column
}

// isFillBox reports whether a path object's box can be a cell or row
// background on a page pageWidth wide: taller than a rule, at most a few
// lines high, narrower than the page (not a page or frame background).
func isFillBox(r Rect, pageWidth float64) bool {
	return finite(r.X0) && finite(r.X1) && finite(r.Y0) && finite(r.Y1) &&
		r.Height() > 2 && r.Height() <= 48 && r.Width() >= 8 && (pageWidth <= 0 || r.Width() < 0.9*pageWidth)
}

// band is the vertical extent of one table row as its shading draws it.
type band struct{ y0, y1 float64 }

// rowBands returns the row extents the fills draw, top to bottom: each run
// of fills sharing a top and bottom edge (a shaded row: one fill across it
// or one per cell) is a band, and so is the unshaded gap between two
// bands of a striped table when it is no taller than a band beside it (the
// other rows of the stripes).
func rowBands(fills []Rect) []band {
	if len(fills) == 0 {
		return nil
	}
	fs := slices.Clone(fills)
	slices.SortFunc(fs, func(a, b Rect) int { return cmp.Or(cmp.Compare(a.Y0, b.Y0), cmp.Compare(a.Y1, b.Y1)) })
	var bs []band
	for _, f := range fs {
		if n := len(bs); n > 0 && math.Abs(bs[n-1].y0-f.Y0) <= 1 && math.Abs(bs[n-1].y1-f.Y1) <= 1 {
			continue
		}
		bs = append(bs, band{f.Y0, f.Y1})
	}
	out := make([]band, 0, 2*len(bs))
	for i, b := range bs {
		if i > 0 {
			prev := bs[i-1]
			gap := b.y0 - prev.y1
			if gap >= 3 && gap <= 1.25*max(prev.y1-prev.y0, b.y1-b.y0) {
				out = append(out, band{prev.y1, b.y0})
			}
		}
		out = append(out, b)
	}
	return out
}

// joinBanded joins each label-only row (the first line of a wrapped label)
// with the row below it when both stand in one band: the cells that
// overlap the label continue it ("… net of tax of $76, $36, $136, and" +
// "$4"), the rest are that row's values.
func joinBanded(rows []vrow, bands []band) []vrow {
	if len(bands) == 0 {
		return rows
	}
	in := func(r vrow) int {
		mid := (r.box.Y0 + r.box.Y1) / 2
		for i, b := range bands {
			if mid >= b.y0-0.5 && mid <= b.y1+0.5 {
				return i
			}
		}
		return -1
	}
	out := make([]vrow, 0, len(rows))
	for _, r := range rows {
		if n := len(out); n > 0 {
			prev := &out[n-1]
			if bi := in(r); bi >= 0 && bi == in(*prev) && prev.isLabelOnly() && len(r.cells) > 0 {
				lab := &prev.cells[0]
				rest := make([]cell, 0, len(r.cells))
				for _, c := range r.cells {
					if min(c.box.X1, lab.box.X1)-max(c.box.X0, lab.box.X0) > 0 {
						lab.text += " " + c.text
						lab.box = lab.box.Union(c.box)
					} else {
						rest = append(rest, c)
					}
				}
				prev.cells = append(prev.cells, rest...)
				slices.SortStableFunc(prev.cells, func(a, b cell) int { return cmp.Compare(a.box.X0, b.box.X0) })
				prev.box = prev.box.Union(r.box)
				prev.h = max(prev.h, r.h)
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// isRule reports whether a path object's box is a horizontal ruling line.
func isRule(r Rect) bool {
	return finite(r.X0) && finite(r.X1) && finite(r.Y0) && finite(r.Y1) &&
		r.Height() >= 0 && r.Height() <= 2 && r.Width() >= 8
}

// spanOf returns the columns a header cell spans by its underline: a rule
// just below the cell, wider than its text, covers the columns whose
// middles it reaches; and the index of that rule in rules. nil (and -1)
// when the cell has no such rule.
func spanOf(c cell, cols []column, rules []Rect, h float64) ([]bool, int) {
	for ri, r := range rules {
		if r.Y0 < c.box.Y1-1 || r.Y0 > c.box.Y1+1.2*h+2 {
			continue
		}
		ov := min(r.X1, c.box.X1) - max(r.X0, c.box.X0)
		if ov < 0.5*c.box.Width() || r.Width() < 1.3*c.box.Width() {
			continue
		}
		span := make([]bool, len(cols))
		n := 0
		for j, col := range cols {
			if mid := (col.x0 + col.x1) / 2; mid >= r.X0-2 && mid <= r.X1+2 {
				span[j] = true
				n++
			}
		}
		if n >= 2 {
			return span, ri
		}
	}
	return nil, -1
}

// detectNumericTables finds the numeric tables of a page; rules are its
// horizontal ruling lines (they tell which columns a header spans), fills
// its shaded rectangles (a row's background holds a wrapped label's lines).
func detectNumericTables(lines []Line, rules, fills []Rect) []Table {
	rows := joinBanded(visualRows(lines), rowBands(fills))
	var out []Table
	for i := 0; i < len(rows); i++ {
		if !rows[i].isBody() {
			continue
		}
		last, bodies := i, 1
		for k := i + 1; k < len(rows); k++ {
			h := max(rows[k].h, rows[k-1].h, 1)
			if rows[k].box.Y0-rows[k-1].box.Y1 > 3*h {
				break
			}
			if rows[k].isBody() {
				last, bodies = k, bodies+1
				continue
			}
			if rows[k].isLabelOnly() {
				continue
			}
			break
		}
		if bodies < 2 {
			continue
		}
		nt := numTable{top: i, bottom: last}
		nt.cols = valueColumns(rows[i : last+1])
		if len(nt.cols) == 0 {
			continue
		}
		// parent labels directly above the first body row ("Net sales:")
		for nt.top > 0 {
			r, below := rows[nt.top-1], rows[nt.top]
			if !r.isLabelOnly() || r.box.X1 > nt.cols[0].x0 || below.box.Y0-r.box.Y1 > 2.5*max(r.h, below.h, 1) {
				break
			}
			nt.top--
		}
		// labels must stay clear of the value zone (else the numbers are
		// scattered through a text table)
		ok := true
		for k := nt.top; k <= last; k++ {
			label, _ := rows[k].split()
			if len(label) > 0 && label[len(label)-1].box.X1 > nt.cols[0].x0 {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		out = append(out, buildNumTable(rows, nt, rules))
		i = last
	}
	return out
}

// valueColumns merges the extents of the body rows' value cells.
func valueColumns(rows []vrow) []column {
	var iv []column
	for _, r := range rows {
		if !r.isBody() {
			continue
		}
		_, values := r.split()
		for _, c := range values {
			iv = append(iv, column{c.box.X0, c.box.X1})
		}
	}
	return mergeColumns(iv)
}

// colOf returns the column whose extent holds the cell's middle, else the
// nearest one.
func colOf(c cell, cols []column) int {
	mid := (c.box.X0 + c.box.X1) / 2
	best, bd := 0, -1.0
	for j, col := range cols {
		d := 0.0
		switch {
		case mid < col.x0:
			d = col.x0 - mid
		case mid > col.x1:
			d = mid - col.x1
		}
		if bd < 0 || d < bd {
			best, bd = j, d
		}
	}
	return best
}

// gap is the horizontal distance between a cell and a column (negative
// when they overlap, by the overlap).
func gap(c cell, col column) float64 {
	if c.box.X1 < col.x0 {
		return col.x0 - c.box.X1
	}
	if c.box.X0 > col.x1 {
		return c.box.X0 - col.x1
	}
	return -(min(c.box.X1, col.x1) - max(c.box.X0, col.x0))
}

func buildNumTable(rows []vrow, nt numTable, rules []Rect) Table {
	cols := nt.cols
	zone := cols[0].x0
	pitch := 0.0
	if len(cols) > 1 {
		pitch = ((cols[len(cols)-1].x0 + cols[len(cols)-1].x1) - (cols[0].x0 + cols[0].x1)) / 2 / float64(len(cols)-1)
	} else {
		pitch = 2 * (cols[0].x1 - cols[0].x0)
	}
	tol := 0.3 * pitch
	body := rows[nt.top : nt.bottom+1]
	h := body[0].h

	// header rows above the body
	hdrTop := nt.top
	for k := nt.top - 1; k >= 0 && nt.top-k <= maxHeaderRows; k-- {
		r := rows[k]
		hh := max(r.h, rows[k+1].h, h, 1)
		if rows[k+1].box.Y0-r.box.Y1 > 2.5*hh {
			break
		}
		inZone, fine := 0, true
		for _, c := range r.cells {
			switch {
			case c.box.X0 >= zone-tol:
				if isValue(c.text) && !yearCell.MatchString(c.text) {
					fine = false
				}
				inZone++
			case c.box.X1 <= zone:
			default:
				fine = false
			}
		}
		if !fine || inZone == 0 {
			break
		}
		hdrTop = k
	}
	t := Table{Header: make([]string, len(cols)+1)}
	var stub []string
	colParts := make([][]string, len(cols))
	for k := hdrTop; k < nt.top; k++ {
		var zc []cell
		for _, c := range rows[k].cells {
			if c.box.X0 >= zone-tol {
				zc = append(zc, c)
			} else {
				stub = append(stub, c.text)
			}
		}
		spans := make([][]bool, len(zc))
		under := make([]int, len(zc))
		shared := map[int]int{}
		for ci, c := range zc {
			spans[ci], under[ci] = spanOf(c, cols, rules, max(rows[k].h, 1))
			if under[ci] >= 0 {
				shared[under[ci]]++
			}
		}
		for ci := range zc {
			if under[ci] >= 0 && shared[under[ci]] > 1 {
				spans[ci] = nil // one rule under several headers of the row: the table's border, not a span
			}
		}
		for j, col := range cols {
			best, bg := -1, 0.0
			for ci := range zc {
				if spans[ci] != nil && spans[ci][j] {
					best = ci // underlined over this column
					break
				}
			}
			for ci, c := range zc {
				if best >= 0 && spans[best] != nil {
					break
				}
				if g := gap(c, col); g <= tol && (best < 0 || g < bg) {
					best, bg = ci, g
				}
			}
			if best >= 0 {
				colParts[j] = append(colParts[j], zc[best].text)
			}
		}
		t.Box = t.Box.Union(rows[k].box)
	}
	for j := range cols {
		t.Header[j+1] = strings.Join(colParts[j], " ")
	}

	// title and units above
	above := hdrTop
	var title []string
	for k := above - 1; k >= 0 && above-k <= maxTitleRows; k-- {
		r := rows[k]
		hh := max(r.h, rows[k+1].h, h, 1)
		if rows[k+1].box.Y0-r.box.Y1 > 3*hh {
			break
		}
		text := rowText(r)
		if k > 0 && t.Units == "" && !unitsRe.MatchString(text) {
			// "... (in" / "millions):" wrapped over two lines
			if m := unitsRe.FindStringSubmatch(rowText(rows[k-1]) + " " + text); m != nil {
				t.Units = "in " + strings.ToLower(m[1])
			}
		}
		if m := unitsRe.FindStringSubmatch(text); m != nil && t.Units == "" {
			t.Units = "in " + strings.ToLower(m[1])
		}
		if strings.HasSuffix(text, ":") && len(title) == 0 {
			// "Information on reportable segments ... is as follows (in
			// millions):": the sentence introducing the table names it
			t.Title = introTitle(rows, k)
			break
		}
		if words(text) > 20 || len(r.cells) > 2 || startsLower(text) {
			break // a paragraph or another table: only its units count
		}
		clean := strings.TrimSpace(unaudited.ReplaceAllString(text, " "))
		if unitsRe.MatchString(clean) && strings.HasPrefix(clean, "(") {
			continue
		}
		clean = strings.TrimSpace(unitsParen.ReplaceAllString(clean, " "))
		if clean != "" {
			title = append([]string{titleCase(clean)}, title...)
		}
	}
	if t.Units == "" {
		for _, s := range stub {
			if m := unitsRe.FindStringSubmatch(s); m != nil {
				t.Units = "in " + strings.ToLower(m[1])
			}
		}
	}
	if t.Title == "" {
		t.Title = strings.Join(title, " ")
	}

	// body rows with their label paths
	type parent struct {
		x     float64
		label string
	}
	var stack []parent
	pending := "" // a wrapped label's first line
	for bi, r := range body {
		label, values := r.split()
		lx := r.box.X0
		lt := cellsText(label)
		if len(values) == 0 || !r.isBody() {
			next := ""
			if bi+1 < len(body) {
				nl, _ := body[bi+1].split()
				next = cellsText(nl)
			}
			if !strings.HasSuffix(lt, ":") && startsLower(next) {
				pending = lt
				continue
			}
			for len(stack) > 0 && stack[len(stack)-1].x >= lx-2 {
				stack = stack[:len(stack)-1]
			}
			stack = append(stack, parent{lx, strings.TrimSuffix(lt, ":")})
			continue
		}
		if pending != "" {
			lt = pending + " " + lt
			pending = ""
		}
		if len(label) > 0 {
			lx = label[0].box.X0
		}
		for len(stack) > 0 && stack[len(stack)-1].x >= lx-2 {
			stack = stack[:len(stack)-1]
		}
		path := make([]string, 0, len(stack)+1)
		for _, p := range stack {
			path = append(path, p.label)
		}
		path = append(path, strings.TrimSuffix(lt, ":"))
		cells := make([]string, len(cols)+1)
		cells[0] = strings.Join(path, " › ")
		for _, v := range values {
			j := colOf(v, cols)
			if cells[j+1] != "" {
				cells[j+1] += " "
			}
			cells[j+1] += v.text
		}
		t.Rows = append(t.Rows, cells)
		t.RowBoxes = append(t.RowBoxes, r.box)
		t.Box = t.Box.Union(r.box)
	}
	if t.Units != "" {
		t.Header[0] = "(" + t.Units + ")"
	}
	return t
}

func rowText(r vrow) string { return cellsText(r.cells) }

var (
	sentenceEnd = regexp.MustCompile(`[.!?]["”’)]?\s+`)
	asFollows   = regexp.MustCompile(`(?i)[,\s]*(?:(?:is|are|were|was)\s+)?(?:as follows|the following|below)?\s*:?\s*$`)
)

// introTitle returns the sentence ending on row k (which ends with ":")
// without its units and "as follows": the table's name. The sentence may
// start up to three rows above.
func introTitle(rows []vrow, k int) string {
	text := rowText(rows[k])
	for j := k - 1; j >= 0 && k-j < 3 && !sentenceEnd.MatchString(text); j-- {
		if rows[j+1].box.Y0-rows[j].box.Y1 > 1.5*max(rows[j].h, 1) {
			break
		}
		text = rowText(rows[j]) + " " + text
	}
	if loc := sentenceEnd.FindAllStringIndex(text, -1); len(loc) > 0 {
		text = text[loc[len(loc)-1][1]:]
	}
	text = unitsParen.ReplaceAllString(text, " ")
	text = strings.Join(strings.Fields(asFollows.ReplaceAllString(text, "")), " ")
	if words(text) > 30 {
		return ""
	}
	return text
}

func cellsText(cs []cell) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.text
	}
	return strings.Join(parts, " ")
}

func startsLower(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLower(r)
}

// titleCase turns an all-capitals title into title case ("CONDENSED
// CONSOLIDATED BALANCE SHEETS" -> "Condensed Consolidated Balance Sheets");
// other titles are returned as they are.
func titleCase(s string) string {
	letters, upper := 0, 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	if letters < 4 || upper*10 < letters*9 {
		return s
	}
	ws := strings.Fields(s)
	for i, w := range ws {
		lw := strings.ToLower(w)
		if i > 0 && smallTitleWords[lw] {
			ws[i] = lw
			continue
		}
		r, n := utf8.DecodeRuneInString(lw)
		ws[i] = string(unicode.ToUpper(r)) + lw[n:]
	}
	return strings.Join(ws, " ")
}

var smallTitleWords = map[string]bool{"a": true, "an": true, "and": true, "of": true, "in": true, "on": true, "or": true, "the": true, "to": true, "for": true, "by": true}

// linkTables carries headers over page breaks: a table at the top of a page
// without column headers of its own continues the last table of the
// previous page when they have as many columns, and takes its headers,
// title and units.
func linkTables(pages []Page) {
	for i := 1; i < len(pages); i++ {
		cur, prev := &pages[i], &pages[i-1]
		if len(cur.Tables) == 0 || len(prev.Tables) == 0 {
			continue
		}
		t, p := &cur.Tables[0], &prev.Tables[len(prev.Tables)-1]
		if len(t.Header) != len(p.Header) || len(t.RowBoxes) == 0 || len(p.RowBoxes) == 0 {
			continue
		}
		if cur.Height > 0 && t.Box.Y0 > 0.35*cur.Height {
			continue // not at the top of the page
		}
		for _, h := range t.Header[1:] {
			if h != "" {
				goto next
			}
		}
		copy(t.Header[1:], p.Header[1:])
		if t.Title == "" {
			t.Title = p.Title
		}
		if t.Units == "" {
			t.Units, t.Header[0] = p.Units, p.Header[0]
		}
		t.Continued = true
	next:
	}
}
