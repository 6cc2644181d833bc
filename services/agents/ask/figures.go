package ask

import (
	"regexp"
	"sort"
	"strings"
	"time"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

// Cell is one figure of a table row, with its column header when the row
// carries one ("Three Months Ended April 1, 2023 $94,836").
type Cell struct {
	Header string
	Value  Quantity
	End    time.Time // the period the header names, when it names a date
	Span   string    // "three months", "six months", ... when the header says
}

// Row is a table row read from a passage: a label and its figures.
type Row struct {
	Path  string // the row's section path without the label, lower case ("cost of sales")
	Label string // "Total net sales"
	Cells []Cell
	Text  string // the unit it was read from
}

var (
	rowLabelRe = regexp.MustCompile(`^[^\d$€£(−-][^:;]*?[A-Za-z)][^:;]*$`)
	spanNorm   = map[string]string{"3": "three", "6": "six", "9": "nine", "12": "twelve"}
)

// ParseRow reads a table row in any of the forms the retrieval service
// writes: "Total net sales 94,836 97,278", "Net sales: — Total net sales:
// 94,836; 97,278", or with column headers per cell, "(in millions) — Net
// sales by category › Total net sales: Three Months Ended April 1, 2023
// $94,836; Three Months Ended March 26, 2022 $97,278". ok is false for
// text that is not a row (a sentence, a heading).
func ParseRow(unit string, scale float64, currency string) (Row, bool) {
	s := strings.TrimSpace(unit)
	if i := strings.LastIndex(s, " — "); i >= 0 {
		s = strings.TrimSpace(s[i+len(" — "):])
	}
	var r Row
	if label, rest, ok := strings.Cut(s, ": "); ok && rowLabelRe.MatchString(label) && strings.ContainsAny(rest, "0123456789") {
		r.Label = label
		for _, c := range strings.Split(rest, "; ") {
			cell, ok := parseCell(c, scale, currency)
			if !ok {
				continue
			}
			r.Cells = append(r.Cells, cell)
		}
	} else {
		// "Label 1,234 5,678 (3)%": figures trail the label.
		fields := strings.Fields(s)
		cut := len(fields)
		for cut > 0 && isFigureToken(fields[cut-1]) {
			cut--
		}
		if cut == 0 || cut == len(fields) {
			return Row{}, false
		}
		r.Label = strings.Join(fields[:cut], " ")
		if !rowLabelRe.MatchString(r.Label) || len(strings.Fields(r.Label)) > 12 {
			return Row{}, false
		}
		for _, q := range FindQuantities(strings.Join(fields[cut:], " ")) {
			r.Cells = append(r.Cells, Cell{Value: withDefaults(q, scale, currency)})
		}
	}
	if p, l, ok := cutLast(r.Label, "›"); ok {
		r.Path, r.Label = strings.ToLower(strings.TrimSpace(p)), strings.TrimSpace(l)
	}
	r.Label = strings.TrimSpace(strings.TrimRight(r.Label, ":"))
	if r.Label == "" || len(r.Cells) == 0 {
		return Row{}, false
	}
	r.Text = unit
	return r, true
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", s, false
	}
	return s[:i], s[i+len(sep):], true
}

// isFigureToken is a table cell token: a number, "$", "%", "—" or "(3)%".
func isFigureToken(t string) bool {
	switch t {
	case "$", "%", "—", "-", "–", "€", "£":
		return true
	}
	return strings.Trim(t, "$€£()%,.−-0123456789") == "" && strings.ContainsAny(t, "0123456789")
}

// parseCell reads "Three Months Ended April 1, 2023 $94,836" or "94,836".
func parseCell(c string, scale float64, currency string) (Cell, bool) {
	c = strings.TrimSpace(c)
	qs := FindQuantities(c)
	if len(qs) == 0 {
		return Cell{}, false
	}
	q := qs[len(qs)-1]
	i := strings.LastIndex(c, q.Text)
	if i < 0 || strings.TrimSpace(c[i+len(q.Text):]) != "" {
		return Cell{}, false // the figure must end the cell
	}
	cell := Cell{Header: strings.TrimSpace(c[:i]), Value: withDefaults(q, scale, currency)}
	if m := spanRe.FindStringSubmatch(cell.Header); m != nil {
		w := strings.ToLower(m[1])
		if n, ok := spanNorm[w]; ok {
			w = n
		}
		cell.Span = w + " months"
	}
	if t, ok := parseDate(cell.Header, yearUnknown); ok {
		cell.End = t
	}
	return cell, true
}

// withDefaults gives a table figure the passage's scale ("in millions")
// and currency when the cell writes none.
func withDefaults(q Quantity, scale float64, currency string) Quantity {
	if q.Percent {
		return q
	}
	if q.Scale == 1 && scale > 1 {
		q.Scale = scale
	}
	if q.Currency == "" {
		q.Currency = currency
	}
	return q
}

var (
	inScaleRe = regexp.MustCompile(`(?i)\bin (thousands|millions|billions)\b|\b(thousands|millions|billions)\)`)
	scaleOf   = map[string]float64{"thousands": 1e3, "millions": 1e6, "billions": 1e9}
)

// passageUnits reads a passage's scale ("(In millions, ...)") and whether
// its figures are dollars, for the rows that write neither.
func passageUnits(text string) (float64, string) {
	scale := 1.0
	if m := inScaleRe.FindStringSubmatch(text); m != nil {
		scale = scaleOf[strings.ToLower(m[1]+m[2])]
	}
	cur := ""
	if strings.Contains(text, "$") {
		cur = "$"
	}
	return scale, cur
}

// Figure is one number of the evidence that may answer the question: a
// table row's cell or a sentence's number, with where it came from.
type Figure struct {
	Label string    // the row label, or "" for a sentence
	Path  string    // the row's section path
	Col   int       // the cell's column in its row (0: the first figure)
	End   time.Time // the period it is for, when known
	Span  string    // "three months", ... when known
	Value Quantity
	Unit  string  // the row or sentence it was read from
	Score float64 // how well it answers the question
	Ev    *agentsv1.Evidence
}

// Cite is the figure's citation label.
func (f Figure) Cite() string { return Label(f.Ev.GetPassage()) }

// measureTerms are the terms of q that name what is measured: q's terms
// without period words, dates and spans, series words, parenthesised
// aliases ("AWS (Amazon Web Services)") and the issuers' names, with
// synonyms folded ("sales" is "revenue").
func measureTerms(q string, drop map[string]bool) map[string]bool {
	out := map[string]bool{}
	q = parenRe.ReplaceAllString(q, " ")
	q = spanRe.ReplaceAllString(dateRe.ReplaceAllString(q, " "), " ") // "the three months ended June 25, 2022"
	for w := range labelTerms(seriesRe.ReplaceAllString(q, " ")) {
		if drop[w] || periodWord(w) || genericMeasure[w] {
			continue
		}
		out[w] = true
	}
	return out
}

// genericMeasure are question words that name no row: "what was the change in ...".
var genericMeasure = terms(`change changed changes growth grow grew increase increased decrease decreased decline declined
rose rise fell fall difference differ amount figure value number reported report quarter quarters quarterly year years
yearly annual period periods time trend trends evolved compare compared percent percentage fluctuate fluctuated
fluctuation fluctuations vary varied variation identify identified notable significant segment category level levels`)

var (
	parenRe = regexp.MustCompile(`\([^()]*\)`)
	// footnoteRe finds footnote marks in row labels: "iPhone (1)", "Mac ®".
	footnoteRe = regexp.MustCompile(`\(\d\)|[®™*†‡]`)
	synonyms   = map[string]string{"sal": "revenu", "turnover": "revenu"}
)

// labelTerms are the terms of a row label or question for matching rows,
// footnote marks dropped and synonyms folded.
func labelTerms(s string) map[string]bool {
	out := map[string]bool{}
	for w := range terms(footnoteRe.ReplaceAllString(s, " ")) {
		if c, ok := synonyms[w]; ok {
			w = c
		}
		out[w] = true
	}
	return out
}

func periodWord(w string) bool {
	switch {
	case len(w) == 2 && w[0] == 'q' && w[1] >= '1' && w[1] <= '4':
		return true
	case len(w) == 4 && (strings.HasPrefix(w, "19") || strings.HasPrefix(w, "20")) && strings.Trim(w, "0123456789") == "":
		return true
	case strings.HasPrefix(w, "fy"), w == "fiscal":
		return true
	}
	switch w {
	case "first", "second", "third", "fourth", "january", "february", "march", "april", "may", "june", "july", "august",
		"september", "october", "november", "december", "month", "week", "ended", "end", "ending", "latest", "recent", "last":
		return true
	}
	return false
}

// neutralPath are words that qualify no row ("Net sales by category",
// "Total net sales" for "sales").
var neutralPath = terms(`net total category categories segment segments reportable by`)

// labelScore rates how well a row names the measure: the share of measure
// terms its label and section path have, less a penalty for label words
// the question does not use ("Percentage of total net sales" for "total
// net sales") and a smaller one for section words it does not use (the
// "Services" row under "Cost of sales" for "services revenue").
func labelScore(measure map[string]bool, label, path string) float64 {
	lt, pt := labelTerms(label), labelTerms(path)
	if len(lt) == 0 || len(measure) == 0 {
		return 0
	}
	all := map[string]bool{}
	for w := range lt {
		all[w] = true
	}
	for w := range pt {
		all[w] = true
	}
	extra := 0
	for w := range lt {
		if !measure[w] && !neutralPath[w] {
			extra++
		}
	}
	s := overlap(measure, all) - 0.5*float64(extra)/float64(len(lt))
	if len(pt) > 0 {
		pextra := 0
		for w := range pt {
			if !measure[w] && !neutralPath[w] {
				pextra++
			}
		}
		s -= 0.25 * float64(pextra) / float64(len(pt))
	}
	return s
}

// Figures reads the figures of evs that may answer a question with
// measure terms: table rows whose label names the measure (each cell a
// figure) and, for passages that are prose, numbers of the extracts.
// wantPct says the question asks for a percentage (growth rate, margin).
// Best first.
func Figures(measure map[string]bool, wantPct bool, evs []*agentsv1.Evidence) []Figure {
	var out []Figure
	for rank, ev := range evs {
		p := ev.GetPassage()
		scale, cur := passageUnits(p.GetText())
		for _, u := range units(p.GetText()) {
			r, ok := ParseRow(u, scale, cur)
			if !ok {
				continue
			}
			ls := labelScore(measure, r.Label, r.Path)
			if ls < 0.75 { // most of the measure named: "Total net sales" is no "Services revenue"
				continue
			}
			for i, c := range r.Cells {
				if c.Value.Percent != wantPct {
					continue
				}
				out = append(out, Figure{Label: r.Label, Path: r.Path, Col: i, End: c.End, Span: c.Span, Value: c.Value, Unit: u,
					Score: ls + 0.1 - 0.01*float64(rank) - 0.001*float64(i), Ev: ev})
			}
		}
		for _, x := range ev.GetExtracts() {
			if _, isRow := ParseRow(x, scale, cur); isRow {
				continue
			}
			s := overlap(measure, labelTerms(x))
			if s < 0.75 { // prose must name the measure fully: "deferred revenue" is no "iPhone revenue"
				continue
			}
			for i, q := range FindQuantities(x) {
				if q.Percent != wantPct || (!wantPct && q.Currency == "" && q.Scale == 1) {
					continue
				}
				out = append(out, Figure{Value: q, Unit: x, Score: s - 0.01*float64(rank) - 0.001*float64(i), Ev: ev})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

// opPercentRe finds percent words that name the arithmetic, not the
// measure: "by what percentage did revenue grow", "percent change".
var opPercentRe = regexp.MustCompile(`(?i)\b(?:by )?(?:what|how much)(?: of a)? (?:percent|percentage)\b|\bpercent(?:age)? (?:change|increase|decrease|growth|decline|difference)\b|\bin percent(?:age)? terms\b`)

// wantsPercent reports whether q asks for a rate rather than an amount. A
// question asking by what percentage an amount changed wants the amounts:
// the calculator computes the percentage.
func wantsPercent(q string) bool {
	if opPercentRe.MatchString(q) && ArithmeticOp(q) == OpChange {
		return false
	}
	l := strings.ToLower(q)
	for _, k := range []string{"percent", "%", "rate", "how fast"} {
		if strings.Contains(l, k) {
			return true
		}
	}
	return false
}
