package ask

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
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

// scoreUnit rates how well a sentence answers q: term overlap, half credit
// for question terms found only in the document's title (the period or
// company a report names in its title but not in each sentence), a bonus for
// figures when the question asks for one, and a mild prior for the passage's
// rank.
func scoreUnit(qTerms map[string]bool, numeric bool, u, title string, rank int) float64 {
	ut := terms(u)
	s := overlap(qTerms, ut)
	if len(qTerms) > 0 && title != "" {
		tt, n := terms(title), 0
		for w := range qTerms {
			if !ut[w] && tt[w] {
				n++
			}
		}
		s += 0.5 * float64(n) / float64(len(qTerms))
	}
	if numeric && len(numbers(u)) > 0 {
		s += 0.25
	}
	if n := len(strings.Fields(u)); n < 5 || n > 80 {
		s *= 0.6
	}
	return s - 0.01*float64(rank)
}

// Read keeps, for each passage, its passage and the (up to three) sentences or
// table rows that best answer the sub-question, best first.
func Read(sq *agentsv1.SubQuestion, passages []*retrievalv1.Passage) []*agentsv1.Evidence {
	qTerms := terms(sq.Question)
	numeric := wantsNumber(sq.Question)
	var out []*agentsv1.Evidence
	for rank, p := range passages {
		type us struct {
			u string
			s float64
		}
		var scored []us
		for _, u := range units(p.GetText()) {
			if s := scoreUnit(qTerms, numeric, u, docTitle(p), rank); s >= 0.25 {
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

// docTitle is a passage's document name without its extension.
func docTitle(p *retrievalv1.Passage) string {
	n := p.GetDocumentName()
	return strings.TrimSuffix(n, path.Ext(n))
}

// Label is the inline citation of a passage.
func Label(p *retrievalv1.Passage) string {
	return fmt.Sprintf("[%s p.%d]", p.GetDocumentName(), p.GetPage())
}

// BestExtracts ranks every extract of evs against question q and returns
// the best n, distinct.
func BestExtracts(q string, evs []*agentsv1.Evidence, n int) []Extract {
	qTerms, numeric := terms(q), wantsNumber(q)
	var all []Extract
	for rank, ev := range evs {
		for _, x := range ev.GetExtracts() {
			all = append(all, Extract{Text: x, Label: Label(ev.GetPassage()), Score: scoreUnit(qTerms, numeric, x, docTitle(ev.GetPassage()), rank), Rank: rank, Ev: ev})
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
