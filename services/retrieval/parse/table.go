package parse

import (
	"regexp"
	"sort"
	"strings"
)

// Table detection from text positions: numeric tables first (see
// numtable.go), then, among the remaining lines, generic aligned tables.
//
// A line is split into cells at horizontal gaps wider than about one line
// height (normal word spacing is a third of that). A table is a run of at
// least minTableLines consecutive, vertically close lines that each have at
// least two cells, whose cells fall into at least two columns (cells of
// different lines overlap horizontally within a column) with no line putting
// two cells into the same column. The first line of the run is the header.
// Ruling lines are not used.

const (
	minTableLines = 3
	cellGapFactor = 1.0 // gap > cellGapFactor*line height starts a new cell
	lineGapFactor = 2.5 // vertical gap > lineGapFactor*line height ends a table
)

type cell struct {
	text string
	box  Rect
}

func splitCells(l Line) []cell {
	h := l.Box.Height()
	var cells []cell
	for i, w := range l.Words {
		if i > 0 {
			prev := l.Words[i-1].Box
			if h > 0 && w.Box.X0-prev.X1 <= cellGapFactor*h && len(cells) > 0 {
				c := &cells[len(cells)-1]
				c.text += " " + w.Text
				c.box = c.box.Union(w.Box)
				continue
			}
		}
		cells = append(cells, cell{text: w.Text, box: w.Box})
	}
	return cells
}

type column struct{ x0, x1 float64 }

// columnsOf merges the horizontal extents of all cells into disjoint
// column intervals.
func columnsOf(rows [][]cell) []column {
	var iv []column
	for _, r := range rows {
		for _, c := range r {
			iv = append(iv, column{c.box.X0, c.box.X1})
		}
	}
	return mergeColumns(iv)
}

// mergeColumns merges overlapping horizontal extents into disjoint column
// intervals, left to right.
func mergeColumns(iv []column) []column {
	sort.Slice(iv, func(i, j int) bool { return iv[i].x0 < iv[j].x0 })
	var out []column
	for _, c := range iv {
		if n := len(out); n > 0 && c.x0 <= out[n-1].x1 {
			out[n-1].x1 = max(out[n-1].x1, c.x1)
			continue
		}
		out = append(out, c)
	}
	return out
}

// assign maps each cell of a row to its column index, or returns nil when
// two cells share a column.
func assign(row []cell, cols []column) []int {
	idx := make([]int, len(row))
	used := make(map[int]bool)
	for i, c := range row {
		idx[i] = -1
		mid := (c.box.X0 + c.box.X1) / 2
		for j, col := range cols {
			if mid >= col.x0 && mid <= col.x1 {
				idx[i] = j
				break
			}
		}
		if idx[i] < 0 || used[idx[i]] {
			return nil
		}
		used[idx[i]] = true
	}
	return idx
}

// consistent reports whether the rows form a table.
func consistent(rows [][]cell) bool {
	cols := columnsOf(rows)
	if len(cols) < 2 {
		return false
	}
	fill := make([]int, len(cols))
	for _, r := range rows {
		idx := assign(r, cols)
		if idx == nil {
			return false
		}
		for _, c := range idx {
			fill[c]++
		}
	}
	// At least two columns must be populated in half of the rows, so that
	// scattered short lines (footnotes, page furniture) do not qualify.
	need := max(2, (len(rows)+1)/2)
	good := 0
	for _, f := range fill {
		if f >= need {
			good++
		}
	}
	return good >= 2
}

func detectTables(lines []Line, rules, fills []Rect) []Table {
	tables := detectNumericTables(lines, rules, fills)
	if len(tables) > 0 {
		var rest []Line
		for _, l := range lines {
			if !InTables(l.Box, tables) {
				rest = append(rest, l)
			}
		}
		lines = rest
	}
	tables = append(tables, detectAlignedTables(lines)...)
	sort.SliceStable(tables, func(i, j int) bool { return tables[i].Box.Y0 < tables[j].Box.Y0 })
	return tables
}

// InTables reports whether r's centre lies in one of the tables' boxes.
func InTables(r Rect, ts []Table) bool {
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

// detectAlignedTables finds runs of lines whose cells align in columns; the
// first line of a run is its header.
func detectAlignedTables(lines []Line) []Table {
	var tables []Table
	cells := make([][]cell, len(lines))
	for i, l := range lines {
		if l.Box.Empty() {
			continue
		}
		cells[i] = splitCells(l)
	}
	i := 0
	for i < len(lines) {
		if len(cells[i]) < 2 {
			i++
			continue
		}
		// Grow the run greedily while it stays consistent.
		j := i + 1
		for j < len(lines) && len(cells[j]) >= 2 {
			prev, next := lines[j-1].Box, lines[j].Box
			h := max(prev.Height(), next.Height())
			if next.Y0 < prev.Y0 || next.Y0-prev.Y1 > lineGapFactor*h {
				break
			}
			if !consistent(cells[i : j+1]) {
				break
			}
			j++
		}
		if j-i >= minTableLines && consistent(cells[i:j]) && !isList(cells[i:j]) {
			tables = append(tables, buildTable(lines[i:j], cells[i:j]))
			i = j
			continue
		}
		i++
	}
	return tables
}

// listMarker matches the bullets and enumerators that open list items.
var listMarker = regexp.MustCompile(`^(?:[•◦▪▫‣⁃∙·●○■□➢►–—*-]|\(?[0-9]{1,2}[.)]|\(?[a-zA-Z][.)]|\([ivx]{1,4}\))$`)

// isList reports whether aligned rows are a bulleted or numbered list (a
// marker, then the item's text) rather than a table.
func isList(rows [][]cell) bool {
	for _, r := range rows {
		if len(r) == 0 || !listMarker.MatchString(strings.TrimSpace(r[0].text)) {
			return false
		}
	}
	return true
}

func buildTable(lines []Line, rows [][]cell) Table {
	cols := columnsOf(rows)
	t := Table{}
	for _, l := range lines {
		t.Box = t.Box.Union(l.Box)
	}
	for r, row := range rows {
		out := make([]string, len(cols))
		for k, ci := range assign(row, cols) {
			out[ci] = strings.TrimSpace(row[k].text)
		}
		if r == 0 {
			t.Header = out
		} else {
			t.Rows = append(t.Rows, out)
		}
	}
	return t
}
