package ask

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// SourceDocuments is the plan source of a plan routed by document cards:
// one sub-question per matching document, or one restricted to them.
const SourceDocuments = "documents"

// Doc is a document of the collection as the router sees it.
type Doc struct {
	ID   string
	Name string
	Card *retrievalv1.DocumentCard
	DocPeriod
}

// NewDoc reads a document's period from its card and name.
func NewDoc(id, name string, card *retrievalv1.DocumentCard) Doc {
	return Doc{ID: id, Name: name, Card: card, DocPeriod: PeriodOf(name, card)}
}

var (
	// seriesRe finds a question about several periods: "over time", "over
	// the last four quarters", "each quarter", "quarter over quarter".
	seriesRe = regexp.MustCompile(`(?i)\b(over time|over the (?:\w+\s+){0,2}(?:quarters|years|periods|months|filings|reports)|(?:previous|prior|past|last|recent) (?:\w+\s+)?(?:quarters|years|periods|filings|reports)|(?:each|every|per|by) (?:quarter|year|period|filing|report)|quarter[- ](?:over|on|to)[- ]quarter|across (?:the |all |these )?(?:\w+\s+)?(?:quarters|periods|years|filings|reports|documents)|reported (?:quarters|periods)|trend(?:s|ed)?|evolv(?:e|ed|ing)|sequential(?:ly)?)\b`)
	// explainRe finds a question that asks why, not only how much.
	explainRe = regexp.MustCompile(`(?i)\b(why|factors?|drivers?|driven|reasons?|explain\w*|caus(e|es|ed)|contribut\w*)\b`)
	corpWords = terms(`inc incorporated corp corporation company co ltd limited plc llc group holdings the`)
	docWords  = terms(`earnings call transcript edited conference presentation form filing report quarterly annual
statement statements financial results bamsec pdf q10 10q 10k 8k`)
)

// identity is the terms that name a document's issuer: its card's issuer
// without "Inc." and the like, else its name and title without period
// and document-kind words.
func (d Doc) identity() map[string]bool {
	src := d.Card.GetIssuer()
	if strings.TrimSpace(src) == "" {
		src = d.Name + " " + d.Card.GetTitle()
	}
	out := map[string]bool{}
	for w := range terms(src) {
		if corpWords[w] || docWords[w] || periodWord(w) || strings.Trim(w, "0123456789") == "" {
			continue
		}
		out[w] = true
		if head, _, ok := strings.Cut(w, "."); ok && len(head) >= 3 {
			out[head] = true // "Amazon.com" is named "Amazon"
		}
	}
	return out
}

func (d Doc) issuerKey() string {
	if i := strings.TrimSpace(d.Card.GetIssuer()); i != "" {
		return strings.ToLower(i)
	}
	ws := make([]string, 0)
	for w := range d.identity() {
		ws = append(ws, w)
	}
	sort.Strings(ws)
	return strings.Join(ws, " ")
}

// Route is the router's decision for a question.
type Route struct {
	Docs   []Doc // in period order
	Fan    bool  // one sub-question per document; else one over Docs
	Reason string
}

// Choose decides from the documents' cards whether q spans documents:
//   - a series question ("over time", "each quarter") fans out over the
//     documents of the issuers it names (all documents when it names none),
//     narrowed to the periods it names when two or more match;
//   - a question naming two or more periods ("compare Q1 and Q2") fans out
//     over the documents of those periods;
//   - a question naming an issuer several documents match, and no period,
//     fans out over them;
//   - a question asking for the latest report goes to the latest document;
//   - a question naming one quarter (or a period-end date) goes to the
//     documents of that period, when that narrows the issuers' documents.
//
// A fan-out keeps the max most recent documents. ok is false when q is
// about no particular documents.
func Choose(q string, docs []Doc, max int) (Route, bool) {
	if len(docs) < 2 {
		return Route{}, false
	}
	qt := terms(q)
	var named []Doc
	for _, d := range docs {
		for w := range d.identity() {
			if qt[w] {
				named = append(named, d)
				break
			}
		}
	}
	pool := named
	if len(pool) == 0 {
		pool = mainIssuer(docs)
	}
	ps := Periods(dateRe.ReplaceAllString(q, " ")) // a date's year is no period of its own
	dates := datesIn(q)
	var byPeriod []Doc
	for _, d := range pool {
		if d.inPeriods(ps, dates) {
			byPeriod = append(byPeriod, d)
		}
	}
	quarterNamed := len(dates) > 0
	for _, p := range ps {
		quarterNamed = quarterNamed || p.Quarter > 0
	}
	who := "all documents"
	if len(named) > 0 {
		who = fmt.Sprintf("%d documents of the issuer named", len(named))
	}
	fan := func(ds []Doc, why string) (Route, bool) {
		ds = sortByPeriod(ds)
		if len(ds) > max {
			ds = ds[len(ds)-max:]
		}
		return Route{Docs: ds, Fan: true, Reason: why}, true
	}
	switch {
	case seriesRe.MatchString(q):
		if len(ps)+len(dates) > 0 && len(byPeriod) >= 2 {
			return fan(byPeriod, "series question over the periods named, "+who)
		}
		if len(ps)+len(dates) == 0 && len(pool) >= 2 {
			return fan(pool, "series question, "+who)
		}
	case len(ps)+len(dates) >= 2 && len(byPeriod) >= 2:
		return fan(byPeriod, "question names several periods, "+who)
	case len(named) >= 2 && len(ps)+len(dates) == 0 && !latestRe.MatchString(q):
		return fan(named, "issuer named without a period, "+who)
	case latestRe.MatchString(q) && len(ps)+len(dates) == 0:
		ds := sortByPeriod(pool)
		last := ds[len(ds)-1]
		if last.Period.IsZero() && last.End.IsZero() {
			return Route{}, false
		}
		return Route{Docs: []Doc{last}, Reason: "latest document of " + who}, true
	case quarterNamed && len(byPeriod) >= 1 && len(byPeriod) < len(pool):
		return Route{Docs: sortByPeriod(byPeriod), Reason: "question names one period, " + who}, true
	}
	return Route{}, false
}

// mainIssuer is, for a question naming no issuer, the documents of the
// issuer most of them are from when it has a strict majority of two or
// more (nine calls of one company and one of another: the question is
// about the first); else all of them.
func mainIssuer(docs []Doc) []Doc {
	n := map[string]int{}
	for _, d := range docs {
		n[d.issuerKey()]++
	}
	best, bn, second := "", 0, 0
	for k, c := range n {
		switch {
		case c > bn:
			best, bn, second = k, c, bn
		case c > second:
			second = c
		}
	}
	if best == "" || bn < 2 || bn == second || len(n) < 2 {
		return docs
	}
	var out []Doc
	for _, d := range docs {
		if d.issuerKey() == best {
			out = append(out, d)
		}
	}
	return out
}

// IDs are the route's document ids.
func (r Route) IDs() []string {
	out := make([]string, 0, len(r.Docs))
	for _, d := range r.Docs {
		out = append(out, d.ID)
	}
	return out
}

// inPeriods reports whether d is of one of the periods or period-end dates.
func (d Doc) inPeriods(ps []Period, dates []time.Time) bool {
	for _, p := range ps {
		if d.Period.Matches(p) {
			return true
		}
	}
	for _, t := range dates {
		if sameDay(t, d.End) {
			return true
		}
	}
	return false
}

func sortByPeriod(ds []Doc) []Doc {
	out := append([]Doc(nil), ds...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Before(out[j].DocPeriod) })
	return out
}

var (
	leadRe  = regexp.MustCompile(`(?i)^\s*(?:how (?:has|have|did|does|do|is|are|was|were)|compare|what (?:is|was|are|were|has been) the (?:change|difference|trend|growth|evolution) (?:in|of|between)|what (?:has|have) been|(?:has|have) there been (?:any )?(?:significant |notable |major )?(?:changes?|trends?) in|are there (?:any )?(?:significant |notable |major )?(?:changes?|trends?) in|can (?:any )?trends? be (?:identified|seen|observed) in|by (?:what|how much)(?: of a)? (?:percent|percentage)? ?(?:did|has|have|does|do|was|were|is|are)|list|summari[sz]e)\s+`)
	trailRe = regexp.MustCompile(`(?i)(?:\s+(?:changed|change|evolved|trended|grown|grow|grew|increased|increase|decreased|decrease|declined|decline|developed|moved|performed|varied|fluctuated|shifted|compared|compare|and|in|for|of|the|during|between|from|to|vs\.?|versus|with|over|across|since|,))+\s*$`)
	// scopeRe finds words that say where to look, not what: "reported by
	// Apple", "in these 10-Qs".
	scopeRe = regexp.MustCompile(`(?i)\b(?:as )?reported by \S+|\b(?:in|across|over) (?:these|the|all) (?:quarters|periods|years|10-qs|10-ks|filings|reports|documents)\b|\bas reported\b`)
	whRe    = regexp.MustCompile(`(?i)^(what|which|who|how|why|when|where|did|does|do|is|are|was|were|has|have)\b`)
)

// FanQuestion is the sub-question for one document of a fan-out: the
// question's topic without its series and period words, asked of the
// document's period ("What was Apple's total net sales in Q3 2022
// (period ended June 25, 2022)?").
func FanQuestion(q string, d Doc) string {
	t := q
	if i := strings.Index(t, "? "); i > 0 {
		t = t[:i] // "... over the reported quarters? If so, what drives it?"
	}
	if loc := clauseAndRe.FindStringIndex(t); loc != nil {
		t = t[:loc[0]] // "... and how does it compare across the periods?"
	}
	t = leadRe.ReplaceAllString(strings.TrimSpace(t), "")
	t = scopeRe.ReplaceAllString(t, " ")
	t = seriesRe.ReplaceAllString(t, " ")
	t = periodTokRe.ReplaceAllString(t, " ")
	t = dateRe.ReplaceAllString(t, " ")
	t = latestRe.ReplaceAllString(t, " ")
	t = strings.Join(strings.Fields(strings.TrimRight(t, "?. ")), " ")
	t = leadRe.ReplaceAllString(t, "")
	for prev := ""; prev != t; {
		prev = t
		t = strings.TrimSpace(trailRe.ReplaceAllString(t, ""))
		t = strings.TrimRight(t, "?.,; ")
	}
	if len(strings.Fields(t)) == 0 {
		t = strings.TrimRight(q, "?. ")
	}
	if !whRe.MatchString(t) {
		t = "What was " + t
	}
	return fmt.Sprintf("%s in %s?", t, d.Label)
}

// FanPlan is the plan of a route: one sub-question per document (Fan) or
// the question itself; scope gives each sub-question's document ids.
func FanPlan(q string, r Route) (*agentsv1.Plan, map[string][]string) {
	plan := &agentsv1.Plan{Source: SourceDocuments}
	scope := map[string][]string{}
	if !r.Fan {
		plan.SubQuestions = []*agentsv1.SubQuestion{{Id: "q1", Question: q}}
		scope["q1"] = r.IDs()
		return plan, scope
	}
	for i, d := range r.Docs {
		id := fmt.Sprintf("q%d", i+1)
		plan.SubQuestions = append(plan.SubQuestions, &agentsv1.SubQuestion{Id: id, Question: FanQuestion(q, d)})
		scope[id] = []string{d.ID}
	}
	return plan, scope
}

// datesIn returns the dates q names ("the quarter ended June 25, 2022").
func datesIn(q string) []time.Time {
	var out []time.Time
	for _, m := range dateRe.FindAllString(q, -1) {
		if t, ok := parseDate(m, yearUnknown); ok {
			out = append(out, t)
		}
	}
	return out
}

// catalog lists the documents the router chooses from: the collection's
// documents with their cards (Documents), or, when there is no lister or it
// fails, the documents of a first search spread one passage per document.
func (e *Engine) catalog(ctx context.Context, req *agentsv1.AskRequest, q string) ([]Doc, string, error) {
	allowed := map[string]bool{}
	for _, id := range req.GetDocumentIds() {
		allowed[id] = true
	}
	keep := func(id string) bool { return len(allowed) == 0 || allowed[id] }
	var docs []Doc
	if e.Documents != nil {
		lctx, cancel := context.WithTimeout(ctx, e.SearchTimeout)
		ds, err := e.Documents.ListDocuments(lctx, req.GetCollection())
		cancel()
		if err == nil {
			for _, d := range ds {
				if d.GetState() == retrievalv1.DocumentState_DOCUMENT_STATE_READY && keep(d.GetId()) {
					docs = append(docs, NewDoc(d.GetId(), d.GetName(), d.GetCard()))
				}
			}
			return docs, "listed", nil
		}
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
	}
	sctx, cancel := context.WithTimeout(ctx, e.SearchTimeout)
	defer cancel()
	ps, err := e.Search.Search(sctx, SearchRequest{Collection: req.GetCollection(), Query: q, TopK: 4 * e.MaxFanOut,
		DocumentIDs: req.GetDocumentIds(), MaxPerDocument: 1})
	if err != nil {
		return nil, "", err
	}
	seen := map[string]bool{}
	for _, p := range ps {
		if id := p.GetDocumentId(); id != "" && !seen[id] && keep(id) {
			seen[id] = true
			docs = append(docs, NewDoc(id, p.GetDocumentName(), p.GetDocumentCard()))
		}
	}
	return docs, "from search results", nil
}
