package ask

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/services/agents/prompts"
)

// Engine runs questions through the agents.
type Engine struct {
	LLM    LLM
	Search Searcher

	Concurrency     int // researchers in parallel (default 3)
	TopK            int // passages per sub-question (default 10)
	MaxSubQuestions int // default 4
	AnswerTokens    int // default 160
	DefaultWindow   int // context window when the model reports none (default 2048)
	MaxPassages     int // packed passages at most (default 10)
	BackboneMax     int // evidence sentences forced into the answer (default 3)
	PlanTimeout     time.Duration
	AnswerTimeout   time.Duration
	SearchTimeout   time.Duration

	// Vision: when the model accepts images (LLM implements VisionLLM and
	// says so), the answerer is sent the rendered pages of the best evidence
	// passages from tables or OCR'd pages, at most MaxImages of them
	// (default 2; negative: never). Pages renders them (default: Search,
	// when it implements PageRenderer), each under RenderTimeout (default
	// 10s); a page that fails to render is logged to Log and left out.
	MaxImages     int
	RenderTimeout time.Duration
	Pages         PageRenderer
	Log           *slog.Logger

	// Documents lists the collection's documents with their cards, for
	// routing questions over several periods or documents (default: Search,
	// when it implements DocumentLister; else the cards of a first search).
	// A question over several periods fans out to at most MaxFanOut
	// documents (default 8), one sub-question each.
	Documents DocumentLister
	MaxFanOut int
	// Prompts is the prompt set (nil: the default set).
	Prompts *prompts.Set
}

// With returns a copy of the engine that uses prompt set ps.
func (e *Engine) With(ps *prompts.Set) *Engine {
	c := *e
	c.Prompts = ps
	return &c
}

func (e *Engine) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&e.Concurrency, 3)
	def(&e.TopK, 10)
	def(&e.MaxSubQuestions, 4)
	def(&e.AnswerTokens, 160)
	def(&e.DefaultWindow, 2048)
	def(&e.MaxPassages, 10)
	def(&e.BackboneMax, 3)
	def(&e.MaxFanOut, 8)
	if e.Documents == nil {
		e.Documents, _ = e.Search.(DocumentLister)
	}
	if e.MaxImages == 0 {
		e.MaxImages = 2
	}
	deft := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	deft(&e.PlanTimeout, 60*time.Second)
	deft(&e.AnswerTimeout, 120*time.Second)
	deft(&e.SearchTimeout, 30*time.Second)
	deft(&e.RenderTimeout, 10*time.Second)
}

// Sink receives a run's events and checkpoints.
type Sink struct {
	Emit func(*agentsv1.AskResponse) error
	Save func(*agentsv1.Run)
}

// Validate checks an AskRequest.
func Validate(req *agentsv1.AskRequest) error {
	switch {
	case strings.TrimSpace(req.GetCollection()) == "":
		return fmt.Errorf("%w: collection is required", ErrInvalid)
	case strings.TrimSpace(req.GetQuestion()) == "":
		return fmt.Errorf("%w: question is required", ErrInvalid)
	case len(req.GetQuestion()) > 4000:
		return fmt.Errorf("%w: question is longer than 4000 bytes", ErrInvalid)
	case req.GetMaxSubQuestions() < 0 || req.GetMaxSubQuestions() > 8:
		return fmt.Errorf("%w: max_sub_questions must be 0..8", ErrInvalid)
	}
	return nil
}

// Invoke answers req, filling run (already RUNNING, with id and create
// time) as it goes. It returns an error wrapping ErrRetrieval when no
// evidence could be searched (run FAILED), or the context's error.
func (e *Engine) Invoke(ctx context.Context, req *agentsv1.AskRequest, run *agentsv1.Run, sink Sink) error {
	c := *e // defaults are set per call: one engine serves concurrent runs
	e = &c
	e.defaults()
	var mu sync.Mutex
	var emitErr error
	emit := func(ev *agentsv1.AskResponse) {
		ev.RunId = run.GetId()
		mu.Lock()
		defer mu.Unlock()
		if emitErr == nil && sink.Emit != nil {
			emitErr = sink.Emit(ev)
		}
	}
	save := func() {
		if sink.Save != nil {
			mu.Lock()
			defer mu.Unlock()
			sink.Save(run)
		}
	}
	var pad []string
	note := func(s ...string) { mu.Lock(); pad = append(pad, s...); mu.Unlock() }
	timed := func(stage string, f func()) {
		t := time.Now()
		f()
		mu.Lock()
		run.Timings = append(run.Timings, &agentsv1.StageTiming{Stage: stage, Ms: float64(time.Since(t).Microseconds()) / 1000})
		mu.Unlock()
	}
	finish := func(status agentsv1.RunStatus) {
		run.Status = status
		run.FinishTime = timestamppb.Now()
		if req.GetIncludeScratchpad() {
			run.Scratchpad = strings.Join(pad, "\n")
		}
	}
	q := strings.TrimSpace(req.GetQuestion())
	note("prompts: set " + e.Prompts.Name())
	agentic := req.GetMode() != agentsv1.AskMode_ASK_MODE_SINGLE_SHOT
	maxSub := int(req.GetMaxSubQuestions())
	if maxSub <= 0 {
		maxSub = e.MaxSubQuestions
	}

	// Plan: route by the documents' cards, else the planner.
	var plan *agentsv1.Plan
	var route Route
	var scope map[string][]string
	timed("plan", func() {
		if !agentic {
			plan = onePlan(q, "single-shot")
			return
		}
		r, routed := e.route(ctx, req, q, note)
		if routed && r.Fan {
			route = r
			plan, scope = FanPlan(q, r)
			return
		}
		var notes []string
		plan, notes = Planner{LLM: e.LLM, Adapter: req.GetAdapter(), Timeout: e.PlanTimeout, Prompts: e.Prompts}.Plan(ctx, q, maxSub)
		note(notes...)
		if routed {
			// The question names its documents' period: every step searches them.
			scope = map[string][]string{}
			for _, sq := range plan.GetSubQuestions() {
				scope[sq.Id] = r.IDs()
			}
		}
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	run.Plan = plan
	emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_Plan{Plan: plan}})
	save()

	// Research, respecting depends_on, at most Concurrency at a time.
	subs := make(map[string]*agentsv1.SubAnswer, len(plan.GetSubQuestions()))
	for _, sq := range plan.GetSubQuestions() {
		subs[sq.Id] = &agentsv1.SubAnswer{SubQuestionId: sq.Id, Status: agentsv1.SubQuestionStatus_SUB_QUESTION_STATUS_PENDING}
		emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_SubAnswer{SubAnswer: subs[sq.Id]}})
	}
	timed("research", func() { e.research(ctx, req, plan, scope, subs, emit, note, &mu) })
	if err := ctx.Err(); err != nil {
		return err
	}
	var lists [][]*agentsv1.Evidence
	var missing []string
	var retrievalErrs []string
	for _, sq := range plan.GetSubQuestions() {
		sa := subs[sq.Id]
		run.SubAnswers = append(run.SubAnswers, sa)
		if sa.Status == agentsv1.SubQuestionStatus_SUB_QUESTION_STATUS_FAILED {
			missing = append(missing, sq.Question)
			retrievalErrs = append(retrievalErrs, sq.Id+": "+sa.Error)
			continue
		}
		lists = append(lists, sa.Evidence)
	}
	if len(lists) == 0 {
		run.Error = "retrieval failed for every sub-question, so there is no evidence to answer from: " + strings.Join(retrievalErrs, "; ")
		finish(agentsv1.RunStatus_RUN_STATUS_FAILED)
		save()
		emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_Run{Run: run}})
		return fmt.Errorf("%w: %s", ErrRetrieval, run.Error)
	}
	if len(missing) > 0 {
		run.Error = "partial answer; could not research: " + strings.Join(retrievalErrs, "; ")
	}

	// Facts: figures read from the evidence, the calculator's steps and
	// conflicting figures, cited and checked by construction.
	var facts []line
	modelNeeded := true
	if agentic {
		facts, modelNeeded = e.facts(ctx, req, q, plan, route, subs, note)
		lists = lists[:0] // the facts may have searched again
		for _, sq := range plan.GetSubQuestions() {
			if sa := subs[sq.Id]; sa.GetStatus() != agentsv1.SubQuestionStatus_SUB_QUESTION_STATUS_FAILED {
				lists = append(lists, sa.GetEvidence())
			}
		}
	}

	// Pack and answer.
	var answer string
	var packed Packed
	timed("answer", func() {
		overhead, _ := Prompt(e.Prompts, nil, missing)
		pk := Packer{LLM: e.LLM, AnswerTokens: e.AnswerTokens, DefaultWindow: e.DefaultWindow, MaxPassages: e.MaxPassages}
		n := 0
		if route.Fan {
			// Each document its share of the context, in period order.
			packed = pk.PackFair(ctx, lists, overhead+"\n"+q)
			for _, l := range lists {
				n += len(l)
			}
		} else {
			all := Interleave(lists)
			n = len(all)
			packed = pk.Pack(ctx, all, overhead+"\n"+q)
			packed.Evidence = ByBestExtract(q, packed.Evidence)
		}
		note(fmt.Sprintf("packer: %d of %d passages, %d/%d tokens (exact=%v)", len(packed.Evidence), n, packed.Tokens, packed.Budget, packed.Exact))
		for _, ev := range packed.Evidence {
			run.Passages = append(run.Passages, ev.GetPassage())
		}
		if !modelNeeded {
			note("answerer: the figures answer the question; no model call")
			return
		}
		backbone := Backbone(plan, packed.Evidence, e.BackboneMax)
		for _, x := range backbone {
			note("backbone: " + x.Text + " " + x.Label)
		}
		var live func(string)
		if !agentic {
			live = func(d string) { emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_AnswerDelta{AnswerDelta: d}}) }
		}
		pages := e.pageImages(ctx, req.GetCollection(), packed.Evidence, note)
		draft, err := Answerer{LLM: e.LLM, Adapter: req.GetAdapter(), Timeout: e.AnswerTimeout, MaxTokens: e.AnswerTokens, Pages: pages, Prompts: e.Prompts}.
			Draft(ctx, q, packed.Evidence, missing, live)
		if err != nil {
			note("answerer: model unavailable, extractive answer: " + err.Error())
			run.Degraded = true
			if len(backbone) == 0 {
				// no sentence scored high enough to be required: the best
				// sentences of the best evidence, cited, beat no answer
				backbone = BestExtracts(q, packed.Evidence, 2)
			}
			answer = Extractive(backbone)
			if live != nil {
				live(answer)
			}
		} else {
			note("answerer draft: " + draft)
			kept, dropped := DropOffPeriod(q, draft, len(backbone) > 0)
			for _, d := range dropped {
				note("answerer: dropped a sentence about another period than asked: " + d)
			}
			if len(backbone) == 0 && !labelRe.MatchString(kept) {
				// a draft without a citation: add the best evidence sentence,
				// cited, so every answer points at its source
				backbone = BestExtracts(q, packed.Evidence, 1)
			}
			answer = Compose(kept, backbone)
			if live != nil && strings.HasPrefix(answer, draft) && len(answer) > len(draft) {
				live(answer[len(draft):])
			}
		}
		if len(missing) > 0 {
			answer += " Not found in the documents: " + strings.Join(missing, "; ") + "."
		}
	})

	// Verify (agentic), then stream the verified answer with the facts.
	evs := packed.Evidence
	for _, l := range lists {
		evs = append(evs, l...)
	}
	if agentic {
		timed("verify", func() {
			var cites []*agentsv1.Citation
			var v *agentsv1.Verification
			if modelNeeded {
				var kept string
				kept, cites, v = Verify(answer, evs)
				for _, c := range v.GetClaims() {
					note(fmt.Sprintf("verifier: %s: %s", strings.TrimPrefix(c.Verdict.String(), "VERDICT_"), c.Claim))
				}
				if strings.TrimSpace(kept) == "" && len(facts) == 0 {
					kept = Extractive(Backbone(plan, packed.Evidence, e.BackboneMax))
					kept, cites, v = Verify(kept, evs)
				}
				answer = kept
			}
			answer, cites, v = withFacts(answer, cites, v, facts)
			if !modelNeeded && len(missing) > 0 {
				answer += "\nNot found in the documents: " + strings.Join(missing, "; ") + "."
			}
			run.Citations, run.Verification = cites, v
		})
		if pv := Provenance(run.Citations, evs); pv != "" {
			answer += "\n" + pv
		}
		for _, d := range deltas(answer) {
			emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_AnswerDelta{AnswerDelta: d}})
		}
	} else {
		_, run.Citations, _ = Verify(answer, evs) // citations only; nothing removed
		if len(run.Citations) == 0 {
			// no sentence of the draft matches its source: the best
			// evidence sentence, cited, so every answer points at a page
			if more := citeBest(q, packed.Evidence); more != "" {
				answer += " " + more
				emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_AnswerDelta{AnswerDelta: " " + more}})
				_, run.Citations, _ = Verify(answer, evs)
			}
		}
		if pv := Provenance(run.Citations, evs); pv != "" {
			answer += "\n" + pv
			emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_AnswerDelta{AnswerDelta: "\n" + pv}})
		}
	}
	run.Answer = answer
	emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_Citations{Citations: &agentsv1.CitationList{Citations: run.Citations}}})
	if run.Verification != nil {
		emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_Verification{Verification: run.Verification}})
	}
	finish(agentsv1.RunStatus_RUN_STATUS_SUCCEEDED)
	save()
	emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_Run{Run: run}})
	return emitErr
}

// deltas cuts text into word-group deltas for streaming.
func deltas(text string) []string {
	var out []string
	words := strings.SplitAfter(text, " ")
	for i := 0; i < len(words); i += 6 {
		out = append(out, strings.Join(words[i:min(i+6, len(words))], ""))
	}
	return out
}

func (e *Engine) research(ctx context.Context, req *agentsv1.AskRequest, plan *agentsv1.Plan, scope map[string][]string,
	subs map[string]*agentsv1.SubAnswer, emit func(*agentsv1.AskResponse), note func(...string), mu *sync.Mutex) {
	base := Researcher{Search: e.Search, Collection: req.GetCollection(), DocumentIDs: req.GetDocumentIds(), TopK: e.TopK, Timeout: e.SearchTimeout}
	done := map[string]chan struct{}{}
	for _, sq := range plan.GetSubQuestions() {
		done[sq.Id] = make(chan struct{})
	}
	sem := make(chan struct{}, e.Concurrency)
	var wg sync.WaitGroup
	for _, sq := range plan.GetSubQuestions() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[sq.Id])
			var depAnswers []string
			for _, d := range sq.DependsOn {
				select {
				case <-done[d]:
				case <-ctx.Done():
					return
				}
				mu.Lock()
				if a := subs[d].GetAnswer(); a != "" {
					depAnswers = append(depAnswers, labelRe.ReplaceAllString(a, ""))
				}
				mu.Unlock()
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_SubAnswer{SubAnswer: &agentsv1.SubAnswer{SubQuestionId: sq.Id, Status: agentsv1.SubQuestionStatus_SUB_QUESTION_STATUS_RUNNING}}})
			r := base
			if ids, ok := scope[sq.Id]; ok {
				r.DocumentIDs = ids // a routed sub-question searches its documents only
			}
			ans, notes, err := r.Research(ctx, sq, depAnswers)
			note(notes...)
			if err != nil {
				ans = &agentsv1.SubAnswer{SubQuestionId: sq.Id, Status: agentsv1.SubQuestionStatus_SUB_QUESTION_STATUS_FAILED, Error: err.Error()}
			}
			mu.Lock()
			subs[sq.Id] = ans
			mu.Unlock()
			for _, ev := range ans.GetEvidence() {
				if len(ev.GetExtracts()) > 0 {
					emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_Evidence{Evidence: ev}})
				}
			}
			emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_SubAnswer{SubAnswer: ans}})
		}()
	}
	wg.Wait()
}

// IsRetrieval reports whether err means retrieval was unreachable.
func IsRetrieval(err error) bool { return errors.Is(err, ErrRetrieval) }
