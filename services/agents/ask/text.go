package ask

import (
	"regexp"
	"strings"
	"unicode"
)

var (
	numRe      = regexp.MustCompile(`\d[\d,]*(?:\.\d+)?`)
	wordRe     = regexp.MustCompile(`[a-z0-9]+(?:[.'][a-z0-9]+)*`)
	citationRe = regexp.MustCompile(`\[([^\[\]]+?) p\.(\d+)\]`)
)

// stop words: function words and question words that carry no search signal.
var stop = toSet(`a an and are as at be been but by can could did do does for from had has have how
i if in into is it its itself may more most no not of on or our out over per should so such than
that the their them then there these they this those to too under up very was we were what when
where which while who whom why will with would you your also about after again against all any
because before being below between both during each few further here just like only other own
same some still through until well tell me please describe explain give list show much many
compare versus vs difference`)

func toSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// numbers returns the normalised numbers of text (commas dropped, ".0" and
// trailing dots trimmed); single digits are ignored as too common.
func numbers(text string) map[string]bool {
	out := map[string]bool{}
	for _, m := range numRe.FindAllString(text, -1) {
		n := strings.TrimRight(strings.ReplaceAll(m, ",", ""), ".")
		n = strings.TrimSuffix(n, ".0")
		if len(strings.ReplaceAll(n, ".", "")) >= 2 {
			out[n] = true
		}
	}
	return out
}

// irregular maps irregular verb forms to their stem's base, so that "grew"
// meets "grow" and "rose" meets "rise".
var irregular = map[string]string{
	"grew": "grow", "grown": "grow", "growth": "grow", "rose": "rise", "risen": "rise", "fell": "fall", "fallen": "fall",
	"sold": "sell", "spent": "spend", "paid": "pay", "made": "make", "lost": "lose", "brought": "bring", "bought": "buy",
	"won": "win", "began": "begin", "begun": "begin", "saw": "see", "seen": "see", "took": "take", "taken": "take",
}

// stem is a crude suffix stripper: "revenues/revenue", "increased/increase",
// "companies/company" meet; irregular forms ("grew/grow") go through the
// irregular table first; a possessive "'s" is dropped.
func stem(w string) string {
	w = strings.TrimSuffix(w, "'s")
	if b, ok := irregular[w]; ok {
		w = b
	}
	if len(w) > 5 && strings.HasSuffix(w, "ies") {
		return w[:len(w)-3] + "y"
	}
	for _, suf := range []string{"ing", "ed", "es", "s"} {
		if len(w) > len(suf)+3 && strings.HasSuffix(w, suf) {
			w = w[:len(w)-len(suf)]
			break
		}
	}
	if len(w) >= 4 && strings.HasSuffix(w, "e") && !hasDigit(w) {
		w = w[:len(w)-1]
	}
	return w
}

// terms returns the stemmed content words of text.
func terms(text string) map[string]bool {
	out := map[string]bool{}
	text = strings.ReplaceAll(strings.ToLower(text), "’", "'")
	for _, w := range wordRe.FindAllString(text, -1) {
		w = strings.TrimSuffix(w, "'s")
		if stop[w] || (len(w) < 3 && !hasDigit(w)) { // keep "q3", "h1", "10"
			continue
		}
		out[stem(w)] = true
	}
	return out
}

func hasDigit(s string) bool {
	return strings.IndexFunc(s, unicode.IsDigit) >= 0
}

// overlap is the share of q's terms present in s.
func overlap(q, s map[string]bool) float64 {
	if len(q) == 0 {
		return 0
	}
	n := 0
	for w := range q {
		if s[w] {
			n++
		}
	}
	return float64(n) / float64(len(q))
}

// jaccard measures near-duplicate passages.
func jaccard(a, b map[string]bool) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	inter := 0
	for w := range a {
		if b[w] {
			inter++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

// units splits a passage into sentences and table rows: newlines end table
// rows and headings; ". ", "? ", "! " end sentences (not "3.5" or "U.S.").
func units(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		start := 0
		rs := []rune(line)
		for i := 0; i < len(rs)-1; i++ {
			if (rs[i] == '.' || rs[i] == '?' || rs[i] == '!') && rs[i+1] == ' ' {
				// Avoid splitting after single-letter abbreviations ("U.S. ").
				if rs[i] == '.' && i >= 2 && rs[i-2] == '.' {
					continue
				}
				if i+2 < len(rs) && unicode.IsLower(rs[i+2]) {
					continue
				}
				s := strings.TrimSpace(string(rs[start : i+1]))
				if s != "" {
					out = append(out, s)
				}
				start = i + 1
			}
		}
		if s := strings.TrimSpace(string(rs[start:])); s != "" {
			out = append(out, s)
		}
	}
	return mergeShort(out)
}

// mergeShort glues fragments of under four words onto the next unit, so a
// PDF line break inside a sentence does not orphan its subject.
func mergeShort(us []string) []string {
	var out []string
	carry := ""
	for _, u := range us {
		if carry != "" {
			u = carry + " " + u
			carry = ""
		}
		if len(strings.Fields(u)) < 4 && !strings.HasSuffix(u, ".") {
			carry = u
			continue
		}
		out = append(out, u)
	}
	if carry != "" {
		out = append(out, carry)
	}
	return out
}

// wantsNumber reports whether a question asks for a figure.
func wantsNumber(q string) bool {
	l := strings.ToLower(q)
	for _, k := range []string{"how much", "how many", "what was", "what is", "what were", "percent", "%", "rate", "revenue",
		"margin", "growth", "grow", "income", "cost", "price", "number", "amount", "total", "guidance", "eps", "cash", "billion", "million"} {
		if strings.Contains(l, k) {
			return true
		}
	}
	return false
}

// keywordQuery strips question words and punctuation from q: a query for
// the keyword half of hybrid search.
func keywordQuery(q string) string {
	var kept []string
	for _, w := range strings.Fields(q) {
		c := strings.ToLower(strings.Trim(w, "?,.;:!\"()"))
		if c == "" || stop[c] {
			continue
		}
		kept = append(kept, strings.Trim(w, "?,.;:!\"()"))
	}
	return strings.Join(kept, " ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := strings.LastIndex(s[:n], " ")
	if cut < n/2 {
		cut = n
	}
	return s[:cut] + "…"
}
