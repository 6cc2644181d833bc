package ask

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

// route asks the documents' cards whether q spans documents or names one
// period, and says what it decided in the scratchpad.
func (e *Engine) route(ctx context.Context, req *agentsv1.AskRequest, q string, note func(...string)) (Route, bool) {
	docs, how, err := e.catalog(ctx, req, q)
	if err != nil {
		note("router: no document list, planning without it: " + err.Error())
		return Route{}, false
	}
	r, ok := Choose(q, docs, e.MaxFanOut)
	if !ok {
		note(fmt.Sprintf("router: %d documents (%s); the question is about no particular ones", len(docs), how))
		return Route{}, false
	}
	var names []string
	for _, d := range r.Docs {
		names = append(names, d.Name+": "+d.Label)
	}
	mode := "restricted to"
	if r.Fan {
		mode = "one sub-question each for"
	}
	note(fmt.Sprintf("router: %s; %s %d of %d documents (%s): %s", r.Reason, mode, len(r.Docs), len(docs), how, strings.Join(names, "; ")))
	return r, true
}

var yoyRe = regexp.MustCompile(`(?i)\b(year[- ]over[- ]year|year[- ]on[- ]year|yoy|y/y|(same|corresponding) (quarter|period)( of| in)? (last|the prior|the previous|prior|previous) year|prior[- ]year|previous year|last year|a year (ago|earlier))\b`)

// facts are the answer's lines that need no model: the figures of a
// fan-out by period with the calculator's steps between them, or, for
// other questions, the calculator's step between two sub-questions'
// figures (or a row's current and prior-year columns) and the figures the
// evidence disagrees on. modelNeeded is false when the facts answer the
// question alone (a question about figures over several periods).
func (e *Engine) facts(ctx context.Context, req *agentsv1.AskRequest, q string, plan *agentsv1.Plan, route Route,
	subs map[string]*agentsv1.SubAnswer, note func(...string)) (out []line, modelNeeded bool) {
	if route.Fan {
		evs := make([][]*agentsv1.Evidence, len(route.Docs))
		for i, sq := range plan.GetSubQuestions() {
			if i < len(evs) {
				evs[i] = subs[sq.Id].GetEvidence()
			}
		}
		s := BuildSeries(q, route.Docs, evs)
		if e.secondLook(ctx, req, plan, s, subs, evs, note) {
			s = BuildSeries(q, route.Docs, evs)
		}
		found := s.found()
		note(fmt.Sprintf("series: figures for %d of %d documents", len(found), len(route.Docs)))
		for _, p := range found {
			note(fmt.Sprintf("series: %s: %s = %s %s, read from %q", p.Doc.Label, p.Fig.Label, p.Fig.Value, p.Fig.Cite(), truncate(p.Fig.Unit, 200)))
			for _, o := range p.Others {
				note(fmt.Sprintf("conflict: %s %s differs from %s %s for the same row and period", o.Value, o.Cite(), p.Fig.Value, p.Fig.Cite()))
			}
		}
		for _, c := range s.Steps {
			noteStep(note, c)
		}
		if len(found) < 2 {
			return nil, true
		}
		return s.render(), explainRe.MatchString(q)
	}
	var evs []*agentsv1.Evidence
	for _, sq := range plan.GetSubQuestions() {
		evs = append(evs, subs[sq.Id].GetEvidence()...)
	}
	op := ArithmeticOp(q)
	switch {
	case op != OpNone && len(plan.GetSubQuestions()) >= 2:
		if l, ok := subQuestionStep(q, op, plan, subs, note); ok {
			out = append(out, l)
		}
	case op == OpChange && yoyRe.MatchString(q):
		if l, ok := rowStep(q, evs, note); ok {
			out = append(out, l)
		}
	}
	figs := Figures(measureTerms(q, nil), wantsPercent(q), evs)
	var rows []Figure
	for _, f := range figs {
		if f.Label != "" && (len(rows) == 0 || sameRow(rows[0], f)) {
			rows = append(rows, f)
		}
	}
	for _, c := range FindConflicts(rows, nil) {
		note("conflict: " + c.Sentence())
		out = append(out, line{Text: c.Sentence(), Figs: c.Figs})
	}
	return out, true
}

// secondLook searches again, in each document of a series whose figure
// was not found, for the row the other documents' figures came from (or,
// when none had one, the measure's words without the question's others,
// such as "segment"), in the column of the document's period end ("Total
// net sales three months ended September 30, 2023"); the evidence found
// joins the document's sub-answer (evs[i] too). It reports whether it
// found any.
func (e *Engine) secondLook(ctx context.Context, req *agentsv1.AskRequest, plan *agentsv1.Plan, s Series,
	subs map[string]*agentsv1.SubAnswer, evs [][]*agentsv1.Evidence, note func(...string)) bool {
	row, span := "", ""
	for _, p := range s.found() {
		if p.Fig.Label != "" {
			row, span = strings.TrimSpace(footnoteRe.ReplaceAllString(p.Fig.Label, "")), p.Fig.Span
			break
		}
	}
	if row == "" && len(s.found()) == 0 {
		row = s.measurePhrase() // no filing had it: ask for the measure's own words
	}
	if row == "" {
		return false
	}
	more := false
	for i, p := range s.Points {
		if p.Found || i >= len(plan.GetSubQuestions()) || ctx.Err() != nil {
			continue
		}
		sq := plan.GetSubQuestions()[i]
		sa := subs[sq.Id]
		if sa.GetStatus() != agentsv1.SubQuestionStatus_SUB_QUESTION_STATUS_DONE {
			continue
		}
		query := row
		if !p.Doc.End.IsZero() {
			query = strings.Join(strings.Fields(fmt.Sprintf("%s %s ended %s", row, span, p.Doc.End.Format("January 2, 2006"))), " ")
		}
		r := Researcher{Search: e.Search, Collection: req.GetCollection(), DocumentIDs: []string{p.Doc.ID}, TopK: e.TopK, Timeout: e.SearchTimeout}
		ans, _, err := r.Research(ctx, &agentsv1.SubQuestion{Id: sq.Id, Question: query}, nil)
		if err != nil {
			note(fmt.Sprintf("series: second search in %s for %q failed: %v", p.Doc.Name, query, err))
			continue
		}
		have := map[string]bool{}
		for _, ev := range sa.GetEvidence() {
			have[ev.GetPassage().GetChunkId()] = true
		}
		n := 0
		for _, ev := range ans.GetEvidence() {
			if id := ev.GetPassage().GetChunkId(); id == "" || !have[id] {
				sa.Evidence = append(sa.Evidence, ev)
				n++
			}
		}
		evs[i] = sa.GetEvidence()
		note(fmt.Sprintf("series: no figure in %s; searched it again for %q: %d more passages", p.Doc.Name, query, n))
		more = more || n > 0
	}
	return more
}

func noteStep(note func(...string), c Computation) {
	note(fmt.Sprintf("calculator: %s (operands %s %s, %s %s)", c.Expr(), c.A.Name, c.A.Cite, c.B.Name, c.B.Cite))
}

// subQuestionStep computes between the best figures of the first two
// answered sub-questions ("compare X in 2022 with 2023").
func subQuestionStep(q string, op Op, plan *agentsv1.Plan, subs map[string]*agentsv1.SubAnswer, note func(...string)) (line, bool) {
	var ops []Operand
	var figs []Figure
	for _, sq := range plan.GetSubQuestions() {
		sa := subs[sq.Id]
		if sa.GetStatus() != agentsv1.SubQuestionStatus_SUB_QUESTION_STATUS_DONE {
			continue
		}
		fs := Figures(measureTerms(sq.GetQuestion(), nil), wantsPercent(q), sa.GetEvidence())
		if len(fs) == 0 {
			continue
		}
		p := fs[0].Ev.GetPassage()
		f, _ := pickFor(fs, NewDoc(p.GetDocumentId(), p.GetDocumentName(), p.GetDocumentCard()))
		name := truncate(strings.TrimSuffix(sq.GetQuestion(), "?"), 80)
		if ps := Periods(sq.GetQuestion()); len(ps) == 1 {
			name = ps[0].String()
		}
		ops = append(ops, Operand{Name: name, Value: f.Value, Cite: f.Cite()})
		figs = append(figs, f)
		if len(ops) == 2 {
			break
		}
	}
	if len(ops) < 2 {
		return line{}, false
	}
	c, err := Compute(op, ops[0], ops[1])
	if err != nil {
		note("calculator: not computed: " + err.Error())
		return line{}, false
	}
	noteStep(note, c)
	return line{Text: c.Sentence(), Figs: figs}, true
}

// rowStep computes a year-over-year change from the best row of the
// evidence: the figure of the row's latest period and the one of the
// period before it with the same span (by the cells' header dates; in a
// row without dates the first figure is the current period, as SEC
// statements print it).
func rowStep(q string, evs []*agentsv1.Evidence, note func(...string)) (line, bool) {
	for _, f := range Figures(measureTerms(q, nil), wantsPercent(q), evs) {
		if f.Label == "" {
			continue
		}
		scale, cur := passageUnits(f.Ev.GetPassage().GetText())
		r, ok := ParseRow(f.Unit, scale, cur)
		if !ok {
			continue
		}
		now, prior, ok := yearPair(r.Cells, f.Value.Percent)
		if !ok {
			continue
		}
		a := Operand{Name: cellName(prior, "the prior-year period"), Value: prior.Value, Cite: f.Cite()}
		b := Operand{Name: cellName(now, "the current period"), Value: now.Value, Cite: f.Cite()}
		c, err := Compute(OpChange, a, b)
		if err != nil {
			note("calculator: not computed: " + err.Error())
			return line{}, false
		}
		noteStep(note, c)
		return line{Text: strings.TrimSpace(footnoteRe.ReplaceAllString(f.Label, "")) + ": " + c.Sentence(), Figs: []Figure{f}}, true
	}
	return line{}, false
}

// yearPair picks a row's current figure and the prior period's of the
// same span.
func yearPair(cells []Cell, pct bool) (now, prior Cell, ok bool) {
	var cs []Cell
	for _, c := range cells {
		if c.Value.Percent == pct && !strings.HasPrefix(strings.ToLower(c.Header), "change") {
			cs = append(cs, c)
		}
	}
	if len(cs) < 2 {
		return Cell{}, Cell{}, false
	}
	dated := true
	for _, c := range cs {
		dated = dated && !c.End.IsZero() && c.End.Year() != yearUnknown
	}
	if !dated {
		for _, c := range cs[1:] {
			if c.Span == cs[0].Span {
				return cs[0], c, true
			}
		}
		return Cell{}, Cell{}, false
	}
	now = cs[0]
	for _, c := range cs {
		if c.End.After(now.End) || (c.End.Equal(now.End) && c.Span == "three months") {
			now = c
		}
	}
	found := false
	for _, c := range cs {
		if c.Span == now.Span && c.End.Before(now.End) && (!found || c.End.After(prior.End)) {
			prior, found = c, true
		}
	}
	return now, prior, found
}

// cellName names a cell's period: "three months ended March 26, 2022".
func cellName(c Cell, fallback string) string {
	switch {
	case !c.End.IsZero() && c.End.Year() != yearUnknown && c.Span != "":
		return c.Span + " ended " + c.End.Format("January 2, 2006")
	case !c.End.IsZero() && c.End.Year() != yearUnknown:
		return c.End.Format("January 2, 2006")
	case strings.TrimSpace(c.Header) != "":
		return strings.TrimSpace(c.Header)
	}
	return fallback
}

// withFacts appends the fact lines to the verified answer, their claims to
// the verification (supported: read from the passages they cite) and their
// citations to the answer's.
func withFacts(answer string, cites []*agentsv1.Citation, v *agentsv1.Verification, facts []line) (string, []*agentsv1.Citation, *agentsv1.Verification) {
	if len(facts) == 0 {
		return answer, cites, v
	}
	checks, more := factClaims(facts)
	if v == nil {
		v = &agentsv1.Verification{}
	}
	score := float64(v.GetSupportScore()) * float64(len(v.GetClaims()))
	v.Claims = append(v.Claims, checks...)
	if n := len(v.GetClaims()); n > 0 {
		v.SupportScore = float32((score + float64(len(checks))) / float64(n))
	}
	seen := map[string]bool{}
	for _, c := range cites {
		seen[fmt.Sprintf("%s\x00%d", c.GetDocument(), c.GetPage())] = true
	}
	for _, c := range more {
		if k := fmt.Sprintf("%s\x00%d", c.GetDocument(), c.GetPage()); !seen[k] {
			seen[k] = true
			cites = append(cites, c)
		}
	}
	var text []string
	for _, l := range facts {
		text = append(text, l.Text)
	}
	return strings.TrimSpace(answer + "\n" + strings.Join(text, "\n")), cites, v
}
