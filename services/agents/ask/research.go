package ask

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// Researcher answers one sub-question from the collection.
type Researcher struct {
	Search      Searcher
	Collection  string
	DocumentIDs []string
	TopK        int
	Timeout     time.Duration
}

// Queries rewrites a sub-question for search: the keyword form first (what
// BM25 rewards), then the question as asked (what the embedding rewards),
// plus the key terms of answers it depends on.
func Queries(q string, depAnswers []string) []string {
	kw := keywordQuery(q)
	for _, a := range depAnswers {
		kw = strings.TrimSpace(kw + " " + keywordQuery(truncate(a, 120)))
	}
	out := []string{}
	if kw != "" && !strings.EqualFold(kw, q) {
		out = append(out, kw)
	}
	return append(out, q)
}

// Research searches with every rewrite, fuses the rankings (reciprocal rank
// fusion), keeps the best TopK passages and reads them.
func (r Researcher) Research(ctx context.Context, sq *agentsv1.SubQuestion, depAnswers []string) (*agentsv1.SubAnswer, []string, error) {
	queries := Queries(sq.Question, depAnswers)
	notes := []string{fmt.Sprintf("researcher %s: queries %q", sq.Id, queries)}
	type fused struct {
		p     *retrievalv1.Passage
		score float64
	}
	byID := map[string]*fused{}
	var firstErr error
	ok := 0
	for _, q := range queries {
		sctx, cancel := context.WithTimeout(ctx, r.Timeout)
		ps, err := r.Search.Search(sctx, SearchRequest{Collection: r.Collection, Query: q, TopK: r.TopK, DocumentIDs: r.DocumentIDs})
		cancel()
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		ok++
		for rank, p := range ps {
			key := p.GetChunkId()
			if key == "" {
				key = fmt.Sprintf("%s/%d/%s", p.GetDocumentId(), p.GetPage(), truncate(p.GetText(), 64))
			}
			f := byID[key]
			if f == nil {
				f = &fused{p: proto.Clone(p).(*retrievalv1.Passage)}
				byID[key] = f
			}
			f.score += 1 / float64(60+rank)
		}
	}
	if ok == 0 {
		if errors.Is(firstErr, ErrNotFound) {
			return nil, notes, firstErr
		}
		return nil, notes, fmt.Errorf("%w: %v", ErrRetrieval, firstErr)
	}
	list := make([]*fused, 0, len(byID))
	for _, f := range byID {
		list = append(list, f)
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].score > list[j].score })
	if len(list) > r.TopK {
		list = list[:r.TopK]
	}
	passages := make([]*retrievalv1.Passage, len(list))
	for i, f := range list {
		passages[i] = f.p
	}
	ans := &agentsv1.SubAnswer{SubQuestionId: sq.Id, Status: agentsv1.SubQuestionStatus_SUB_QUESTION_STATUS_DONE}
	ans.Evidence = Read(sq, passages)
	if best := BestExtracts(sq.Question, ans.Evidence, 1); len(best) > 0 {
		ans.Answer = best[0].Text + " " + best[0].Label
	}
	return ans, notes, nil
}

// Extract is one scored sentence of a passage.
type Extract struct {
	Text  string
	Label string
	Score float64
	Rank  int // passage rank
	Ev    *agentsv1.Evidence
}

// query is what sentence scoring needs of a question.
type query struct {
	terms   map[string]bool
	numeric bool     // asks for a figure
	periods []Period // periods it names
	future  bool     // asks about guidance, outlook or targets
}

var forwardRe = regexp.MustCompile(`(?i)\b(expect(s|ed|ing)?|guidance|outlook|forecast(s|ed)?|target(s|ed)?|project(s|ed|ion|ions)|anticipat(e|es|ed)|plan(s|ned)? to|will|would|intend(s)?)\b`)

// docPeriodRe finds a period that names a document, not the figure asked
// for: "on the Q3 2021 Snowflake earnings call", "in the 2023 Q2 10-Q".
var docPeriodRe = regexp.MustCompile(`(?i)\b(?:q[1-4]\s+(?:fiscal\s+|fy\s?)?'?\d{2,4}|(?:fy|fiscal(?: year)?)\s?'?\d{2,4}|(?:19|20)\d{2}(?:\s+q[1-4])?)(?:\s+[\w.&]+)?\s+(?:earnings\s+)?(?:call|10-q|10-k|report|filing|transcript)s?\b`)

func newQuery(q string) query {
	periods := Periods(docPeriodRe.ReplaceAllString(q, " "))
	if fullYearRe.MatchString(q) {
		// "the full year": a quarter the question names is where it was said.
		var years []Period
		for _, p := range periods {
			years = append(years, Period{Year: p.Year})
		}
		periods = years
	}
	return query{terms: terms(q), numeric: wantsNumber(q), periods: periods, future: forwardRe.MatchString(q)}
}

// offPeriod reports whether text names periods, none of them one the
// question names nor an earlier one (a comparison base: "up from $214
// million in Q1 fiscal 2022"), as a target for fiscal 2029 or guidance for
// the second quarter for a question about Q1 fiscal 2023; or names only a
// full year when the question asks about quarters. A text naming no
// period is not off-period.
func (qi query) offPeriod(text string) bool {
	if len(qi.periods) == 0 {
		return false
	}
	ps := Periods(text)
	if len(ps) == 0 {
		return false
	}
	if qi.quarterly() && fullYearRe.MatchString(text) {
		quarter := false
		for _, p := range ps {
			quarter = quarter || p.Quarter > 0
		}
		if !quarter {
			return true // "for the full year fiscal 2023" answers no question about Q1 fiscal 2023
		}
	}
	for _, p := range ps {
		for _, w := range qi.periods {
			if p.Matches(w) || p.Before(w) || !p.comparable(w) {
				return false // the period asked, the one it is compared with, or one we cannot tell apart
			}
		}
	}
	return true
}

var fullYearRe = regexp.MustCompile(`(?i)\b(full[- ]year|fiscal year|for the year|annual|twelve months|12 months)\b`)

// quarterly reports whether every period the question names is a quarter.
func (qi query) quarterly() bool {
	for _, p := range qi.periods {
		if p.Quarter == 0 {
			return false
		}
	}
	return len(qi.periods) > 0
}

// scoreUnit rates how well a sentence answers the question: term overlap,
// half credit for question terms found only in the document's title (the
// period or company a report names in its title but not in each sentence),
// a bonus for figures when the question asks for one, and a mild prior for
// the passage's rank. A sentence about another period than the one asked
// (a target for fiscal 2029 when the question names fiscal 2023) scores
// half, and a forward-looking one (guidance, targets) four fifths unless
// the question asks about the future: a weak answerer otherwise copies the
// figure-rich outlook paragraph instead of the result.
func scoreUnit(qi query, u, title string, rank int) float64 {
	ut := terms(u)
	s := overlap(qi.terms, ut)
	if len(qi.terms) > 0 && title != "" {
		tt, n := terms(title), 0
		for w := range qi.terms {
			if !ut[w] && tt[w] {
				n++
			}
		}
		s += 0.5 * float64(n) / float64(len(qi.terms))
	}
	if qi.numeric {
		switch {
		case hasMeasure(u):
			s += 0.25
		case len(numbers(u)) > 0:
			s += 0.1 // "5 of our top 10 customers": a count, rarely the figure asked
		}
	}
	if n := len(strings.Fields(u)); n < 5 || n > 80 {
		s *= 0.6
	}
	if qi.offPeriod(u) {
		s *= 0.5
	}
	if !qi.future && forwardRe.MatchString(u) {
		s *= 0.8
	}
	return s - 0.01*float64(rank)
}

// hasMeasure reports whether text writes an amount or a rate: a number
// with a currency, a percent sign or a scale word ("$394 million", "84%").
func hasMeasure(text string) bool {
	for _, q := range FindQuantities(text) {
		if q.Currency != "" || q.Percent || q.Scale > 1 {
			return true
		}
	}
	return false
}

// Read keeps, for each passage, its passage and the (up to three) sentences or
// table rows that best answer the sub-question, best first.
func Read(sq *agentsv1.SubQuestion, passages []*retrievalv1.Passage) []*agentsv1.Evidence {
	qi := newQuery(sq.Question)
	var out []*agentsv1.Evidence
	for rank, p := range passages {
		type us struct {
			u string
			s float64
		}
		var scored []us
		for _, u := range units(p.GetText()) {
			if s := scoreUnit(qi, u, docTitle(p), rank); s >= 0.25 {
				scored = append(scored, us{u, s})
			}
		}
		sort.SliceStable(scored, func(i, j int) bool { return scored[i].s > scored[j].s })
		ev := &agentsv1.Evidence{Passage: p, SubQuestionId: sq.Id}
		for i := 0; i < len(scored) && i < 3; i++ {
			ev.Extracts = append(ev.Extracts, scored[i].u)
		}
		out = append(out, ev)
	}
	return out
}

// docTitle is what names a passage's document: its file name without the
// extension and, when the retrieval service sent the document's card, its
// title, issuer and fiscal period.
func docTitle(p *retrievalv1.Passage) string {
	n := p.GetDocumentName()
	t := strings.TrimSuffix(n, path.Ext(n))
	if c := p.GetDocumentCard(); c != nil {
		t = strings.Join(strings.Fields(strings.Join([]string{t, c.GetTitle(), c.GetIssuer(), c.GetFiscalPeriod()}, " ")), " ")
	}
	return t
}

// Label is the inline citation of a passage.
func Label(p *retrievalv1.Passage) string {
	return fmt.Sprintf("[%s p.%d]", p.GetDocumentName(), p.GetPage())
}

// CiteableExtracts is BestExtracts, or, when no passage of evs has an
// extract (no sentence scored high enough to be kept), the best sentences of
// the passages' whole text: an answer that must cite something cites the
// closest sentence there is.
func CiteableExtracts(q string, evs []*agentsv1.Evidence, n int) []Extract {
	if best := BestExtracts(q, evs, n); len(best) > 0 {
		return best
	}
	whole := make([]*agentsv1.Evidence, 0, len(evs))
	for _, ev := range evs {
		whole = append(whole, &agentsv1.Evidence{Passage: ev.GetPassage(), SubQuestionId: ev.GetSubQuestionId(), Extracts: units(ev.GetPassage().GetText())})
	}
	return BestExtracts(q, whole, n)
}

// BestExtracts ranks every extract of evs against question q and returns
// the best n, distinct.
func BestExtracts(q string, evs []*agentsv1.Evidence, n int) []Extract {
	qi := newQuery(q)
	var all []Extract
	for rank, ev := range evs {
		for _, x := range ev.GetExtracts() {
			if isSteering(x) {
				continue // text addressed to a model is never an answer (steering.go)
			}
			all = append(all, Extract{Text: x, Label: Label(ev.GetPassage()), Score: scoreUnit(qi, x, docTitle(ev.GetPassage()), rank), Rank: rank, Ev: ev})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Score > all[j].Score })
	var out []Extract
	seen := map[string]bool{}
	for _, x := range all {
		k := strings.ToLower(x.Text)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, x)
		if len(out) == n {
			break
		}
	}
	return out
}

// research runs a researcher for every step of the plan, each after the
// steps it depends on, at most Concurrency at a time, sending each step as
// it starts and ends with its evidence.
func (x *question) research(ctx context.Context) {
	base := Researcher{Search: x.e.Search, Collection: x.req.GetCollection(), DocumentIDs: x.req.GetDocumentIds(), TopK: x.e.TopK, Timeout: x.e.SearchTimeout}
	var mu sync.Mutex // guards x.subs while the researchers run
	done := map[string]chan struct{}{}
	for _, sq := range x.plan.GetSubQuestions() {
		done[sq.Id] = make(chan struct{})
	}
	sem := make(chan struct{}, x.e.Concurrency)
	var wg sync.WaitGroup
	for _, sq := range x.plan.GetSubQuestions() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[sq.Id])
			var depAnswers []string
			for _, d := range sq.DependsOn {
				select {
				case <-done[d]:
				case <-ctx.Done():
					return
				}
				mu.Lock()
				if a := x.subs[d].GetAnswer(); a != "" {
					depAnswers = append(depAnswers, labelRe.ReplaceAllString(a, ""))
				}
				mu.Unlock()
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			x.run.emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_SubAnswer{SubAnswer: &agentsv1.SubAnswer{SubQuestionId: sq.Id, Status: agentsv1.SubQuestionStatus_SUB_QUESTION_STATUS_RUNNING}}})
			r := base
			if ids, ok := x.scope[sq.Id]; ok {
				r.DocumentIDs = ids // a routed sub-question searches its documents only
			}
			ans, notes, err := r.Research(ctx, sq, depAnswers)
			x.run.note(notes...)
			mu.Lock()
			if err != nil {
				ans = &agentsv1.SubAnswer{SubQuestionId: sq.Id, Status: agentsv1.SubQuestionStatus_SUB_QUESTION_STATUS_FAILED, Error: err.Error()}
				if errors.Is(err, ErrNotFound) {
					x.notFound++
				}
			}
			x.subs[sq.Id] = ans
			mu.Unlock()
			for _, ev := range ans.GetEvidence() {
				if len(ev.GetExtracts()) > 0 {
					x.run.emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_Evidence{Evidence: ev}})
				}
			}
			x.run.emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_SubAnswer{SubAnswer: ans}})
		}()
	}
	wg.Wait()
}
