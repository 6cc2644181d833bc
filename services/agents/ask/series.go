package ask

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

// Point is one document's figure in a series answer.
type Point struct {
	Doc   Doc
	Fig   Figure
	Found bool
	// Others are figures other documents give for the same row and
	// period that differ from Fig (a restated figure).
	Others []Figure
}

// Series is the deterministic answer to a question over several periods:
// each document's own figure in period order, the calculator's steps
// between them, and the conflicts found.
type Series struct {
	Topic   string
	Measure map[string]bool // the measure's terms
	Points  []Point
	Steps   []Computation
}

// measurePhrase is the topic's words that name the measure, as written
// ("Services revenue" of "Apple's Services segment revenue").
func (s Series) measurePhrase() string {
	var out []string
	for _, w := range strings.Fields(s.Topic) {
		for t := range labelTerms(w) {
			if s.Measure[t] {
				out = append(out, strings.Trim(w, "?,.;:()\"'"))
				break
			}
		}
	}
	return strings.Join(out, " ")
}

// BuildSeries reads, for each document of a fan-out (docs in period order,
// evs[i] the evidence researched in docs[i]), the figure the question asks
// for: the row whose label best names the measure, in the column of the
// document's own period. When q asks for a change (or a ratio of two
// periods) the calculator computes it between consecutive periods of one
// issuer, and first to last when there are more than two.
func BuildSeries(q string, docs []Doc, evs [][]*agentsv1.Evidence) Series {
	drop := map[string]bool{}
	for _, d := range docs {
		for w := range d.identity() {
			drop[w] = true
		}
	}
	s := Series{Topic: topic(q)}
	measure := measureTerms(s.Topic, drop)
	s.Measure = measure
	wantPct := wantsPercent(q)
	var all []Figure
	byDoc := map[string]Doc{}
	for i, d := range docs {
		byDoc[d.ID] = d
		figs := Figures(measure, wantPct, evs[i])
		all = append(all, figs...)
		f, ok := pickFor(figs, d)
		s.Points = append(s.Points, Point{Doc: d, Fig: f, Found: ok})
	}
	// One row label across the series: re-pick the odd ones out.
	votes := map[string]int{}
	for _, p := range s.Points {
		if p.Found && p.Fig.Label != "" {
			votes[rowKey(p.Fig.Label)]++
		}
	}
	best, n := "", 0
	for l, v := range votes {
		if v > n || (v == n && l < best) {
			best, n = l, v
		}
	}
	for i, p := range s.Points {
		if !p.Found || best == "" || rowKey(p.Fig.Label) == best {
			continue
		}
		var same []Figure
		for _, f := range Figures(measure, wantPct, evs[i]) {
			if rowKey(f.Label) == best {
				same = append(same, f)
			}
		}
		if f, ok := pickFor(same, p.Doc); ok {
			s.Points[i].Fig = f
		}
	}
	// A row whose figures some filings print with "$" and others without
	// (the statement's first row only carries it) is in that currency.
	cur := ""
	for _, p := range s.Points {
		if p.Found && p.Fig.Value.Currency != "" && !p.Fig.Value.Percent {
			cur = p.Fig.Value.Currency
		}
	}
	for i, p := range s.Points {
		if p.Found && p.Fig.Value.Currency == "" && !p.Fig.Value.Percent {
			s.Points[i].Fig.Value.Currency = cur
		}
	}
	for _, c := range FindConflicts(all, byDoc) {
		for i, p := range s.Points {
			if p.Found && sameRow(c.Figs[0], p.Fig) && sameDay(c.End, p.Doc.End) {
				for _, f := range c.Figs {
					if !sameValue(f.Value, p.Fig.Value) {
						s.Points[i].Others = append(s.Points[i].Others, f)
					}
				}
			}
		}
	}
	op := ArithmeticOp(q)
	if op == OpRatio && len(s.found()) != 2 {
		op = OpChange
	}
	if op == OpNone {
		return s
	}
	groups := map[string][]Point{}
	var order []string
	for _, p := range s.found() {
		k := p.Doc.issuerKey()
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], p)
	}
	for _, k := range order {
		ps := groups[k]
		for i := 1; i < len(ps); i++ {
			if c, err := Compute(op, ps[i-1].operand(), ps[i].operand()); err == nil {
				s.Steps = append(s.Steps, c)
			}
		}
		if len(ps) > 2 && op == OpChange {
			if c, err := Compute(op, ps[0].operand(), ps[len(ps)-1].operand()); err == nil {
				s.Steps = append(s.Steps, c)
			}
		}
	}
	return s
}

func (s Series) found() []Point {
	var out []Point
	for _, p := range s.Points {
		if p.Found {
			out = append(out, p)
		}
	}
	return out
}

func (p Point) operand() Operand {
	name := p.Doc.Period.String()
	if fp := strings.TrimSpace(p.Doc.Card.GetFiscalPeriod()); fp != "" {
		name = fp
	}
	if name == "" {
		name = p.Doc.Label
	}
	return Operand{Name: name, Value: p.Fig.Value, Cite: p.Fig.Cite()}
}

// pickFor chooses the figure of document d: a table row's beats prose's;
// a cell whose header names d's period end (the quarter's column) beats
// one without a date, which beats another period's column; in a row
// without headers the first figure is the document's own period.
func pickFor(figs []Figure, d Doc) (Figure, bool) {
	mine := func(f Figure) bool {
		id := f.Ev.GetPassage().GetDocumentId()
		return d.ID == "" || id == "" || id == d.ID
	}
	rows := false // a table row beats a number in prose
	for _, f := range figs {
		rows = rows || (mine(f) && f.Label != "")
	}
	best, bs := Figure{}, math.Inf(-1)
	for _, f := range figs {
		if !mine(f) || (rows && f.Label == "") {
			continue
		}
		s := f.Score
		switch {
		case !f.End.IsZero() && sameDay(f.End, d.End):
			s += 0.3
		case !f.End.IsZero():
			s -= 0.3
		case f.Label != "" && f.Col > 0:
			s -= 0.3
		}
		switch f.Span {
		case "", "three months":
		default:
			s -= 0.1
		}
		if s > bs {
			best, bs = f, s
		}
	}
	return best, !math.IsInf(bs, -1)
}

// Conflict is a row and period for which documents give different figures.
type Conflict struct {
	Label string
	End   time.Time
	Figs  []Figure // distinct values, one per document at least two
}

// FindConflicts groups the table figures of several documents by row label
// and period (a cell's header date, or for a row without headers the first
// figure and its document's period end) and reports the groups whose
// documents disagree. Figures of one document are not compared with each
// other: one filing shows one row label in several tables (net sales and
// cost of sales both have "Services").
func FindConflicts(figs []Figure, docs map[string]Doc) []Conflict {
	type key struct {
		label string
		end   string
	}
	groups := map[key][]Figure{}
	var order []key
	for _, f := range figs {
		if f.Label == "" {
			continue
		}
		end := figureEnd(f, docs)
		if end.IsZero() || end.Year() == yearUnknown {
			continue
		}
		k := key{rowKey(f.Label), end.Format(time.DateOnly)}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], f)
	}
	var out []Conflict
	for _, k := range order {
		g := groups[k]
		var distinct []Figure
		for _, f := range g {
			clash := false
			for _, o := range g {
				if o.Ev.GetPassage().GetDocumentId() != f.Ev.GetPassage().GetDocumentId() && sameRow(f, o) &&
					spansAgree(f.Span, o.Span) && !sameValue(f.Value, o.Value) {
					clash = true
				}
			}
			if !clash {
				continue
			}
			dup := false
			for _, d := range distinct {
				dup = dup || (sameValue(d.Value, f.Value) && d.Ev.GetPassage().GetDocumentId() == f.Ev.GetPassage().GetDocumentId())
			}
			if !dup {
				distinct = append(distinct, f)
			}
		}
		if len(distinct) >= 2 {
			end, _ := time.Parse(time.DateOnly, k.end)
			out = append(out, Conflict{Label: distinct[0].Label, End: end, Figs: distinct})
		}
	}
	return out
}

// figureEnd is the period end a figure is for.
func figureEnd(f Figure, docs map[string]Doc) time.Time {
	p := f.Ev.GetPassage()
	d, ok := docs[p.GetDocumentId()]
	if !ok {
		d = NewDoc(p.GetDocumentId(), p.GetDocumentName(), p.GetDocumentCard())
	}
	switch {
	case !f.End.IsZero() && f.End.Year() == yearUnknown && !d.End.IsZero():
		// "April 1," under a document whose period ends April 1, 2023.
		if f.End.Month() == d.End.Month() && f.End.Day() == d.End.Day() {
			return d.End
		}
		return time.Time{}
	case !f.End.IsZero():
		return f.End
	case f.Col == 0:
		return d.End
	}
	return time.Time{}
}

// rowKey is a row label without case and footnote marks.
func rowKey(label string) string {
	return strings.ToLower(strings.Join(strings.Fields(footnoteRe.ReplaceAllString(label, " ")), " "))
}

func sameRow(a, b Figure) bool {
	return rowKey(a.Label) == rowKey(b.Label) && (a.Path == "" || b.Path == "" || a.Path == b.Path)
}

func spansAgree(a, b string) bool { return a == "" || b == "" || a == b }

func sameValue(a, b Quantity) bool {
	x, y := a.Abs(), b.Abs()
	return math.Abs(x-y) <= 1e-9*math.Max(math.Abs(x), math.Abs(y))
}

var questionWordRe = regexp.MustCompile(`(?i)^what was\s+`)

// topic is what a series question asks about ("Apple's total net sales").
func topic(q string) string {
	t := FanQuestion(q, Doc{DocPeriod: DocPeriod{Label: "\x00"}})
	t = strings.TrimSuffix(t, " in \x00?")
	return questionWordRe.ReplaceAllString(t, "")
}

// line is one rendered line of a series with the figures it cites.
type line struct {
	Text string
	Figs []Figure
}

// render writes the series: a heading, one line per period, the
// calculator's steps.
func (s Series) render() []line {
	var out []line
	if h := s.heading(); h != "" {
		out = append(out, line{Text: h})
	}
	byCite := map[string]Figure{}
	for _, p := range s.Points {
		if !p.Found {
			out = append(out, line{Text: fmt.Sprintf("%s: not found in %s.", p.Doc.Label, p.Doc.Name)})
			continue
		}
		byCite[p.Fig.Cite()] = p.Fig
		what := ""
		if l := strings.TrimSpace(footnoteRe.ReplaceAllString(p.Fig.Label, "")); l != "" {
			what = l + " "
		}
		l := line{Text: fmt.Sprintf("%s: %s%s %s", p.Doc.Label, what, p.Fig.Value.Long(), p.Fig.Cite()), Figs: []Figure{p.Fig}}
		if len(p.Others) > 0 {
			var alt []string
			for _, o := range p.Others {
				alt = append(alt, o.Value.Long()+" "+o.Cite())
				l.Figs = append(l.Figs, o)
			}
			l.Text += fmt.Sprintf(", but another filing reports %s for the same period (restated?)", strings.Join(alt, " and "))
		}
		l.Text += "."
		out = append(out, l)
	}
	for _, c := range s.Steps {
		l := line{Text: c.Sentence()}
		for _, o := range []Operand{c.A, c.B} {
			if f, ok := byCite[o.Cite]; ok {
				l.Figs = append(l.Figs, f)
			}
		}
		out = append(out, l)
	}
	return out
}

// heading names what the series lists: the row label all its figures
// share with their issuers ("Total net sales (Apple Inc.), by period:"),
// else the question's topic.
func (s Series) heading() string {
	label := ""
	var issuers []string
	seen := map[string]bool{}
	for _, p := range s.found() {
		if label == "" {
			label = p.Fig.Label
		}
		if rowKey(label) != rowKey(p.Fig.Label) {
			label = "\x00"
		}
		if i := strings.TrimSpace(p.Doc.Card.GetIssuer()); i != "" && !seen[i] {
			seen[i] = true
			issuers = append(issuers, i)
		}
	}
	switch {
	case label != "" && label != "\x00" && len(issuers) > 0:
		return fmt.Sprintf("%s (%s), by period:", strings.TrimSpace(footnoteRe.ReplaceAllString(label, "")), strings.Join(issuers, ", "))
	case label != "" && label != "\x00":
		return strings.TrimSpace(footnoteRe.ReplaceAllString(label, "")) + ", by period:"
	case s.Topic != "":
		return upperFirst(s.Topic) + ", by period:"
	}
	return ""
}

// Lines renders the series as answer lines, each figure cited.
func (s Series) Lines() []string {
	var out []string
	for _, l := range s.render() {
		out = append(out, l.Text)
	}
	return out
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// Sentence says that the cited passages disagree on a row's figure for
// one period, citing each.
func (c Conflict) Sentence() string {
	var parts []string
	for _, f := range c.Figs {
		parts = append(parts, f.Value.Long()+" "+f.Cite())
	}
	return fmt.Sprintf("The sources differ on %s for the period ended %s: %s; a later filing may have restated it.",
		c.Label, c.End.Format("January 2, 2006"), strings.Join(parts, " vs "))
}

// factClaims turns rendered lines into verified claims and citations: each
// figure and operand was read from the passage it cites, so the line is
// supported by construction (computed results are the calculator's).
func factClaims(lines []line) ([]*agentsv1.ClaimCheck, []*agentsv1.Citation) {
	var checks []*agentsv1.ClaimCheck
	var cites []*agentsv1.Citation
	seen := map[string]bool{}
	for _, l := range lines {
		if len(l.Figs) == 0 {
			continue
		}
		ch := &agentsv1.ClaimCheck{Claim: l.Text, Verdict: agentsv1.Verdict_VERDICT_SUPPORTED}
		for _, f := range l.Figs {
			p := f.Ev.GetPassage()
			c := &agentsv1.Citation{Document: p.GetDocumentName(), Page: p.GetPage(), DocumentId: p.GetDocumentId(), Quote: truncate(f.Unit, 400)}
			ch.Citations = append(ch.Citations, c)
			if k := fmt.Sprintf("%s\x00%d", c.Document, c.Page); !seen[k] {
				seen[k] = true
				cites = append(cites, c)
			}
		}
		checks = append(checks, ch)
	}
	return checks, cites
}
