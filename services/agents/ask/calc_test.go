package ask

import (
	"errors"
	"strings"
	"testing"
)

func TestParseQuantity(t *testing.T) {
	cases := []struct {
		in       string
		value    float64
		scale    float64
		currency string
		percent  bool
		str      string
	}{
		{"$1,234", 1234, 1, "$", false, "$1,234"},
		{"(1,234)", -1234, 1, "", false, "−1,234"},
		{"($2,106)", -2106, 1, "$", false, "−$2,106"},
		{"-5", -5, 1, "", false, "−5"},
		{"−5.5", -5.5, 1, "", false, "−5.5"},
		{"12.5%", 12.5, 1, "", true, "12.5%"},
		{"(3)%", -3, 1, "", true, "−3%"},
		{"84 percent", 84, 1, "", true, "84%"},
		{"$4.1 billion", 4.1, 1e9, "$", false, "$4.1B"},
		{"$394 million", 394, 1e6, "$", false, "$394M"},
		{"US$ 10 bn", 10, 1e9, "$", false, "$10B"},
		{"82,959", 82959, 1, "", false, "82,959"},
		{"$ 94,836", 94836, 1, "$", false, "$94,836"},
	}
	for _, c := range cases {
		q, err := ParseQuantity(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if q.Value != c.value || q.Scale != c.scale || q.Currency != c.currency || q.Percent != c.percent || q.String() != c.str {
			t.Errorf("%q: got %+v (%s), want value %v scale %v currency %q percent %v (%s)", c.in, q, q, c.value, c.scale, c.currency, c.percent, c.str)
		}
	}
	for _, bad := range []string{"", "abc", "12 apples", "(1,234", "1,234)", "$", "Q3"} {
		if _, err := ParseQuantity(bad); !errors.Is(err, ErrNumber) {
			t.Errorf("%q: err %v, want ErrNumber", bad, err)
		}
	}
}

func TestFindQuantitiesSkipsDatesYearsAndCodes(t *testing.T) {
	got := FindQuantities("In Q3 2022 (the quarter ended June 25, 2022) the 10-Q shows net sales of $82,959 million, up 2%, from 5 stores.")
	var s []string
	for _, q := range got {
		s = append(s, q.String())
	}
	if strings.Join(s, " ") != "$82,959M 2%" {
		t.Fatalf("quantities %q, want [$82,959M 2%%]", s)
	}
}

// The calculator's outputs, exactly: the answer shows these strings.
func TestCalculatorExact(t *testing.T) {
	q := func(s string) Quantity {
		t.Helper()
		v, err := ParseQuantity(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	m := func(s string) Quantity { v := q(s); v.Scale = 1e6; return v } // a table "in millions"
	cases := []struct {
		op   Op
		a, b Quantity
		want string
	}{
		{OpChange, m("$117,154"), m("$94,836"), "$94,836M − $117,154M = −$22,318M (−19.1%)"},
		{OpChange, m("$82,959"), m("$117,154"), "$117,154M − $82,959M = +$34,195M (+41.2%)"},
		{OpChange, q("$394 million"), q("$4.1 billion"), "$4.1B − $394M = +$3,706M (+940.6%)"},
		{OpChange, q("79%"), q("84%"), "84% − 79% = +5 percentage points"},
		{OpChange, q("15.7%"), q("12.5%"), "12.5% − 15.7% = −3.2 percentage points"},
		{OpChange, m("(329)"), m("64"), "64M − −329M = +393M (+119.5%)"},
		{OpChange, m("$100"), m("$100"), "$100M − $100M = $0M (0.0%)"},
		{OpRatio, q("$10 million"), q("$4 million"), "$10M ÷ $4M = 2.50"},
	}
	for i, c := range cases {
		comp, err := Compute(c.op, Operand{Name: "A", Value: c.a}, Operand{Name: "B", Value: c.b})
		if err != nil {
			t.Errorf("#%d: %v", i, err)
			continue
		}
		if got := comp.Expr(); got != c.want {
			t.Errorf("#%d: %q, want %q", i, got, c.want)
		}
	}
	// 466/394 − 1 = 18.27...% and 523/466 − 1 = 12.23...%: the quarter-over-quarter growth of the dev set.
	p1, _ := PercentChange(q("$394 million"), q("$466 million"))
	p2, _ := PercentChange(q("$466 million"), q("$523 million"))
	if signed(p1, "%") != "+18.3%" || signed(p2, "%") != "+12.2%" {
		t.Errorf("percent changes %v %v", p1, p2)
	}
	comp, _ := Compute(OpChange, Operand{Name: "Q1 2023", Value: m("$117,154"), Cite: "[a.pdf p.1]"}, Operand{Name: "Q2 2023", Value: m("$94,836"), Cite: "[b.pdf p.4]"})
	if got, want := comp.Sentence(), "Change from Q1 2023 [a.pdf p.1] to Q2 2023 [b.pdf p.4]: $94,836M − $117,154M = −$22,318M (−19.1%)."; got != want {
		t.Errorf("sentence %q, want %q", got, want)
	}
}

func TestCalculatorRefusesIncompatibleOperands(t *testing.T) {
	pct, _ := ParseQuantity("12%")
	usd, _ := ParseQuantity("$5")
	eur, _ := ParseQuantity("€5")
	zero, _ := ParseQuantity("$0")
	for i, c := range []struct {
		op   Op
		a, b Quantity
	}{
		{OpChange, pct, usd}, {OpChange, usd, eur}, {OpRatio, pct, usd}, {OpRatio, usd, zero}, {OpNone, usd, usd},
	} {
		if _, err := Compute(c.op, Operand{Value: c.a}, Operand{Value: c.b}); err == nil {
			t.Errorf("#%d: no error", i)
		}
	}
	if c, err := Compute(OpChange, Operand{Value: zero}, Operand{Value: usd}); err != nil || c.HasPct {
		t.Errorf("change from zero: %+v, %v (want the difference without a percentage)", c, err)
	}
}

func TestArithmeticOp(t *testing.T) {
	cases := map[string]Op{
		"How has Apple's total net sales changed over time?":                 OpChange,
		"By what percentage did product revenue grow, quarter over quarter?": OpChange,
		"What is the difference between Q1 and Q2 revenue?":                  OpChange,
		"What is the ratio of R&D to net sales?":                             OpRatio,
		"What was free cash flow?":                                           OpNone,
		"How has Apple's revenue from iPhone sales fluctuated?":              OpChange,
	}
	for q, want := range cases {
		if got := ArithmeticOp(q); got != want {
			t.Errorf("%q: %v, want %v", q, got, want)
		}
	}
}
