package index

import "strings"

// Query expansion for financial English: the words people ask with and the
// words filings print are often not the same ("revenue" against "net
// sales", "R&D" against "research and development", "buybacks" against
// "repurchases"). Expand adds the printed forms of a query's terms, to be
// matched at ExpansionWeight of an original term's weight. The table is
// general vocabulary of financial statements, not tuned to any question.
var synonyms = map[string][]string{}

// ExpansionWeight is the BM25 weight of an expansion term.
const ExpansionWeight = 0.6

func init() {
	for _, row := range []string{
		"revenue|revenues|sales: net sales",
		"turnover: net sales revenue",
		"earnings|profit: net income",
		"r&d|rnd: research development technology",
		"research: technology",
		"opex: operating expenses",
		"capex: capital expenditures property equipment",
		"buyback|buybacks: repurchase repurchased",
		"repurchase|repurchases: buyback",
		"headcount|workforce|staff: employees",
		"e-commerce|ecommerce: online stores",
		"cash flow|cash flows: cash provided operating activities",
		"debt|borrowings: notes term debt commercial paper",
		"eps: earnings per share diluted",
		"tax rate: effective tax rate provision income taxes",
		"gross margin|gross profit: gross margin percentage net sales cost of sales",
		"expenditure|expenditures|spending|spend|costs: expenses",
		"operational: operating",
		"fx|forex|exchange rates: foreign currency exchange rates",
		"liquidity: cash equivalents marketable securities",
		"inventory|inventories: inventories",
		"cloud: aws azure",
		"segment|segments: reportable segment",
	} {
		keys, vals, _ := strings.Cut(row, ":")
		for _, k := range strings.Split(keys, "|") {
			for _, t := range Terms(k) {
				synonyms[t] = append(synonyms[t], Terms(vals)...)
			}
		}
	}
}

// Expand returns the expansion terms of query terms ts that are not among
// ts themselves, each once.
func Expand(ts []string) []string {
	have := map[string]bool{}
	for _, t := range ts {
		have[t] = true
	}
	var out []string
	for _, t := range ts {
		for _, s := range synonyms[t] {
			if !have[s] {
				have[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}
