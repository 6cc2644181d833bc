package ask

import (
	"regexp"
	"strconv"
	"strings"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

// Verify checks every claim of answer against the evidence it cites (or,
// uncited, against all evidence, adopting the best page's citation): every
// figure must appear there and most of its words. Unsupported claims are
// removed; the kept answer, its citations and the verification come back.
func Verify(answer string, evs []*agentsv1.Evidence) (string, []*agentsv1.Citation, *agentsv1.Verification) {
	v := &agentsv1.Verification{}
	var kept []string
	var cites []*agentsv1.Citation
	seenCite := map[string]bool{}
	score, n := 0.0, 0
	for _, claim := range SplitClaims(answer) {
		body := strings.TrimSpace(labelRe.ReplaceAllString(claim, ""))
		if len(terms(body)) == 0 {
			continue
		}
		if isMeta(body) {
			kept = append(kept, claim)
			continue
		}
		var cited []*agentsv1.Evidence
		for _, m := range labelRe.FindAllStringSubmatch(claim, -1) {
			page, _ := strconv.Atoi(m[2])
			for _, ev := range evs {
				p := ev.GetPassage()
				end := max(p.GetPageEnd(), p.GetPage())
				if p.GetDocumentName() == m[1] && page >= int(p.GetPage()) && page <= int(end) {
					cited = append(cited, ev)
				}
			}
		}
		verdict, best := judge(body, cited)
		if verdict == agentsv1.Verdict_VERDICT_UNSUPPORTED {
			// A wrong or missing label: look for the claim anywhere in the evidence.
			if v2, b2 := judge(body, evs); v2 != agentsv1.Verdict_VERDICT_UNSUPPORTED {
				verdict, best = v2, b2
				claim = strings.TrimSuffix(body, ".") + " " + Label(best.GetPassage()) + "."
			}
		}
		if verdict == agentsv1.Verdict_VERDICT_UNSUPPORTED {
			// A small model copies the right figure and then invents a tail
			// (", which is approximately a 10.5% increase"): keep the copied
			// clause when the evidence supports it.
			if lead := leadingClause(body); lead != "" {
				if v2, b2 := judge(lead, append(cited, evs...)); v2 != agentsv1.Verdict_VERDICT_UNSUPPORTED {
					verdict, best, body = v2, b2, lead
					claim = lead + " " + Label(best.GetPassage()) + "."
				}
			}
		}
		check := &agentsv1.ClaimCheck{Claim: claim, Verdict: verdict}
		n++
		switch verdict {
		case agentsv1.Verdict_VERDICT_SUPPORTED:
			score++
		case agentsv1.Verdict_VERDICT_PARTIAL:
			score += 0.5
		}
		if verdict != agentsv1.Verdict_VERDICT_UNSUPPORTED && best != nil {
			p := best.GetPassage()
			c := &agentsv1.Citation{Document: p.GetDocumentName(), Page: p.GetPage(), DocumentId: p.GetDocumentId(), Quote: quote(body, best)}
			check.Citations = append(check.Citations, c)
			if k := c.Document + "\x00" + strconv.Itoa(int(c.Page)); !seenCite[k] {
				seenCite[k] = true
				cites = append(cites, c)
			}
			kept = append(kept, claim)
		}
		v.Claims = append(v.Claims, check)
	}
	if n > 0 {
		v.SupportScore = float32(score / float64(n))
	}
	return strings.Join(kept, " "), cites, v
}

var tailRe = regexp.MustCompile(`(?i)(?:,|;|\s-)\s+(?:which|that is|representing|meaning|making|bringing|i\.e\.|approximately|roughly|an? (?:increase|decrease|rise|drop|decline|growth|change)|up|down|compared)\b`)

// leadingClause is the claim up to its first trailing clause, or "" when
// it has none or the lead is too short to be a claim.
func leadingClause(body string) string {
	loc := tailRe.FindStringIndex(body)
	if loc == nil {
		return ""
	}
	lead := strings.TrimSpace(body[:loc[0]])
	if len(terms(lead)) < 3 {
		return ""
	}
	return lead
}

// isMeta recognises the answer's own statements about what is missing.
func isMeta(body string) bool {
	l := strings.ToLower(body)
	return strings.HasPrefix(l, "not found in the documents") || strings.HasPrefix(l, "the documents found do not answer")
}

// judge returns the verdict of claim against evs and the most supportive one.
func judge(claim string, evs []*agentsv1.Evidence) (agentsv1.Verdict, *agentsv1.Evidence) {
	nums, ts := numbers(claim), terms(claim)
	bestV, bestLex := agentsv1.Verdict_VERDICT_UNSUPPORTED, -1.0
	var best *agentsv1.Evidence
	for _, ev := range evs {
		// the passage and what names its document (file, title, issuer,
		// fiscal period, period): "Amazon's Q3 2022 10-Q reported …" is
		// the filing's own identity, not a figure the passage must print
		text := ev.GetPassage().GetText() + " " + docTitle(ev.GetPassage()) + " " + ev.GetPassage().GetDocumentCard().GetPeriod()
		have := numbers(text)
		ok := true
		for n := range nums {
			ok = ok && have[n]
		}
		lex := overlap(ts, terms(text))
		v := agentsv1.Verdict_VERDICT_UNSUPPORTED
		switch {
		case ok && lex >= 0.6:
			v = agentsv1.Verdict_VERDICT_SUPPORTED
		case ok && lex >= 0.34:
			v = agentsv1.Verdict_VERDICT_PARTIAL
		}
		if rankVerdict(v) > rankVerdict(bestV) || (v == bestV && lex > bestLex) {
			bestV, bestLex, best = v, lex, ev
		}
	}
	return bestV, best
}

func rankVerdict(v agentsv1.Verdict) int {
	switch v {
	case agentsv1.Verdict_VERDICT_SUPPORTED:
		return 2
	case agentsv1.Verdict_VERDICT_PARTIAL:
		return 1
	}
	return 0
}

// quote is the evidence sentence closest to the claim.
func quote(claim string, ev *agentsv1.Evidence) string {
	ts := terms(claim)
	best, bs := "", -1.0
	for _, u := range units(ev.GetPassage().GetText()) {
		if s := overlap(ts, terms(u)); s > bs {
			best, bs = u, s
		}
	}
	return truncate(best, 400)
}
