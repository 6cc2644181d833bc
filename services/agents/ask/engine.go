package ask

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/platform/config"
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
	// Off names agentic steps turned off, to measure what each adds
	// (StepFanOut, StepFacts; `pdfqa eval --ablate`).
	Off map[string]bool
}

// Steps that can be turned off (Engine.Off).
const (
	// StepFanOut: a question over several periods or documents is planned
	// by the model instead of one sub-question per matching document.
	StepFanOut = "fanout"
	// StepFacts: no figures read from the evidence, no series, no
	// calculator and no conflict check; the model writes the whole answer.
	StepFacts = "facts"
)

// Steps lists the steps Off accepts.
func Steps() []string { return []string{StepFanOut, StepFacts} }

// Without returns a copy of the engine with the named steps turned off; an
// unknown name is an error.
func (e *Engine) Without(steps ...string) (*Engine, error) {
	c := *e
	c.Off = map[string]bool{}
	for k, v := range e.Off {
		c.Off[k] = v
	}
	for _, s := range steps {
		if !slices.Contains(Steps(), s) {
			return nil, fmt.Errorf("%w: unknown step %q (steps: %s)", ErrInvalid, s, strings.Join(Steps(), ", "))
		}
		c.Off[s] = true
	}
	return &c, nil
}

// With returns a copy of the engine that uses prompt set ps.
func (e *Engine) With(ps *prompts.Set) *Engine {
	c := *e
	c.Prompts = ps
	return &c
}

func (e *Engine) defaults() {
	config.Default(&e.Concurrency, 3)
	config.Default(&e.TopK, 10)
	config.Default(&e.MaxSubQuestions, 4)
	config.Default(&e.AnswerTokens, 160)
	config.Default(&e.DefaultWindow, 2048)
	config.Default(&e.MaxPassages, 10)
	config.Default(&e.BackboneMax, 3)
	config.Default(&e.MaxFanOut, 8)
	if e.Documents == nil {
		e.Documents, _ = e.Search.(DocumentLister)
	}
	if e.MaxImages == 0 {
		e.MaxImages = 2
	}
	config.Default(&e.PlanTimeout, 60*time.Second)
	config.Default(&e.AnswerTimeout, 120*time.Second)
	config.Default(&e.SearchTimeout, 30*time.Second)
	config.Default(&e.RenderTimeout, 10*time.Second)
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
	return checkHistory(req.GetHistory())
}

// Invoke answers req, filling run as it goes: a new run (NewRun), or one
// already RUNNING with its id (a run that has ended is refused). The run is
// saved RUNNING, then ends SUCCEEDED; or
// FAILED, with an error wrapping ErrRetrieval returned, when no evidence
// could be searched; or, when ctx ends first, FAILED with the context's
// error, which is returned.
func (e *Engine) Invoke(ctx context.Context, req *agentsv1.AskRequest, run *agentsv1.Run, sink Sink) error {
	c := *e // defaults are set per call: one engine serves concurrent runs
	c.defaults()
	r := newRun(run, req.GetIncludeScratchpad(), sink)
	if err := r.start(); err != nil {
		return err
	}
	return r.end(newQuestion(&c, req, r).ask(ctx))
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
