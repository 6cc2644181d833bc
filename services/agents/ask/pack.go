package ask

import (
	"context"
	"sync"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

// Packer fits evidence into the model's context window by exact token count.
type Packer struct {
	LLM LLM
	// AnswerTokens is the room kept for the answer.
	AnswerTokens int
	// DefaultWindow is used when the model does not report its window.
	DefaultWindow int
	// MaxPassages caps the packed evidence however large the window.
	MaxPassages int
}

// Packed is the evidence chosen for the answerer, best first.
type Packed struct {
	Evidence []*agentsv1.Evidence
	Tokens   int
	Budget   int
	Exact    bool // false when counts fell back to the chars/4 estimate
}

// Interleave orders evidence best first across sub-questions (rank 1 of
// each, then rank 2, ...), dropping repeated chunks and near-duplicate text.
func Interleave(lists [][]*agentsv1.Evidence) []*agentsv1.Evidence {
	var out []*agentsv1.Evidence
	seen := map[string]bool{}
	var kept []map[string]bool
	for rank := 0; ; rank++ {
		more := false
		for _, l := range lists {
			if rank >= len(l) {
				continue
			}
			more = true
			ev := l[rank]
			p := ev.GetPassage()
			key := p.GetChunkId()
			if key == "" {
				key = p.GetDocumentId() + "\x00" + p.GetText()
			}
			if seen[key] {
				continue
			}
			t := terms(p.GetText())
			dup := false
			for _, k := range kept {
				if jaccard(t, k) > 0.85 {
					dup = true
					break
				}
			}
			if dup {
				continue
			}
			seen[key] = true
			kept = append(kept, t)
			out = append(out, ev)
		}
		if !more {
			return out
		}
	}
}

// Pack keeps evidence in order while it fits window − answer room − the
// prompt around it (overhead: the rendered prompt without evidence).
func (pk Packer) Pack(ctx context.Context, evs []*agentsv1.Evidence, overhead string) Packed {
	counts, res := pk.budget(ctx, evs, overhead)
	budget := res.Budget
	for i, ev := range evs {
		if pk.MaxPassages > 0 && len(res.Evidence) >= pk.MaxPassages {
			break
		}
		c := counts[i+1]
		if res.Tokens+c > budget {
			continue // a shorter, lower-ranked passage may still fit
		}
		res.Tokens += c
		res.Evidence = append(res.Evidence, ev)
	}
	return res
}

// budget counts the tokens of the prompt around the evidence (counts[0])
// and of each passage as rendered (counts[i+1]), and returns an empty
// Packed holding the budget left for evidence.
func (pk Packer) budget(ctx context.Context, evs []*agentsv1.Evidence, overhead string) ([]int, Packed) {
	texts := make([]string, len(evs))
	for i, ev := range evs {
		texts[i] = Label(ev.GetPassage()) + " " + ev.GetPassage().GetText() + "\n"
	}
	counts, window, exact := pk.count(ctx, append([]string{overhead}, texts...))
	if window <= 0 {
		window = pk.DefaultWindow
	}
	return counts, Packed{Budget: window - pk.AnswerTokens - counts[0], Exact: exact}
}

// count asks the model for every text's token count in parallel, falling
// back to len/4 for all texts if any count fails (mixing would skew budgets).
func (pk Packer) count(ctx context.Context, texts []string) ([]int, int, bool) {
	counts := make([]int, len(texts))
	window := 0
	exact := pk.LLM != nil
	if exact {
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, 4)
		for i, t := range texts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				n, w, err := pk.LLM.CountTokens(ctx, t)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					exact = false
					return
				}
				counts[i] = n
				if w > 0 {
					window = w
				}
			}()
		}
		wg.Wait()
	}
	if !exact {
		for i, t := range texts {
			counts[i] = len(t)/4 + 1
		}
	}
	return counts, window, exact
}

// PackFair packs evidence lists (one per document of a fan-out, in period
// order) so that each list gets an equal share of the token budget and of
// the passages (at least one passage each, however small MaxPassages);
// what a list leaves unused goes to the others, round robin by rank. The
// result keeps the lists' order, each list best first, so the answerer
// reads the periods in order.
func (pk Packer) PackFair(ctx context.Context, lists [][]*agentsv1.Evidence, overhead string) Packed {
	kept := map[*agentsv1.Evidence]bool{}
	for _, ev := range Interleave(lists) {
		kept[ev] = true
	}
	var flat []*agentsv1.Evidence
	groups := make([][]int, len(lists)) // indexes into flat
	for g, l := range lists {
		for _, ev := range l {
			if kept[ev] {
				kept[ev] = false // once, in its first list
				groups[g] = append(groups[g], len(flat))
				flat = append(flat, ev)
			}
		}
	}
	counts, res := pk.budget(ctx, flat, overhead)
	budget := res.Budget
	if len(lists) == 0 {
		return res
	}
	maxP := pk.MaxPassages
	if maxP <= 0 {
		maxP = len(flat)
	}
	maxP = max(maxP, len(lists))
	share, pshare := budget/len(lists), max(1, maxP/len(lists))
	take := make([]bool, len(flat))
	n := 0
	for _, g := range groups {
		used, got := 0, 0
		for _, i := range g {
			if got >= pshare {
				break
			}
			if c := counts[i+1]; used+c <= share {
				take[i], used, got = true, used+c, got+1
				res.Tokens += c
				n++
			}
		}
	}
	for rank := 0; n < maxP; rank++ {
		more := false
		for _, g := range groups {
			if rank >= len(g) {
				continue
			}
			more = true
			i := g[rank]
			if take[i] || n >= maxP {
				continue
			}
			if c := counts[i+1]; res.Tokens+c <= budget {
				take[i] = true
				res.Tokens += c
				n++
			}
		}
		if !more {
			break
		}
	}
	for _, g := range groups {
		for _, i := range g {
			if take[i] {
				res.Evidence = append(res.Evidence, flat[i])
			}
		}
	}
	return res
}
