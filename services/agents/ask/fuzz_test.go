package ask

import (
	"testing"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// FuzzFigures feeds hostile passage text and questions through the number,
// row, period and series readers: they must never panic, and a parsed
// quantity must print and re-parse to the same value.
func FuzzFigures(f *testing.F) {
	for _, s := range []string{
		"Total net sales $ 94,836 $ 97,278 (3)% $ 211,990",
		"(in millions) — Net sales › iPhone (1): Three Months Ended April 1, $51,334; Change (8)%",
		"Q3 FY23 June 31, 2022 (( $-1,2,3.4.5 %% billion", "—: ;;; › ›", "$", "(", "1e9", "９９",
	} {
		f.Add(s, "How has Apple's total net sales changed over time?")
	}
	f.Fuzz(func(t *testing.T, text, q string) {
		for _, qt := range FindQuantities(text) {
			back, err := ParseQuantity(qt.String())
			if err != nil || !sameValue(back, qt) || back.Percent != qt.Percent || back.Currency != qt.Currency {
				t.Errorf("%q printed %q re-read as %+v, %v", qt.Text, qt.String(), back, err)
			}
		}
		_, _ = ParseQuantity(text)
		_, _ = ParseRow(text, 1e6, "$")
		_ = Periods(text)
		_ = PeriodOf(text, &retrievalv1.DocumentCard{FiscalPeriod: text, PeriodEnd: text})
		d := NewDoc("d", text+".pdf", &retrievalv1.DocumentCard{Issuer: text, PeriodEnd: "2023-04-01"})
		_ = FanQuestion(q, d)
		ev := &agentsv1.Evidence{Passage: &retrievalv1.Passage{DocumentId: "d", DocumentName: "d.pdf", Text: text}, Extracts: []string{text}}
		s := BuildSeries(q, []Doc{d, NewDoc("e", "e.pdf", nil)}, [][]*agentsv1.Evidence{{ev}, {ev}})
		_ = s.Lines()
		_, _ = Choose(q, []Doc{d, NewDoc("e", "2023 Q1 e.pdf", nil)}, 8)
	})
}
