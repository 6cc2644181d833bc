package ask

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/services/agents/prompts"
)

// Plan sources recorded in agentsv1.Plan.Source.
const (
	SourceModel     = "model"
	SourceHeuristic = "heuristic"
	SourceSimple    = "simple"
)

const planSchema = `{"type":"object","properties":{"sub_questions":{"type":"array","minItems":1,"maxItems":%d,"items":{"type":"object","properties":{"id":{"type":"string"},"question":{"type":"string"},"depends_on":{"type":"array","items":{"type":"string"}}},"required":["id","question","depends_on"]}}},"required":["sub_questions"]}`

var (
	compareRe = regexp.MustCompile(`(?i)\b(compare|compared|versus|vs\.?|difference between|differ|both)\b`)
	// " and " followed by a new clause (a question word or auxiliary) joins two questions.
	clauseAndRe = regexp.MustCompile(`(?i)\s+(?:and|also|as well as)\s+(?:how|what|which|who|when|where|why|did|does|do|is|was|were|are)\b`)
)

// IsSimple decides, without a model, whether q asks one thing: one question
// mark at most, no comparison and no second clause.
func IsSimple(q string) bool {
	if strings.Count(q, "?") > 1 {
		return false
	}
	return !compareRe.MatchString(q) && !clauseAndRe.MatchString(q)
}

// Planner decomposes a question into sub-questions.
type Planner struct {
	LLM     LLM
	Adapter string
	Timeout time.Duration
	Prompts *prompts.Set // nil: the default set
}

// Plan returns a validated plan and notes for the scratchpad. It never
// fails: simple questions skip the model, malformed output gets one repair
// turn, and anything still wrong falls back to the heuristic plan.
func (p Planner) Plan(ctx context.Context, q string, max int) (*agentsv1.Plan, []string) {
	if IsSimple(q) {
		return onePlan(q, SourceSimple), []string{"planner: simple question, one step (no model call)"}
	}
	var notes []string
	if p.LLM != nil {
		sys, err := p.Prompts.Render("planner.tmpl", map[string]any{"Max": max})
		if err == nil {
			msgs := []Message{{Role: System, Content: sys}, {Role: User, Content: q}}
			for attempt := 0; attempt < 2; attempt++ {
				out, err := p.LLM.Generate(ctx, GenerateRequest{
					Messages: msgs, MaxTokens: 96 * max, JSONSchema: fmt.Sprintf(planSchema, max),
					Adapter: p.Adapter, Timeout: p.Timeout,
				}, nil)
				if err != nil {
					notes = append(notes, "planner: model unavailable: "+err.Error())
					break
				}
				plan, verr := ParsePlan(out, max)
				if verr == nil {
					notes = append(notes, "planner: model plan: "+out)
					return plan, notes
				}
				notes = append(notes, fmt.Sprintf("planner: attempt %d rejected (%v): %s", attempt+1, verr, truncate(out, 300)))
				repair, rerr := p.Prompts.Render("repair.tmpl", map[string]any{"Error": verr.Error(), "Question": q})
				if rerr != nil {
					break
				}
				msgs = append(msgs, Message{Role: Assistant, Content: out}, Message{Role: User, Content: repair})
			}
		}
	}
	notes = append(notes, "planner: heuristic plan")
	return HeuristicPlan(q, max), notes
}

func onePlan(q, source string) *agentsv1.Plan {
	return &agentsv1.Plan{Source: source, SubQuestions: []*agentsv1.SubQuestion{{Id: "q1", Question: q}}}
}

// ParsePlan validates the planner's JSON: at least one sub-question, unique
// non-empty ids and questions, dependencies on known ids and no cycles.
// Extra sub-questions beyond max are dropped with their dependents' links.
func ParsePlan(s string, max int) (*agentsv1.Plan, error) {
	var raw struct {
		SubQuestions []struct {
			ID        string   `json:"id"`
			Question  string   `json:"question"`
			DependsOn []string `json:"depends_on"`
		} `json:"sub_questions"`
	}
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "{"); i > 0 {
		s = s[i:]
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if len(raw.SubQuestions) == 0 {
		return nil, errors.New("no sub_questions")
	}
	truncated := len(raw.SubQuestions) > max
	if truncated {
		raw.SubQuestions = raw.SubQuestions[:max]
	}
	plan := &agentsv1.Plan{Source: SourceModel}
	ids := map[string]bool{}
	seenQ := map[string]bool{}
	for i, sq := range raw.SubQuestions {
		id, text := strings.TrimSpace(sq.ID), strings.TrimSpace(sq.Question)
		if id == "" {
			id = fmt.Sprintf("q%d", i+1)
		}
		if ids[id] {
			return nil, fmt.Errorf("duplicate id %q", id)
		}
		if len(strings.Fields(text)) < 2 {
			return nil, fmt.Errorf("sub-question %q is empty or too short", id)
		}
		if seenQ[strings.ToLower(text)] {
			return nil, fmt.Errorf("sub-question %q repeats another", id)
		}
		ids[id], seenQ[strings.ToLower(text)] = true, true
		plan.SubQuestions = append(plan.SubQuestions, &agentsv1.SubQuestion{Id: id, Question: text, DependsOn: sq.DependsOn})
	}
	for _, sq := range plan.SubQuestions {
		var deps []string
		for _, d := range sq.DependsOn {
			if d == sq.Id {
				return nil, fmt.Errorf("%s depends on itself", sq.Id)
			}
			if ids[d] {
				deps = append(deps, d)
			} else if !truncated {
				return nil, fmt.Errorf("%s depends on unknown id %q", sq.Id, d)
			}
		}
		sq.DependsOn = deps
	}
	if _, err := order(plan); err != nil {
		return nil, err
	}
	return plan, nil
}

// order returns the sub-questions in dependency order, or an error on a cycle.
func order(plan *agentsv1.Plan) ([]*agentsv1.SubQuestion, error) {
	done := map[string]bool{}
	var out []*agentsv1.SubQuestion
	for len(out) < len(plan.SubQuestions) {
		progressed := false
		for _, sq := range plan.SubQuestions {
			if done[sq.Id] {
				continue
			}
			ready := true
			for _, d := range sq.DependsOn {
				ready = ready && done[d]
			}
			if ready {
				done[sq.Id] = true
				out = append(out, sq)
				progressed = true
			}
		}
		if !progressed {
			return nil, errors.New("depends_on has a cycle")
		}
	}
	return out, nil
}

var (
	qSplitRe   = regexp.MustCompile(`\?\s*`)
	compareAB  = regexp.MustCompile(`(?i)^\s*(?:compare|contrast)\s+(.+?)\s+(?:with|to|and|against|versus|vs\.?)\s+(.+?)\s*\??$`)
	betweenAB  = regexp.MustCompile(`(?i)^(.*?)\bdifference between\s+(.+?)\s+and\s+(.+?)\s*\??$`)
	contextTag = regexp.MustCompile(`(?i)\b(?:in|for|during|of)\s+(?:fiscal\s+)?(?:q[1-4]|fy|20\d\d|the)\b.*$`)
)

// HeuristicPlan splits q without a model: several questions marks, "compare
// A with B", "difference between A and B", or a second clause after "and".
func HeuristicPlan(q string, max int) *agentsv1.Plan {
	var parts []string
	switch {
	case strings.Count(q, "?") > 1:
		for _, s := range qSplitRe.Split(q, -1) {
			if s = strings.TrimSpace(s); s != "" {
				parts = append(parts, s+"?")
			}
		}
	case compareAB.MatchString(q):
		m := compareAB.FindStringSubmatch(q)
		a, b := m[1], m[2]
		// "compare X in 2022 with 2023": the second half inherits the subject.
		if len(strings.Fields(b)) <= 3 {
			if ctx := contextTag.FindStringIndex(a); ctx != nil {
				b = strings.TrimSpace(a[:ctx[0]]) + " in " + b
			}
		}
		parts = []string{"What was " + a + "?", "What was " + b + "?"}
	case betweenAB.MatchString(q):
		m := betweenAB.FindStringSubmatch(q)
		parts = []string{strings.TrimSpace(m[2]) + "?", strings.TrimSpace(m[3]) + "?"}
	case clauseAndRe.MatchString(q):
		loc := clauseAndRe.FindStringIndex(q)
		first := strings.TrimSpace(q[:loc[0]])
		second := strings.TrimSpace(q[loc[0]:])
		second = strings.TrimSpace(regexp.MustCompile(`(?i)^(and|also|as well as)\s+`).ReplaceAllString(second, ""))
		parts = []string{strings.TrimSuffix(first, "?") + "?", second}
	}
	if len(parts) < 2 {
		return onePlan(q, SourceHeuristic)
	}
	if len(parts) > max {
		parts = parts[:max]
	}
	plan := &agentsv1.Plan{Source: SourceHeuristic}
	for i, p := range parts {
		plan.SubQuestions = append(plan.SubQuestions, &agentsv1.SubQuestion{Id: fmt.Sprintf("q%d", i+1), Question: p})
	}
	return plan
}
