package ask

import (
	"fmt"
	"regexp"
	"strings"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

// Bounds of AskRequest.history (the contract states them).
const (
	MaxHistoryTurns     = 32
	MaxHistoryTurnBytes = 4000
	MaxHistoryBytes     = 16000
)

// checkHistory validates the earlier turns of a conversation.
func checkHistory(h []*agentsv1.Turn) error {
	if len(h) > MaxHistoryTurns {
		return fmt.Errorf("%w: history has %d turns; at most %d", ErrInvalid, len(h), MaxHistoryTurns)
	}
	total := 0
	for i, t := range h {
		switch {
		case t.GetRole() != agentsv1.TurnRole_TURN_ROLE_USER && t.GetRole() != agentsv1.TurnRole_TURN_ROLE_ASSISTANT:
			return fmt.Errorf("%w: history[%d]: role must be TURN_ROLE_USER or TURN_ROLE_ASSISTANT", ErrInvalid, i)
		case len(t.GetText()) > MaxHistoryTurnBytes:
			return fmt.Errorf("%w: history[%d] is longer than %d bytes", ErrInvalid, i, MaxHistoryTurnBytes)
		}
		total += len(t.GetText())
	}
	if total > MaxHistoryBytes {
		return fmt.Errorf("%w: history is %d bytes; at most %d in all", ErrInvalid, total, MaxHistoryBytes)
	}
	return nil
}

var (
	// followRe is the opening of a follow-up that leans on the turn before
	// it: "and in the prior quarter?", "what about services?".
	followRe = regexp.MustCompile(`(?i)^(?:and|also|but|then|so)?\s*(?:what|how)\s+about\b[\s,]*|^(?:and|also|same for|then|but)\b[\s,]*`)
	// periodPhraseRe is one period as a question writes it: "Q3 2023",
	// "the third quarter of fiscal 2023", "fiscal 2023", "2023".
	periodPhraseRe = regexp.MustCompile(`(?i)\b(?:(?:the\s+)?(?:q[1-4]|(?:first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter)(?:\s+(?:of\s+)?(?:fy|fiscal(?:\s+year)?)?\s?'?(?:(?:19|20)\d{2}|\d{2}))?|(?:fy|fiscal(?:\s+year)?)\s?'?(?:(?:19|20)\d{2}|\d{2})|(?:19|20)\d{2})\b`)
	// relativeRe is a period named relative to the one before.
	relativeRe = regexp.MustCompile(`(?i)\b(?:the\s+)?(?:prior|previous|preceding|last|year[- ]earlier|year[- ]ago)\s+(quarter|year|fiscal year)\b|\b(?:a|one)\s+(quarter|year)\s+(?:earlier|before)\b`)
)

// ResolveFollowUp rewrites q, a follow-up to the conversation in history,
// as a question that stands on its own, from the latest user turn's
// subject: "And in the prior quarter?" after "What were net sales in Q3
// 2023?" is "What were net sales in Q2 2023?". A question that opens with
// nothing that leans on the turn before (and, what about, …) and is more
// than three words, or a history with no user turn, leaves q as it is;
// changed says which.
func ResolveFollowUp(q string, history []*agentsv1.Turn) (resolved string, changed bool) {
	prior := ""
	for i := len(history) - 1; i >= 0 && prior == ""; i-- {
		if history[i].GetRole() == agentsv1.TurnRole_TURN_ROLE_USER {
			prior = strings.TrimSpace(history[i].GetText())
		}
	}
	q = strings.TrimSpace(q)
	if prior == "" {
		return q, false
	}
	loc := followRe.FindStringIndex(q)
	if loc == nil && len(strings.Fields(q)) > 3 {
		return q, false
	}
	mod := q
	if loc != nil {
		mod = q[loc[1]:]
	}
	mod = strings.TrimSpace(strings.TrimRight(mod, "?.! "))
	base := strings.TrimRight(prior, "?.! ")
	if mod == "" {
		return q, false
	}
	// A period of its own, or one relative to the prior turn's, replaces
	// the prior turn's period.
	if spans := periodPhraseRe.FindAllStringIndex(base, -1); len(spans) == 1 {
		old := base[spans[0][0]:spans[0][1]]
		var repl string
		if m := relativeRe.FindStringSubmatch(mod); m != nil {
			unit := strings.ToLower(m[1] + m[2])
			if p := Periods(old); len(p) == 1 {
				if shifted, ok := shift(p[0], unit); ok {
					repl = periodText(shifted, old)
				}
			}
		} else if own := periodPhraseRe.FindString(mod); own != "" && len(Periods(mod)) == 1 {
			repl = own
		}
		if repl != "" {
			return base[:spans[0][0]] + repl + base[spans[0][1]:] + "?", true
		}
	}
	return base + ", " + mod + "?", true
}

// shift is the period one unit ("quarter", "year", "fiscal year") before p.
func shift(p Period, unit string) (Period, bool) {
	switch {
	case unit == "quarter" && p.Quarter > 0:
		if p.Quarter == 1 {
			if p.Year == 0 {
				return Period{}, false
			}
			return Period{Quarter: 4, Year: p.Year - 1}, true
		}
		return Period{Quarter: p.Quarter - 1, Year: p.Year}, true
	case strings.HasSuffix(unit, "year") && p.Year > 0:
		return Period{Quarter: p.Quarter, Year: p.Year - 1}, true
	}
	return Period{}, false
}

var ordinals = [...]string{"", "first", "second", "third", "fourth"}

// periodText writes p as like does: "the first quarter of 2023" for a
// quarter written out in words, else "Q1 2023".
func periodText(p Period, like string) string {
	if p.Quarter == 0 || !strings.Contains(strings.ToLower(like), "quarter") {
		return p.String()
	}
	s := ordinals[p.Quarter] + " quarter"
	if strings.HasPrefix(strings.ToLower(like), "the ") {
		s = "the " + s
	}
	if p.Year > 0 {
		s += fmt.Sprintf(" of %d", p.Year)
	}
	return s
}
