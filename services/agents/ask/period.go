package ask

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// Period is a reporting period as a question or a document names it: a
// quarter of a (fiscal) year, or a year. Zero fields are unknown.
type Period struct {
	Quarter int // 1..4
	Year    int
}

// IsZero reports whether nothing is known of the period.
func (p Period) IsZero() bool { return p.Quarter == 0 && p.Year == 0 }

func (p Period) String() string {
	switch {
	case p.Quarter > 0 && p.Year > 0:
		return fmt.Sprintf("Q%d %d", p.Quarter, p.Year)
	case p.Quarter > 0:
		return fmt.Sprintf("Q%d", p.Quarter)
	case p.Year > 0:
		return strconv.Itoa(p.Year)
	}
	return ""
}

// Matches reports whether two periods can be the same one: every field
// both know agrees, and they share at least one.
func (p Period) Matches(o Period) bool {
	shared := false
	if p.Quarter > 0 && o.Quarter > 0 {
		if p.Quarter != o.Quarter {
			return false
		}
		shared = true
	}
	if p.Year > 0 && o.Year > 0 {
		if p.Year != o.Year {
			return false
		}
		shared = true
	}
	return shared
}

const monthNames = `January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec`

var (
	// periodTokRe finds the period words of a text: quarters ("Q3", "third
	// quarter", "Q3 FY23"), years ("2023", "FY23", "fiscal 2023") and
	// relative periods.
	periodTokRe = regexp.MustCompile(`(?i)\b(?:q([1-4])|(first|second|third|fourth|1st|2nd|3rd|4th) quarter|(?:fy|fiscal(?: year)?)\s?'?(\d{4}|\d{2})|((?:19|20)\d{2}))\b`)
	dateRe      = regexp.MustCompile(`(?i)\b(` + monthNames + `)\.?\s+(\d{1,2})(?:,\s*((?:19|20)\d{2}))?\b`)
	spanRe      = regexp.MustCompile(`(?i)\b(three|six|nine|twelve|3|6|9|12)[- ]months?\b`)
	latestRe    = regexp.MustCompile(`(?i)\b(latest|most recent|last reported|newest|current quarter)\b`)
	ordinalQ    = map[string]int{"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
)

// Periods returns the distinct periods text names, in order. A quarter
// without a year takes the nearest year named after it, else before it
// ("Q1 and Q2 2023" is Q1 2023 and Q2 2023); a year named only to qualify a
// quarter is not a period of its own.
func Periods(text string) []Period {
	type tok struct {
		q, y, pos int
	}
	var toks []tok
	for _, m := range periodTokRe.FindAllStringSubmatchIndex(text, -1) {
		g := func(i int) string {
			if m[2*i] < 0 {
				return ""
			}
			return strings.ToLower(text[m[2*i]:m[2*i+1]])
		}
		switch {
		case g(1) != "":
			q, _ := strconv.Atoi(g(1))
			toks = append(toks, tok{q: q, pos: m[0]})
		case g(2) != "":
			toks = append(toks, tok{q: ordinalQ[g(2)], pos: m[0]})
		case g(3) != "":
			y, _ := strconv.Atoi(g(3))
			if y < 100 {
				y += 2000
			}
			toks = append(toks, tok{y: y, pos: m[0]})
		case g(4) != "":
			y, _ := strconv.Atoi(g(4))
			toks = append(toks, tok{y: y, pos: m[0]})
		}
	}
	used := make([]bool, len(toks))
	var out []Period
	for i, t := range toks {
		if t.q == 0 {
			continue
		}
		y := 0
		for j := i + 1; j < len(toks) && y == 0; j++ {
			if toks[j].y > 0 {
				y, used[j] = toks[j].y, true
			}
		}
		for j := i - 1; j >= 0 && y == 0; j-- {
			if toks[j].y > 0 {
				y, used[j] = toks[j].y, true
			}
		}
		out = append(out, Period{Quarter: t.q, Year: y})
	}
	for i, t := range toks {
		if t.y > 0 && !used[i] {
			out = append(out, Period{Year: t.y})
		}
	}
	var uniq []Period
	seen := map[Period]bool{}
	for _, p := range out {
		if !seen[p] {
			seen[p] = true
			uniq = append(uniq, p)
		}
	}
	return uniq
}

// Before reports whether p is known to come before o: an earlier year, or
// an earlier quarter of the same (or an unstated) year.
func (p Period) Before(o Period) bool {
	if p.Year > 0 && o.Year > 0 && p.Year != o.Year {
		return p.Year < o.Year
	}
	return p.Quarter > 0 && o.Quarter > 0 && p.Quarter < o.Quarter
}

// comparable reports whether p and o share a known field to compare.
func (p Period) comparable(o Period) bool {
	return (p.Quarter > 0 && o.Quarter > 0) || (p.Year > 0 && o.Year > 0)
}

// DocPeriod is what is known of a document's reporting period, from its
// card (fiscal period, period end) or else its name.
type DocPeriod struct {
	Period Period
	End    time.Time // zero when unknown
	Label  string    // "Q3 2022 (period ended June 25, 2022)"
}

// PeriodOf reads the reporting period of a document from its card and name.
func PeriodOf(name string, card *retrievalv1.DocumentCard) DocPeriod {
	var d DocPeriod
	for _, s := range []string{card.GetFiscalPeriod(), card.GetPeriod(), strings.TrimSuffix(name, ".pdf")} {
		if ps := Periods(s); len(ps) > 0 && d.Period.IsZero() {
			d.Period = ps[0]
		}
	}
	if t, err := time.Parse(time.DateOnly, card.GetPeriodEnd()); err == nil {
		d.End = t
	}
	fp := strings.TrimSpace(card.GetFiscalPeriod())
	if fp == "" {
		fp = d.Period.String()
	}
	switch {
	case fp != "" && !d.End.IsZero():
		d.Label = fmt.Sprintf("%s (period ended %s)", fp, d.End.Format("January 2, 2006"))
	case fp != "":
		d.Label = fp
	case !d.End.IsZero():
		d.Label = "period ended " + d.End.Format("January 2, 2006")
	default:
		d.Label = strings.TrimSuffix(name, ".pdf")
	}
	return d
}

// Before orders two documents by period: by period end when both have one,
// else by year and quarter.
func (d DocPeriod) Before(o DocPeriod) bool {
	if !d.End.IsZero() && !o.End.IsZero() {
		return d.End.Before(o.End)
	}
	if d.Period.Year != o.Period.Year {
		return d.Period.Year < o.Period.Year
	}
	return d.Period.Quarter < o.Period.Quarter
}

// yearUnknown is the year of a date written without one ("April 1,").
const yearUnknown = 1

// sameDay reports whether two dates are the same day; a date of
// yearUnknown matches any year.
func sameDay(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return false
	}
	if a.Year() == yearUnknown || b.Year() == yearUnknown {
		return a.Month() == b.Month() && a.Day() == b.Day()
	}
	return a.Equal(b)
}

// parseDate reads "June 25, 2022" (year optional: then fallback's year).
func parseDate(s string, fallbackYear int) (time.Time, bool) {
	m := dateRe.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	mon := strings.ToLower(m[1])
	if len(mon) > 3 {
		mon = mon[:3]
	}
	month := 0
	for i, n := range []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"} {
		if n == mon {
			month = i + 1
		}
	}
	day, _ := strconv.Atoi(m[2])
	year := fallbackYear
	if m[3] != "" {
		year, _ = strconv.Atoi(m[3])
	}
	if month == 0 || day < 1 || day > 31 || year == 0 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC), true
}
