package ask

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/services/agents/prompts"
)

// Answerer writes the answer from packed evidence.
type Answerer struct {
	LLM       LLM
	Adapter   string
	Timeout   time.Duration
	MaxTokens int
	// Pages are page images sent with the question (vision models only).
	Pages []PageImage
	// Prompts is the prompt set (nil: the default).
	Prompts *prompts.Set
}

type labelled struct{ Label, Text string }

// Prompt renders what the answerer sends besides the question, for prompt
// set ps (nil: the default) and the packed evidence: its system message
// (instructions only) and, after a newline, its user message with the
// delimited evidence and an empty question. The packer counts its tokens.
func Prompt(ps *prompts.Set, evs []*agentsv1.Evidence, missing []string) (string, error) {
	msgs, err := answerMessages(ps, "", evs, missing, nil)
	if err != nil {
		return "", err
	}
	return msgs[0].Content + "\n" + msgs[1].Content, nil
}

// answerMessages renders the answerer's two messages. The system message
// holds the set's instructions only (answerer.tmpl renders no evidence);
// whatever came from the documents (passages, their labels and so file
// names, the page images' labels) and the question go in the user message
// (answerer-user.tmpl) between <documents> and </documents>, one passage a
// line, each defused so that it cannot close the delimiters. A PDF that says
// "ignore your instructions" is thus quoted data in the user turn, never
// part of the instructions.
func answerMessages(ps *prompts.Set, q string, evs []*agentsv1.Evidence, missing, pages []string) ([]Message, error) {
	var items []labelled
	for _, ev := range evs {
		items = append(items, labelled{quoted(Label(ev.GetPassage())), quoted(defuseSteering(ev.GetPassage().GetText()))})
	}
	sys, err := ps.Render("answerer.tmpl", nil)
	if err != nil {
		return nil, err
	}
	for i := range pages {
		pages[i] = quoted(pages[i])
	}
	user, err := ps.Render("answerer-user.tmpl", map[string]any{"Evidence": items, "Missing": quotedAll(missing), "Pages": pages, "Question": quoted(q)})
	if err != nil {
		return nil, err
	}
	return []Message{{Role: System, Content: sys}, {Role: User, Content: user}}, nil
}

// delimiterRe matches the answerer's delimiter tags, opening or closing.
var delimiterRe = regexp.MustCompile(`(?i)<\s*/?\s*(documents|question)\b`)

// quoted is s as one line with the delimiter tags defused ("<" becomes
// "‹"), so that a passage cannot end the documents block or open a
// question of its own.
func quoted(s string) string {
	return delimiterRe.ReplaceAllStringFunc(strings.Join(strings.Fields(s), " "), func(m string) string { return "‹" + m[1:] })
}

func quotedAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quoted(s)
	}
	return out
}

// Draft asks the model for a short cited answer, streaming its text to onDelta.
// Page images, if any, go with the question (the user message).
func (a Answerer) Draft(ctx context.Context, q string, evs []*agentsv1.Evidence, missing []string, onDelta func(string)) (string, error) {
	var labels []string
	var images []Image
	for _, p := range a.Pages {
		labels = append(labels, p.Label)
		images = append(images, p.Image)
	}
	msgs, err := answerMessages(a.Prompts, q, evs, missing, labels)
	if err != nil {
		return "", err
	}
	msgs[1].Images = images
	out, err := a.LLM.Generate(ctx, GenerateRequest{
		Messages:  msgs,
		MaxTokens: a.MaxTokens, Adapter: a.Adapter, Timeout: a.Timeout, Stop: []string{"\n\n", "Example question:", "Example evidence:"},
	}, onDelta)
	return strings.TrimSpace(out), err
}

// Backbone picks the evidence sentences that must appear in the answer so
// that the figures asked about survive a weak model: the best extract of
// each sub-question, and a runner-up when the question wants a number and
// the runner-up writes an amount or a rate and scores close to the best.
func Backbone(plan *agentsv1.Plan, evs []*agentsv1.Evidence, max int) []Extract {
	var out []Extract
	seen := map[string]bool{}
	for _, sq := range plan.GetSubQuestions() {
		var mine []*agentsv1.Evidence
		for _, ev := range evs {
			if ev.GetSubQuestionId() == sq.GetId() {
				mine = append(mine, ev)
			}
		}
		best := BestExtracts(sq.GetQuestion(), mine, 2)
		for i, x := range best {
			if i == 1 && !(wantsNumber(sq.GetQuestion()) && hasMeasure(x.Text) && x.Score >= 0.75*best[0].Score) {
				break
			}
			if x.Score < 0.3 || seen[x.Text] {
				continue
			}
			seen[x.Text] = true
			out = append(out, x)
		}
	}
	if len(out) > max {
		out = out[:max]
	}
	return out
}

var (
	declineRe = regexp.MustCompile(`(?i)\b(do|does|did) not (say|mention|contain|provide|state)|no (information|evidence)\b`)
	labelRe   = citationRe
)

// Compose joins the model's sentences with the backbone sentences whose
// figures the model left out, each with its citation.
func Compose(draft string, backbone []Extract) string {
	var parts []string
	for _, c := range SplitClaims(draft) {
		if len(backbone) > 0 && declineRe.MatchString(c) {
			continue // the evidence does answer; drop the model's refusal
		}
		parts = append(parts, c)
	}
	have := strings.Join(parts, " ")
	haveNums := numbers(have)
	for _, x := range backbone {
		nums := numbers(x.Text)
		missing := len(nums) == 0 && !strings.Contains(have, x.Text)
		for n := range nums {
			if !haveNums[n] {
				missing = true
			}
		}
		if !missing {
			continue
		}
		s := strings.TrimSpace(x.Text)
		if !strings.HasSuffix(s, ".") {
			s += "."
		}
		parts = append(parts, strings.TrimSuffix(s, ".")+" "+x.Label+".")
		for n := range nums {
			haveNums[n] = true
		}
	}
	return strings.Join(parts, " ")
}

// SplitClaims splits an answer into sentences, keeping each sentence's
// citation labels with it (labels may themselves contain ". ").
func SplitClaims(text string) []string {
	labels := labelRe.FindAllString(text, -1)
	masked := text
	for i, l := range labels {
		masked = strings.Replace(masked, l, fmt.Sprintf("\x00%d\x00", i), 1)
	}
	// A label followed by a capital starts a new sentence even without a period.
	masked = regexp.MustCompile("(\x00\\d+\x00)\\s+([A-Z])").ReplaceAllString(masked, "$1. $2")
	var out []string
	for _, u := range units(masked) {
		for i, l := range labels {
			u = strings.Replace(u, fmt.Sprintf("\x00%d\x00", i), l, 1)
		}
		u = strings.TrimSpace(u)
		if strings.Trim(u, ". ") != "" {
			out = append(out, u)
		}
	}
	return out
}

// citeBest is the best sentence of evs for question q with its citation
// ("" when the evidence has no sentence).
func citeBest(q string, evs []*agentsv1.Evidence) string {
	best := CiteableExtracts(q, evs, 1)
	if len(best) == 0 {
		return ""
	}
	return strings.TrimSuffix(strings.TrimSpace(best[0].Text), ".") + " " + best[0].Label + "."
}

// Extractive is the answer built without the model: the backbone sentences.
func Extractive(backbone []Extract) string {
	if len(backbone) == 0 {
		return "The documents found do not answer this question."
	}
	return Compose("", backbone)
}

// ByBestExtract orders evidence by how well its best sentence answers q
// (stable: ties keep the retrieval order), so that the answerer reads the
// passage holding the answer first rather than wherever search ranked it.
func ByBestExtract(q string, evs []*agentsv1.Evidence) []*agentsv1.Evidence {
	score := make(map[*agentsv1.Evidence]float64, len(evs))
	for _, ev := range evs {
		if best := BestExtracts(q, []*agentsv1.Evidence{ev}, 1); len(best) > 0 {
			score[ev] = best[0].Score
		}
	}
	out := append([]*agentsv1.Evidence(nil), evs...)
	sort.SliceStable(out, func(i, j int) bool { return score[out[i]] > score[out[j]] })
	return out
}

// DropOffPeriod removes the draft's sentences about another period than
// the question names (a target for fiscal 2029 when the question asks
// about Q1 fiscal 2023), when there is a backbone to answer instead.
func DropOffPeriod(q, draft string, haveBackbone bool) (string, []string) {
	if !haveBackbone {
		return draft, nil
	}
	qi := newQuery(q)
	var kept, dropped []string
	for _, c := range SplitClaims(draft) {
		if qi.offPeriod(labelRe.ReplaceAllString(c, "")) {
			dropped = append(dropped, c)
			continue
		}
		kept = append(kept, c)
	}
	if len(dropped) == 0 {
		return draft, nil
	}
	return strings.Join(kept, " "), dropped
}
