package retrieval

import (
	"regexp"
	"sort"
	"strings"

	"github.com/pdfqa/pdfqa/services/retrieval/card"
	"github.com/pdfqa/pdfqa/services/retrieval/index"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// Query scoping by document cards. A question names its documents the way
// people do: by issuer ("Apple's"), by period ("Q2 2023", "the third
// quarter of fiscal 2023") or by recency ("the most recent 10-Q"). When the
// cards of the collection's documents say which documents those are, the
// search is restricted to them (and filled from the rest when they hold too
// few passages). A question about change over time across several matching
// documents is spread over them: at most a fair share of the results comes
// from any one document, so each filing's own row gets in.

var (
	latestRe  = regexp.MustCompile(`(?i)\b(latest|most recent|newest|last (?:quarterly |annual )?(?:quarter|filing|report|10-q|10-k|period))\b`)
	earlierRe = regexp.MustCompile(`(?i)\b(previous|prior|preceding|earlier|past) (?:\w+ )?(quarters|periods|filings|reports|years)\b`)
	spreadRe  = regexp.MustCompile(`(?i)\b(over time|across|trends?|changed?|changes|fluctuat\w*|over the (?:last|past|reported|recent)|these (?:quarters|periods|filings|reports|10-qs|documents)|each (?:quarter|period|filing|report)|(?:reported|recent|several|multiple) (?:quarters|periods)|quarter[- ]over[- ]quarter|compare\w*|evolv\w*)\b`)
)

// generic words of company names that do not identify an issuer.
var issuerStop = map[string]bool{"inc": true, "corp": true, "corporation": true, "com": true, "co": true, "ltd": true,
	"llc": true, "plc": true, "company": true, "group": true, "holding": true, "holdings": true, "the": true, "limited": true,
	"sa": true, "nv": true, "ag": true, "of": true, "and": true, "international": true, "technologies": true, "incorporated": true}

// scope decides which documents a query is about. It returns the allowed
// document ids (nil: all), the per-document cap (0: none) and the query
// to match passages with: the words that only choose documents ("the most
// recent", "over time", "across quarters") are taken out, since no passage
// states them.
func scope(query string, docs []store.Document, topK int) (allow map[string]bool, perDoc int, text string) {
	text = query
	if len(docs) < 2 {
		return nil, 0, text
	}
	qt := map[string]bool{}
	for _, t := range index.Terms(query) {
		qt[t] = true
	}
	cand := docs
	var byIssuer []store.Document
	for _, d := range docs {
		for _, t := range index.Terms(d.Card.Issuer) {
			if !issuerStop[t] && len(t) > 1 && qt[t] {
				byIssuer = append(byIssuer, d)
				break
			}
		}
	}
	if len(byIssuer) > 0 {
		cand = byIssuer
	}
	if fp := card.FiscalPeriod(query); fp != "" {
		var same []store.Document
		for _, d := range cand {
			if card.SamePeriod(fp, d.Card.FiscalPeriod) {
				same = append(same, d)
			}
		}
		if len(same) > 0 {
			cand = same
		}
	}
	if latestRe.MatchString(query) {
		// "the most recent quarter compared to previous quarters" is
		// about all of them: the recency words only choose documents
		// when nothing earlier is asked for.
		if !earlierRe.MatchString(query) {
			cand = latest(cand)
		}
		text = latestRe.ReplaceAllString(text, " ")
	}
	if len(cand) < len(docs) {
		allow = map[string]bool{}
		for _, d := range cand {
			allow[d.ID] = true
		}
	}
	if len(cand) > 1 && spreadRe.MatchString(query) {
		perDoc = max(1, (topK+len(cand)-1)/len(cand))
		text = spreadRe.ReplaceAllString(text, " ")
	}
	text = strings.Join(strings.Fields(text), " ")
	if len(index.Terms(text)) == 0 {
		text = query
	}
	return allow, perDoc, text
}

// latest keeps, for each issuer, the documents with the latest period end
// (documents without one are kept only when no document has one).
func latest(ds []store.Document) []store.Document {
	best := map[string]string{}
	for _, d := range ds {
		k := strings.ToLower(d.Card.Issuer)
		if d.Card.PeriodEnd > best[k] {
			best[k] = d.Card.PeriodEnd
		}
	}
	var out []store.Document
	for _, d := range ds {
		if b := best[strings.ToLower(d.Card.Issuer)]; b == "" || d.Card.PeriodEnd == b {
			out = append(out, d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Card.PeriodEnd > out[j].Card.PeriodEnd })
	return out
}

// cardOf returns the card of a READY document (empty when unknown).
func (e *Engine) cardOf(coll, doc string) store.Card {
	for _, d := range e.cache.readyDocs(coll) {
		if d.ID == doc {
			return d.Card
		}
	}
	return store.Card{}
}
