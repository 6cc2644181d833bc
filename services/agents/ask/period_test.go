package ask

import (
	"strings"
	"testing"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

func TestPeriods(t *testing.T) {
	cases := map[string]string{
		"How much did Snowflake product revenue grow in Q1 fiscal 2023?": "Q1 2023",
		"Compare Q1 and Q2 2023":                          "Q1 2023|Q2 2023",
		"compare Q1 and Q2":                               "Q1|Q2",
		"What did they say in the third quarter of FY23?": "Q3 2023",
		"For fiscal year 2029, we target $10 billion":     "2029",
		"2022 Q3 AAPL":                                    "Q3 2022",
		"What was revenue in 2022 and 2023?":              "2022|2023",
		"How has revenue changed over time?":              "",
	}
	for q, want := range cases {
		var got []string
		for _, p := range Periods(q) {
			got = append(got, p.String())
		}
		if strings.Join(got, "|") != want {
			t.Errorf("%q: %q, want %q", q, got, want)
		}
	}
	if !(Period{Quarter: 1, Year: 2023}).Matches(Period{Quarter: 1}) || (Period{Quarter: 1, Year: 2023}).Matches(Period{Year: 2029}) ||
		(Period{}).Matches(Period{Year: 2023}) {
		t.Error("Matches")
	}
	if !(Period{Year: 2022}).Before(Period{Quarter: 1, Year: 2023}) || !(Period{Quarter: 1}).Before(Period{Quarter: 2, Year: 2023}) ||
		(Period{Year: 2029}).Before(Period{Quarter: 1, Year: 2023}) || (Period{Quarter: 1, Year: 2023}).Before(Period{Quarter: 1}) {
		t.Error("Before")
	}
}

func TestPeriodOfCardAndName(t *testing.T) {
	d := PeriodOf("2022 Q3 AAPL.pdf", &retrievalv1.DocumentCard{FiscalPeriod: "Q3 2022", PeriodEnd: "2022-06-25"})
	if d.Label != "Q3 2022 (period ended June 25, 2022)" || d.Period != (Period{3, 2022}) {
		t.Errorf("%+v", d)
	}
	d = PeriodOf("Q1 2023 Snowflake Inc. Earnings Call.pdf", nil) // no card yet: the name
	if d.Label != "Q1 2023" || !d.End.IsZero() {
		t.Errorf("%+v", d)
	}
}
