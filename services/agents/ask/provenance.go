package ask

import (
	"strings"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// maxProvenance bounds how many documents the provenance line names.
const maxProvenance = 6

// Provenance names the documents an answer cites, in citation order, by
// their cards: who issued each, what it is and the period it covers
// ("Documents: Apple Inc. Form 10-Q, Q3 2023 (quarterly period ended July 1,
// 2023)."), so a reader knows which filing and period every figure comes
// from without opening the citations. Documents without a card are named
// by file name; "" when nothing is cited.
func Provenance(cites []*agentsv1.Citation, evs []*agentsv1.Evidence) string {
	cards := map[string]*retrievalv1.DocumentCard{}
	for _, ev := range evs {
		p := ev.GetPassage()
		if c := p.GetDocumentCard(); c != nil && cards[p.GetDocumentName()] == nil {
			cards[p.GetDocumentName()] = c
		}
	}
	var names []string
	seen := map[string]bool{}
	for _, c := range cites {
		d := c.GetDocument()
		if d == "" || seen[d] {
			continue
		}
		seen[d] = true
		if len(names) == maxProvenance {
			names = append(names, "and others")
			break
		}
		names = append(names, describe(d, cards[d]))
	}
	if len(names) == 0 {
		return ""
	}
	// A name may end with its own period ("Northwind Ferries Ltd."): one is enough.
	return "Documents: " + strings.TrimSuffix(strings.Join(names, "; "), ".") + "."
}

// describe names one document by its card.
func describe(name string, c *retrievalv1.DocumentCard) string {
	var head []string
	if c.GetIssuer() != "" {
		head = append(head, c.GetIssuer())
	}
	switch form := c.GetFormType(); {
	case strings.HasPrefix(form, "10-") || strings.HasPrefix(form, "8-") || strings.HasPrefix(form, "20-"):
		head = append(head, "Form "+form)
	case form != "":
		head = append(head, form)
	}
	if len(head) == 0 {
		return name
	}
	if len(head) == 1 && c.GetFiscalPeriod() == "" && c.GetPeriod() == "" &&
		strings.HasPrefix(c.GetTitle(), c.GetIssuer()) && len(c.GetTitle()) > len(c.GetIssuer()) {
		// A report or paper: its title says more than its issuer alone
		// ("Northwind Ferries Ltd. Annual Operations Report 2025").
		return c.GetTitle()
	}
	s := strings.Join(head, " ")
	if fp := c.GetFiscalPeriod(); fp != "" {
		s += ", " + fp
	}
	if p := c.GetPeriod(); p != "" {
		s += " (" + p + ")"
	}
	return s
}
