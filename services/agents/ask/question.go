package ask

import (
	"context"
	"fmt"
	"strings"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

// question is one Invoke as it goes through the stages: the request, its
// run, and what each stage leaves for the next.
type question struct {
	e       *Engine
	req     *agentsv1.AskRequest
	run     *liveRun
	q       string // the question, trimmed
	agentic bool
	maxSub  int

	// plan
	plan  *agentsv1.Plan
	route Route               // the documents a fan-out plan spans
	scope map[string][]string // sub-question id → the documents it searches

	// research; subs is written by the researchers under research's lock
	subs    map[string]*agentsv1.SubAnswer
	lists   [][]*agentsv1.Evidence // evidence of each researched sub-question
	missing []string               // sub-questions that could not be researched

	// facts, answer
	facts       []line
	modelNeeded bool
	notFound    int // sub-questions whose search found no such collection
	packed      Packed
	evs         []*agentsv1.Evidence // what the answer may cite (evidence)
	answer      string
}

func newQuestion(e *Engine, req *agentsv1.AskRequest, r *liveRun) *question {
	maxSub := int(req.GetMaxSubQuestions())
	if maxSub <= 0 {
		maxSub = e.MaxSubQuestions
	}
	return &question{
		e: e, req: req, run: r, q: strings.TrimSpace(req.GetQuestion()),
		agentic: req.GetMode() != agentsv1.AskMode_ASK_MODE_SINGLE_SHOT, maxSub: maxSub,
		modelNeeded: true,
	}
}

// ask takes the question through the stages, plan → research → facts →
// answer → verify, then ends its run SUCCEEDED. A retrieval that found nothing
// fails the run; a context that ends stops it.
func (x *question) ask(ctx context.Context) error {
	x.run.note("prompts: set " + x.e.Prompts.Name())
	if q, ok := ResolveFollowUp(x.q, x.req.GetHistory()); ok {
		x.run.note(fmt.Sprintf("follow-up: %q read as %q (conversation history)", x.q, q))
		x.q = q
	}
	x.run.timed("plan", func() { x.makePlan(ctx) })
	if err := ctx.Err(); err != nil {
		return err
	}
	x.run.planned(x.plan)

	x.pending()
	x.run.timed("research", func() { x.research(ctx) })
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := x.collect(); err != nil {
		return err
	}
	if x.agentic {
		x.gatherFacts(ctx)
	}
	x.run.timed("answer", func() { x.draft(ctx) })
	if x.agentic {
		x.run.timed("verify", x.verify)
		x.stream()
	} else {
		x.cite()
	}
	return x.run.succeed(x.answer)
}

// makePlan routes by the documents' cards, else asks the planner; a
// single-shot question is one step.
func (x *question) makePlan(ctx context.Context) {
	if !x.agentic {
		x.plan = onePlan(x.q, "single-shot")
		return
	}
	r, routed := x.e.route(ctx, x.req, x.q, x.run.note)
	if routed && r.Fan && x.e.Off[StepFanOut] {
		x.run.note("fan-out: off (ablation); the planner plans")
	}
	if routed && r.Fan && !x.e.Off[StepFanOut] {
		x.route = r
		x.plan, x.scope = FanPlan(x.q, r)
		return
	}
	var notes []string
	x.plan, notes = Planner{LLM: x.e.LLM, Adapter: x.req.GetAdapter(), Timeout: x.e.PlanTimeout, Prompts: x.e.Prompts}.Plan(ctx, x.q, x.maxSub)
	x.run.note(notes...)
	if routed {
		// The question names its documents' period: every step searches them.
		x.scope = map[string][]string{}
		for _, sq := range x.plan.GetSubQuestions() {
			x.scope[sq.Id] = r.IDs()
		}
	}
}

// pending sends every step of the plan as pending.
func (x *question) pending() {
	x.subs = make(map[string]*agentsv1.SubAnswer, len(x.plan.GetSubQuestions()))
	for _, sq := range x.plan.GetSubQuestions() {
		x.subs[sq.Id] = &agentsv1.SubAnswer{SubQuestionId: sq.Id, Status: agentsv1.SubQuestionStatus_SUB_QUESTION_STATUS_PENDING}
		x.run.emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_SubAnswer{SubAnswer: x.subs[sq.Id]}})
	}
}

// collect records the researchers' answers in the run and gathers their
// evidence. It fails the run when no sub-question could be researched;
// when some could not, the run's error says which.
func (x *question) collect() error {
	var errs []string
	for _, sq := range x.plan.GetSubQuestions() {
		sa := x.subs[sq.Id]
		x.run.pb.SubAnswers = append(x.run.pb.SubAnswers, sa)
		if sa.Status == agentsv1.SubQuestionStatus_SUB_QUESTION_STATUS_FAILED {
			x.missing = append(x.missing, sq.Question)
			errs = append(errs, sq.Id+": "+sa.Error)
			continue
		}
		x.lists = append(x.lists, sa.Evidence)
	}
	if len(x.lists) == 0 && x.notFound == len(errs) {
		// the collection (or the documents asked about) is not the caller's
		return x.run.fail(ErrNotFound, "not found: "+strings.Join(errs, "; "))
	}
	if len(x.lists) == 0 {
		return x.run.fail(ErrRetrieval, "retrieval failed for every sub-question, so there is no evidence to answer from: "+strings.Join(errs, "; "))
	}
	if len(x.missing) > 0 {
		x.run.pb.Error = "partial answer; could not research: " + strings.Join(errs, "; ")
	}
	return nil
}

// gatherFacts reads the figures from the evidence, the calculator's steps
// and conflicting figures, cited and checked by construction (agentic).
func (x *question) gatherFacts(ctx context.Context) {
	if x.e.Off[StepFacts] {
		x.run.note("facts: off (ablation); the model writes the answer")
		return
	}
	x.facts, x.modelNeeded = x.e.facts(ctx, x.req, x.q, x.plan, x.route, x.subs, x.run.note)
	x.lists = x.lists[:0] // the facts may have searched again
	for _, sq := range x.plan.GetSubQuestions() {
		if sa := x.subs[sq.Id]; sa.GetStatus() != agentsv1.SubQuestionStatus_SUB_QUESTION_STATUS_FAILED {
			x.lists = append(x.lists, sa.GetEvidence())
		}
	}
}

// draft packs the evidence into the context and has the answerer write the
// answer (single-shot: streamed as it is written), or, when the model is
// unavailable, composes an extractive one. No model is called when the
// facts answer the question.
func (x *question) draft(ctx context.Context) {
	x.pack(ctx)
	if !x.modelNeeded {
		x.run.note("answerer: the figures answer the question; no model call")
		return
	}
	backbone := Backbone(x.plan, x.packed.Evidence, x.e.BackboneMax)
	for _, b := range backbone {
		x.run.note("backbone: " + b.Text + " " + b.Label)
	}
	var live func(string)
	if !x.agentic {
		live = x.run.delta
	}
	pages := x.e.pageImages(ctx, x.req.GetCollection(), x.packed.Evidence, x.run.note)
	draft, err := Answerer{LLM: x.e.LLM, Adapter: x.req.GetAdapter(), Timeout: x.e.AnswerTimeout, MaxTokens: x.e.AnswerTokens, Pages: pages, Prompts: x.e.Prompts}.
		Draft(ctx, x.q, x.packed.Evidence, x.missing, live)
	if err != nil {
		x.run.note("answerer: model unavailable, extractive answer: " + err.Error())
		x.run.pb.Degraded = true
		if len(backbone) == 0 {
			// no sentence scored high enough to be required: the best
			// sentences of the best evidence, cited, beat no answer
			backbone = CiteableExtracts(x.q, x.packed.Evidence, 2)
		}
		x.answer = Extractive(backbone)
		if live != nil {
			live(x.answer)
		}
	} else {
		x.run.note("answerer draft: " + draft)
		kept, dropped := DropOffPeriod(x.q, draft, len(backbone) > 0)
		for _, d := range dropped {
			x.run.note("answerer: dropped a sentence about another period than asked: " + d)
		}
		if len(backbone) == 0 && !labelRe.MatchString(kept) {
			// a draft without a citation: add the best evidence sentence,
			// cited, so every answer points at its source
			backbone = CiteableExtracts(x.q, x.packed.Evidence, 1)
		}
		x.answer = Compose(kept, backbone)
		var steered []string
		if x.answer, steered = dropSteered(x.answer, x.q, x.packed.Evidence); len(steered) > 0 {
			for _, d := range steered {
				x.run.note("answerer: dropped a sentence taken from text in the documents addressed to an assistant: " + d)
			}
			if !labelRe.MatchString(x.answer) {
				x.answer = Compose(x.answer, CiteableExtracts(x.q, x.packed.Evidence, 1))
			}
		}
		if live != nil && strings.HasPrefix(x.answer, draft) && len(x.answer) > len(draft) {
			live(x.answer[len(draft):])
		}
	}
	if len(x.missing) > 0 {
		x.answer += " Not found in the documents: " + strings.Join(x.missing, "; ") + "."
	}
}

// pack fits the best evidence into the answerer's context: a fan-out gives
// each document its share, in period order.
func (x *question) pack(ctx context.Context) {
	overhead, _ := Prompt(x.e.Prompts, nil, x.missing)
	pk := Packer{LLM: x.e.LLM, AnswerTokens: x.e.AnswerTokens, DefaultWindow: x.e.DefaultWindow, MaxPassages: x.e.MaxPassages}
	n := 0
	if x.route.Fan {
		x.packed = pk.PackFair(ctx, x.lists, overhead+"\n"+x.q)
		for _, l := range x.lists {
			n += len(l)
		}
	} else {
		all := Interleave(x.lists)
		n = len(all)
		x.packed = pk.Pack(ctx, all, overhead+"\n"+x.q)
		x.packed.Evidence = ByBestExtract(x.q, x.packed.Evidence)
	}
	x.run.note(fmt.Sprintf("packer: %d of %d passages, %d/%d tokens (exact=%v)", len(x.packed.Evidence), n, x.packed.Tokens, x.packed.Budget, x.packed.Exact))
	for _, ev := range x.packed.Evidence {
		x.run.pb.Passages = append(x.run.pb.Passages, ev.GetPassage())
	}
}

// evidence is every piece of evidence the answer may cite: the packed
// passages, then each sub-question's.
func (x *question) evidence() []*agentsv1.Evidence {
	if x.evs == nil {
		x.evs = x.packed.Evidence
		for _, l := range x.lists {
			x.evs = append(x.evs, l...)
		}
	}
	return x.evs
}

// verify keeps the answer's claims the evidence supports, cited, and adds
// the facts (agentic). An answer left empty falls back to the backbone.
func (x *question) verify() {
	evs := x.evidence()
	var cites []*agentsv1.Citation
	var v *agentsv1.Verification
	if x.modelNeeded {
		var kept string
		kept, cites, v = Verify(x.answer, evs)
		for _, c := range v.GetClaims() {
			x.run.note(fmt.Sprintf("verifier: %s: %s", strings.TrimPrefix(c.Verdict.String(), "VERDICT_"), c.Claim))
		}
		if strings.TrimSpace(kept) == "" && len(x.facts) == 0 {
			kept = Extractive(Backbone(x.plan, x.packed.Evidence, x.e.BackboneMax))
			kept, cites, v = Verify(kept, evs)
		}
		x.answer = kept
	}
	x.answer, cites, v = withFacts(x.answer, cites, v, x.facts)
	if !x.modelNeeded && len(x.missing) > 0 {
		x.answer += "\nNot found in the documents: " + strings.Join(x.missing, "; ") + "."
	}
	x.run.pb.Citations, x.run.pb.Verification = cites, v
}

// stream ends the verified answer with its documents and streams it
// (agentic).
func (x *question) stream() {
	if pv := Provenance(x.run.pb.Citations, x.evidence()); pv != "" {
		x.answer += "\n" + pv
	}
	for _, d := range deltas(x.answer) {
		x.run.delta(d)
	}
}

// cite finds the citations of the streamed single-shot answer, removing
// nothing. An answer whose claims match no evidence gets the best evidence
// sentence, cited; the answer then ends with its documents. What it adds
// is streamed too.
func (x *question) cite() {
	evs := x.evidence()
	_, x.run.pb.Citations, _ = Verify(x.answer, evs)
	if len(x.run.pb.Citations) == 0 {
		// no sentence of the draft matches its source: the best
		// evidence sentence, cited, so every answer points at a page
		if more := citeBest(x.q, x.packed.Evidence); more != "" {
			x.answer += " " + more
			x.run.delta(" " + more)
			_, x.run.pb.Citations, _ = Verify(x.answer, evs)
		}
	}
	if pv := Provenance(x.run.pb.Citations, evs); pv != "" {
		x.answer += "\n" + pv
		x.run.delta("\n" + pv)
	}
}
