// Package card derives a document card at ingestion: what a document is
// (title, issuer, form type, reporting period, fiscal period), from its PDF
// metadata, its file name, its running headers and footers and the text of
// its first pages. Each rule is one a filing, a transcript, a report or a
// paper states the same way whoever issued it ("FORM 10-Q", "(Exact name of
// registrant as specified in its charter)", "For the quarterly period ended
// June 25, 2022", "Q3 2022", "FY23 Third Quarter"); a document that states
// nothing gets a card with its title only.
//
// The card's Summary is the contextual header indexed with every chunk, so
// that "Apple's net sales in Q3 2022" matches a table row that names neither
// Apple nor the quarter.
package card

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/pdfqa/pdfqa/services/retrieval/parse"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// Card is the store's card.
type Card = store.Card

// pagesRead is how many leading pages the rules look at.
const pagesRead = 3

var (
	secForm    = regexp.MustCompile(`(?i)\bform\s+(10-Q|10-K|8-K|20-F|40-F|6-K|S-1|S-4|10-QT|10-KT|DEF\s?14A)\b`)
	coverForm  = regexp.MustCompile(`(?i)^\s*form\s+(10-Q|10-K|8-K|20-F|40-F|6-K|S-1|S-4|10-QT|10-KT|DEF\s?14A)\s*$`)
	registrant = regexp.MustCompile(`(?i)^\(?exact name of (the )?registrant`)
	periodRe   = regexp.MustCompile(`(?i)^\W{0,3}for the (quarterly period|fiscal year|year|quarter|fiscal quarter|period|three months|six months|nine months|twelve months) ended:?\s+((?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4})`)
	subjectEnd = regexp.MustCompile(`(?i)period ending (\d{4}-\d{2}-\d{2})`)
	// "Q3 2022", "Q3 FY23", "Q1 fiscal 2023", "2023 Q3"
	qYear = regexp.MustCompile(`(?i)\bQ([1-4])\s*(?:of\s+)?(fy|fiscal\s+(?:year\s+)?)?'?(\d{4}|\d{2})\b|\b(\d{4})\s+Q([1-4])\b`)
	// "FY23 Third Quarter", "third quarter of fiscal 2023", "Third Quarter 2023"
	wordQuarter = regexp.MustCompile(`(?i)\b(?:(fy|fiscal\s+(?:year\s+)?)'?(\d{4}|\d{2})\s+)?(first|second|third|fourth)\s+(?:fiscal\s+)?quarter(?:\s+(?:of\s+)?(fy|fiscal\s+(?:year\s+)?)?'?(\d{4}|\d{2}))?\b`)
	fyOnly      = regexp.MustCompile(`(?i)\b(?:FY|fiscal\s+year\s+)'?(\d{4}|\d{2})\b`)
	earnings    = regexp.MustCompile(`(?i)\bearnings\s+(conference\s+)?call\b`)
	callIssuer  = regexp.MustCompile(`(?i)^(?:(?:Q[1-4]|FY)\s*'?\d{2,4}\s+)*(.+?)\s+(?:(?:FY|Q[1-4])\s*'?\d{2,4}\s+)?(?:(?:first|second|third|fourth)\s+quarter\s+)?(?:\d{4}\s+)?earnings\s+(?:conference\s+)?call`)
	accession   = regexp.MustCompile(`^\d{10}-\d{2}-\d{6}$`)
	wordPrefix  = regexp.MustCompile(`(?i)^microsoft (word|powerpoint|excel) - `)
	companyEnd  = regexp.MustCompile(`(?i)\b(inc\.?|corp\.?|corporation|ltd\.?|limited|llc|plc|n\.v\.|s\.a\.|ag|co\.|company|group|holdings)$`)
)

var quarterWord = map[string]string{"first": "1", "second": "2", "third": "3", "fourth": "4"}

// Derive builds the card of a parsed document. name is its file name and
// running the text of its running headers and footers.
func Derive(doc *parse.Document, name string, running []string) Card {
	var c Card
	base := strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	var first []string // lines of the first pages, in order
	var page1 []parse.Line
	for i := 0; i < len(doc.Pages) && i < pagesRead; i++ {
		p := &doc.Pages[i]
		for _, l := range p.Lines {
			if t := strings.TrimSpace(l.Text); t != "" {
				first = append(first, t)
			}
		}
		if i == 0 {
			page1 = p.Lines
		}
		if len(p.Lines) == 0 {
			first = append(first, strings.Split(p.Text, "\n")...)
		}
	}

	// form type: a cover line of its own ("FORM 10-Q"), the metadata, or
	// a transcript's title
	for _, l := range first {
		if m := coverForm.FindStringSubmatch(l); m != nil {
			c.FormType = strings.ToUpper(strings.Join(strings.Fields(m[1]), " "))
			break
		}
	}
	if c.FormType == "" {
		switch meta := doc.Metadata.Subject + " " + doc.Metadata.Keywords; {
		case earnings.MatchString(doc.Metadata.Title + "\n" + base + "\n" + firstLines(first, 5)):
			c.FormType = "earnings call"
		case secForm.MatchString(meta):
			c.FormType = strings.ToUpper(secForm.FindStringSubmatch(meta)[1])
		}
	}

	// title: the PDF's own when it means something, else the first page's
	// largest lines
	c.Title = meaningfulTitle(doc.Metadata.Title)
	if c.Title == "" {
		c.Title = largestLines(page1)
	}

	// issuer
	for i, l := range first {
		if registrant.MatchString(l) && i > 0 {
			c.Issuer = strings.TrimSpace(first[i-1])
			break
		}
	}
	if c.Issuer == "" && c.FormType == "earnings call" {
		for _, s := range []string{c.Title, doc.Metadata.Title, base} {
			if m := callIssuer.FindStringSubmatch(strings.Join(strings.Fields(s), " ")); m != nil {
				c.Issuer = strings.TrimSpace(m[1])
				break
			}
		}
	}
	if c.Issuer == "" {
		for _, l := range first[:min(len(first), 40)] {
			if ws := strings.Fields(l); len(ws) <= 6 && companyEnd.MatchString(l) && startsUpper(l) {
				c.Issuer = l
				break
			}
		}
	}
	c.Issuer = tidyIssuer(c.Issuer)

	// reporting period, stated on a cover line of its own
	for _, l := range first {
		if m := periodRe.FindStringSubmatch(l); m != nil {
			date := strings.Join(strings.Fields(m[2]), " ")
			c.Period = strings.ToLower(m[1]) + " ended " + date
			c.PeriodEnd = isoDate(date)
			break
		}
	}
	if c.PeriodEnd == "" {
		if m := subjectEnd.FindStringSubmatch(doc.Metadata.Subject); m != nil {
			c.PeriodEnd = m[1]
		}
	}

	// fiscal period: stated in running headers, the title, the file name or
	// the first lines
	for _, s := range append(append([]string{}, running...), c.Title, doc.Metadata.Title, base, firstLines(first, 8)) {
		if fp := fiscalPeriod(s); fp != "" {
			c.FiscalPeriod = fp
			break
		}
	}
	if c.FiscalPeriod == "" && c.PeriodEnd != "" && c.FormType == "10-Q" {
		// not stated: the calendar quarter the period ends in
		if t, err := time.Parse("2006-01-02", c.PeriodEnd); err == nil {
			c.FiscalPeriod = fmt.Sprintf("calendar Q%d %d", (int(t.Month())+2)/3, t.Year())
		}
	}
	if c.FormType != "" && secForm.MatchString("form "+c.FormType) && meaningfulTitle(doc.Metadata.Title) == "" {
		// a filing's title is who filed what
		c.Title = strings.TrimSpace(c.Issuer + " Form " + c.FormType)
	}
	c.Title = cut(c.Title, 120)
	c.Summary = cut(summary(c), 200)
	return c
}

// cut shortens s to at most n bytes at a word boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if i := strings.LastIndexByte(s[:n], ' '); i > 0 {
		return s[:i]
	}
	return s[:n]
}

func firstLines(ls []string, n int) string { return strings.Join(ls[:min(n, len(ls))], "\n") }

func startsUpper(s string) bool {
	for _, r := range s {
		return unicode.IsUpper(r)
	}
	return false
}

// tidyIssuer title-cases an all-capitals name ("AMAZON.COM, INC." ->
// "Amazon.com, Inc.").
func tidyIssuer(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" || strings.ToUpper(s) != s {
		return s
	}
	ws := strings.Fields(strings.ToLower(s))
	for i, w := range ws {
		rs := []rune(w)
		rs[0] = unicode.ToUpper(rs[0])
		ws[i] = string(rs)
	}
	return strings.Join(ws, " ")
}

func meaningfulTitle(t string) string {
	t = strings.TrimSpace(wordPrefix.ReplaceAllString(strings.TrimSpace(t), ""))
	low := strings.ToLower(t)
	switch {
	case len(t) < 4, accession.MatchString(t), low == "untitled", strings.HasPrefix(low, "untitled"),
		strings.HasSuffix(low, ".doc"), strings.HasSuffix(low, ".docx"), strings.HasSuffix(low, ".pdf"), strings.HasSuffix(low, ".indd"):
		return ""
	}
	letters := 0
	for _, r := range t {
		if unicode.IsLetter(r) {
			letters++
		}
	}
	if letters < 3 {
		return ""
	}
	return t
}

// largestLines returns the text in the largest type among the first
// lines of page 1 (a title may run over two or three lines).
func largestLines(ls []parse.Line) string {
	best := 0.0
	n := min(len(ls), 30)
	for _, l := range ls[:n] {
		if h := l.Box.Height(); h > best && len(strings.Fields(l.Text)) <= 20 {
			best = h
		}
	}
	if best == 0 {
		return ""
	}
	var parts []string
	for _, l := range ls[:n] {
		if l.Box.Height() >= 0.7*best && len(strings.Fields(l.Text)) <= 20 {
			parts = append(parts, strings.TrimSpace(l.Text))
			if len(parts) == 3 {
				break
			}
		} else if len(parts) > 0 {
			break
		}
	}
	return strings.Join(parts, " ")
}

func fullYear(y string) string {
	if len(y) == 2 {
		return "20" + y
	}
	return y
}

// fiscalPeriod finds a stated quarter ("Q3 2022", "Q3 FY2023") or fiscal
// year ("FY 2023") in s.
func fiscalPeriod(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if m := qYear.FindStringSubmatch(s); m != nil {
		if m[1] != "" {
			if m[2] != "" {
				return "Q" + m[1] + " FY" + fullYear(m[3])
			}
			return "Q" + m[1] + " " + fullYear(m[3])
		}
		return "Q" + m[5] + " " + m[4]
	}
	if m := wordQuarter.FindStringSubmatch(s); m != nil {
		q := quarterWord[strings.ToLower(m[3])]
		switch {
		case m[2] != "":
			return "Q" + q + " FY" + fullYear(m[2])
		case m[5] != "" && m[4] != "":
			return "Q" + q + " FY" + fullYear(m[5])
		case m[5] != "" && len(m[5]) == 4:
			return "Q" + q + " " + m[5]
		}
	}
	if m := fyOnly.FindStringSubmatch(s); m != nil {
		return "FY" + fullYear(m[1])
	}
	return ""
}

func isoDate(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, ",", ""), ".", "")
	ws := strings.Fields(s)
	if len(ws) != 3 {
		return ""
	}
	mon := strings.ToLower(ws[0])
	if len(mon) > 3 {
		mon = mon[:3]
	}
	d, err1 := strconv.Atoi(ws[1])
	y, err2 := strconv.Atoi(ws[2])
	if err1 != nil || err2 != nil {
		return ""
	}
	t, err := time.Parse("Jan 2 2006", fmt.Sprintf("%s %d %d", strings.ToUpper(mon[:1])+mon[1:], d, y))
	if err != nil {
		return ""
	}
	return t.Format("2006-01-02")
}

// summary is the one-line context header: issuer, form, fiscal period and
// reporting period, or the title when the document states none of them.
func summary(c Card) string {
	var parts []string
	if c.Issuer != "" {
		parts = append(parts, c.Issuer)
	}
	switch {
	case c.FormType == "":
	case secForm.MatchString("form " + c.FormType):
		parts = append(parts, "Form "+c.FormType)
	default:
		parts = append(parts, c.FormType)
	}
	if c.FiscalPeriod != "" {
		parts = append(parts, c.FiscalPeriod)
	}
	if c.Period != "" {
		parts = append(parts, c.Period)
	}
	if len(parts) <= 1 && c.Title != "" {
		return c.Title
	}
	return strings.Join(parts, " · ")
}

// FiscalPeriod finds the quarter or fiscal year a text names ("Q3 2022",
// "the second quarter of fiscal 2023" -> "Q2 FY2023", "FY23" -> "FY2023"),
// "" when it names none.
func FiscalPeriod(s string) string { return fiscalPeriod(s) }

// SamePeriod reports whether two periods as FiscalPeriod writes them name
// the same quarter (or year): "Q2 2023" matches "Q2 FY2023" and "calendar
// Q2 2023".
func SamePeriod(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimPrefix(strings.ToUpper(s), "CALENDAR ")
		return strings.ReplaceAll(strings.ReplaceAll(s, "FY", ""), " ", "")
	}
	return a != "" && b != "" && norm(a) == norm(b)
}
