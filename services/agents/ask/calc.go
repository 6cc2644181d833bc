package ask

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Quantity is a number as a document writes it: "$1,234", "(1,234)",
// "12.5%", "$4.1 billion". Value is in units of Scale (94,836 with Scale 1e6
// is 94,836 million).
type Quantity struct {
	Value    float64
	Scale    float64 // 1, 1e3, 1e6, 1e9 or 1e12
	Currency string  // "$", "€", "£" or "" when none is written
	Percent  bool
	Decimals int    // digits after the decimal point as written
	Text     string // the text it was parsed from
}

// ErrNumber is a string that is not a number the calculator reads.
var ErrNumber = errors.New("not a number")

var (
	// qtyRe finds a number with its sign, currency, percent and scale word.
	qtyRe  = regexp.MustCompile(`(?i)(\(\s*)?([-−–]\s*)?(US\$|\$|€|£)?\s?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(\s*\))?(\s*(?:%|percent\b))?(\s*(?:thousand|million|billion|trillion|bn|mn|[kmbt])\b)?`)
	scales = map[string]float64{"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12, "t": 1e12}
)

// ParseQuantity reads one number: "$1,234", "(1,234)" (a negative),
// "-5", "12.5%", "4.1 billion", "$394 million". Anything else around the
// number is an error.
func ParseQuantity(s string) (Quantity, error) {
	t := strings.TrimSpace(s)
	m := qtyRe.FindStringSubmatchIndex(t)
	if m == nil || m[0] != 0 || m[1] != len(t) {
		return Quantity{}, fmt.Errorf("%w: %q", ErrNumber, s)
	}
	q, balanced := quantityAt(t, m)
	if !balanced {
		return Quantity{}, fmt.Errorf("%w: %q (unbalanced parentheses)", ErrNumber, s)
	}
	q.Text = s
	return q, nil
}

// quantityAt builds the quantity of one qtyRe match. Parentheses around
// the number make it negative, as in financial tables; balanced is false
// when only one of them is there (then they are ignored).
func quantityAt(t string, m []int) (q Quantity, balanced bool) {
	group := func(i int) string {
		if m[2*i] < 0 {
			return ""
		}
		return t[m[2*i]:m[2*i+1]]
	}
	open, closed := group(1) != "", group(6) != ""
	balanced = open == closed
	v, _ := strconv.ParseFloat(strings.ReplaceAll(group(4), ",", "")+group(5), 64) // the pattern admits only digits
	q = Quantity{Value: v, Scale: 1, Currency: strings.TrimPrefix(group(3), "US"), Text: strings.TrimSpace(t[m[0]:m[1]])}
	if f := group(5); f != "" {
		q.Decimals = len(f) - 1
	}
	if (open && closed) || group(2) != "" {
		q.Value = -q.Value
	}
	q.Percent = group(7) != ""
	if w := strings.ToLower(strings.TrimSpace(group(8))); w != "" {
		q.Scale = scales[w]
	}
	return q, balanced
}

// FindQuantities returns the numbers written in text, in order, skipping
// dates ("June 25, 2022"), numbers glued to letters ("Q3", "10-Q", "FY23"),
// bare years (1990..2039 without currency, comma or scale) and bare
// one-digit numbers, which are rarely the figure asked about.
func FindQuantities(text string) []Quantity {
	masked := dateRe.ReplaceAllStringFunc(text, func(d string) string { return strings.Repeat(" ", len(d)) })
	var out []Quantity
	for _, m := range qtyRe.FindAllStringSubmatchIndex(masked, -1) {
		start := m[0]
		for start < m[1] && masked[start] == ' ' {
			start++
		}
		if start > 0 {
			if r := masked[start-1]; r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_' {
				continue
			}
		}
		if e := m[1]; e < len(masked) && (masked[e] >= 'a' && masked[e] <= 'z' || masked[e] >= 'A' && masked[e] <= 'Z' || masked[e] == '-') {
			continue // "10-Q", "3rd", "2x"
		}
		q, _ := quantityAt(masked, m)
		if q.Currency == "" && !q.Percent && q.Scale == 1 && !strings.Contains(q.Text, ",") && q.Decimals == 0 {
			if a := math.Abs(q.Value); a < 10 || isYear(a) {
				continue
			}
		}
		out = append(out, q)
	}
	return out
}

func isYear(v float64) bool { return v >= 1990 && v <= 2039 && v == math.Trunc(v) }

// Abs is the quantity's value in plain units (94,836 million → 9.4836e10).
func (q Quantity) Abs() float64 { return q.Value * q.norm().Scale }

// norm reads a zero Scale (a Quantity built by hand) as 1.
func (q Quantity) norm() Quantity {
	if q.Scale <= 0 {
		q.Scale = 1
	}
	return q
}

var scaleNames = map[float64][2]string{1e3: {"K", "thousand"}, 1e6: {"M", "million"}, 1e9: {"B", "billion"}, 1e12: {"T", "trillion"}}

// String writes the quantity compactly: "$94,836M", "−$22,318M", "84%",
// "1,234".
func (q Quantity) String() string { return q.format(false) }

// Long writes the quantity as a sentence would: "$82,959 million".
func (q Quantity) Long() string { return q.format(true) }

func (q Quantity) format(long bool) string {
	sign := ""
	v := q.Value
	if v < 0 {
		sign, v = "−", -v
	}
	num := groupThousands(strconv.FormatFloat(v, 'f', q.Decimals, 64))
	if q.Percent {
		return sign + num + "%"
	}
	s := sign + q.Currency + num
	if n, ok := scaleNames[q.Scale]; ok {
		if long {
			return s + " " + n[1]
		}
		return s + n[0]
	}
	return s
}

func groupThousands(s string) string {
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

// compatible reports why a and b cannot be combined, or nil.
func compatible(a, b Quantity) error {
	if a.Percent != b.Percent {
		return fmt.Errorf("cannot combine a percentage with an amount (%s, %s)", a, b)
	}
	if a.Currency != "" && b.Currency != "" && a.Currency != b.Currency {
		return fmt.Errorf("different currencies (%s, %s)", a, b)
	}
	return nil
}

// Difference is b − a, in the finer of the two scales (so $4.1B − $394M
// is $3,706M) with the larger number of decimals.
func Difference(a, b Quantity) (Quantity, error) {
	a, b = a.norm(), b.norm()
	if err := compatible(a, b); err != nil {
		return Quantity{}, err
	}
	sc := min(a.Scale, b.Scale)
	if a.Percent {
		sc = 1
	}
	// Decimals as written, in the result's scale: 4.1 billion is 4,100 million.
	dec := 0
	for _, x := range []Quantity{a, b} {
		shift := int(math.Round(math.Log10(x.Scale / sc)))
		dec = max(dec, x.Decimals-shift)
	}
	r := Quantity{Scale: sc, Currency: a.Currency, Percent: a.Percent, Decimals: dec}
	if r.Currency == "" {
		r.Currency = b.Currency
	}
	v := (b.Abs() - a.Abs()) / sc
	p := math.Pow(10, float64(dec))
	r.Value = math.Round(v*p) / p
	return r, nil
}

// PercentChange is (b − a) / |a| × 100.
func PercentChange(a, b Quantity) (float64, error) {
	if err := compatible(a, b); err != nil {
		return 0, err
	}
	if a.Value == 0 {
		return 0, errors.New("percent change from zero")
	}
	return (b.Abs() - a.Abs()) / math.Abs(a.Abs()) * 100, nil
}

// Ratio is a / b.
func Ratio(a, b Quantity) (float64, error) {
	if a.Percent != b.Percent {
		return 0, fmt.Errorf("cannot divide a percentage by an amount (%s, %s)", a, b)
	}
	if b.Value == 0 {
		return 0, errors.New("division by zero")
	}
	return a.Abs() / b.Abs(), nil
}

// signed writes a percentage with its sign and one decimal: "+18.3%", "−19.1%".
func signed(p float64, unit string) string {
	s := strconv.FormatFloat(math.Abs(p), 'f', 1, 64)
	switch {
	case s == "0.0":
		return "0.0" + unit
	case p < 0:
		return "−" + s + unit
	}
	return "+" + s + unit
}

// Op is the arithmetic a question asks for.
type Op int

// Arithmetic the calculator does.
const (
	OpNone   Op = iota
	OpChange    // b − a and the percent change
	OpRatio     // a / b
)

var (
	ratioRe  = regexp.MustCompile(`(?i)\b(ratio|divided by|times as (much|many|large))\b`)
	changeRe = regexp.MustCompile(`(?i)\b(chang(e|ed|es|ing)|grow(th|n|s|ing)?|grew|increas(e|ed|es|ing)|decreas(e|ed|es|ing)|declin(e|ed|es|ing)|rose|rise|risen|fell|fall(en)?|drop(ped)?|differ(ence|ent)?|delta|compare[ds]?|comparison|trend(ed|s)?|evolv(e|ed)|fluctuat(e|ed|es|ing|ion|ions)|var(y|ied|ies|iation)|higher|lower|percent(age)? change|vs\.?|versus)\b`)
)

// ArithmeticOp classifies question q: a ratio, a change (growth,
// difference, comparison, percentage change) or none.
func ArithmeticOp(q string) Op {
	switch {
	case ratioRe.MatchString(q):
		return OpRatio
	case changeRe.MatchString(q):
		return OpChange
	}
	return OpNone
}

// Operand is a cited number fed to the calculator.
type Operand struct {
	Name  string // what it is: a period ("Q3 2022") or a sub-question
	Value Quantity
	Cite  string // "[doc.pdf p.N]"
}

// Computation is one calculator step, kept for the answer and the
// scratchpad.
type Computation struct {
	Op     Op
	A, B   Operand
	Result Quantity // the difference (OpChange)
	Pct    float64  // percent change (OpChange) or the ratio (OpRatio)
	HasPct bool
}

// Compute applies op to the operands a (earlier, or numerator) and b.
func Compute(op Op, a, b Operand) (Computation, error) {
	c := Computation{Op: op, A: a, B: b}
	switch op {
	case OpChange:
		d, err := Difference(a.Value, b.Value)
		if err != nil {
			return c, err
		}
		c.Result = d
		if !a.Value.Percent {
			if p, err := PercentChange(a.Value, b.Value); err == nil {
				c.Pct, c.HasPct = p, true
			}
		}
	case OpRatio:
		r, err := Ratio(a.Value, b.Value)
		if err != nil {
			return c, err
		}
		c.Pct, c.HasPct = r, true
	default:
		return c, errors.New("no arithmetic asked")
	}
	return c, nil
}

// Expr is the computation as arithmetic: "$94,836M − $117,154M =
// −$22,318M (−19.1%)", "84% − 79% = 5 percentage points", "$10M ÷ $4M = 2.50".
func (c Computation) Expr() string {
	switch c.Op {
	case OpChange:
		res := c.Result.String()
		if c.Result.Value > 0 {
			res = "+" + res
		}
		s := fmt.Sprintf("%s − %s = %s", c.B.Value, c.A.Value, res)
		if c.Result.Percent {
			return strings.TrimSuffix(s, "%") + " percentage points"
		}
		if c.HasPct {
			s += " (" + signed(c.Pct, "%") + ")"
		}
		return s
	case OpRatio:
		return fmt.Sprintf("%s ÷ %s = %s", c.A.Value, c.B.Value, strconv.FormatFloat(c.Pct, 'f', 2, 64))
	}
	return ""
}

// Sentence is the computation as a cited sentence of the answer.
func (c Computation) Sentence() string {
	switch c.Op {
	case OpChange:
		return fmt.Sprintf("Change from %s %s to %s %s: %s.", c.A.Name, c.A.Cite, c.B.Name, c.B.Cite, c.Expr())
	case OpRatio:
		return fmt.Sprintf("Ratio of %s %s to %s %s: %s.", c.A.Name, c.A.Cite, c.B.Name, c.B.Cite, c.Expr())
	}
	return ""
}
