package pdfqa

import (
	"context"
	"iter"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/platform/client"
)

// The contracts' types, used as they are.
type (
	Run          = agentsv1.Run
	Citation     = agentsv1.Citation
	Plan         = agentsv1.Plan
	SubAnswer    = agentsv1.SubAnswer
	Evidence     = agentsv1.Evidence
	Verification = agentsv1.Verification
)

// Event is one event of a run: PlanMade, SubAnswerChanged, EvidenceFound,
// AnswerDelta, CitationsMade, Verified or RunDone (always last).
type Event interface{ isEvent() }

// PlanMade: the planner split the question into sub-questions.
type PlanMade struct {
	RunID string
	Plan  *Plan
}

// SubAnswerChanged: a sub-question changed status.
type SubAnswerChanged struct {
	RunID     string
	SubAnswer *SubAnswer
}

// EvidenceFound: a researcher read a passage.
type EvidenceFound struct {
	RunID    string
	Evidence *Evidence
}

// AnswerDelta is more answer text.
type AnswerDelta struct {
	RunID string
	Text  string
}

// CitationsMade: the answer's citations.
type CitationsMade struct {
	RunID     string
	Citations []*Citation
}

// Verified: the verifier finished.
type Verified struct {
	RunID        string
	Verification *Verification
}

// RunDone is the run's full record: answer, citations, passages, timings.
type RunDone struct {
	Run *Run
}

func (PlanMade) isEvent()         {}
func (SubAnswerChanged) isEvent() {}
func (EvidenceFound) isEvent()    {}
func (AnswerDelta) isEvent()      {}
func (CitationsMade) isEvent()    {}
func (Verified) isEvent()         {}
func (RunDone) isEvent()          {}

// AskOption tunes one question.
type AskOption func(*askReq)

type askReq struct {
	req       *agentsv1.AskRequest
	promptSet string
}

// WithAdapter answers with a LoRA adapter of the answering model.
func WithAdapter(name string) AskOption { return func(r *askReq) { r.req.Adapter = name } }

// SingleShot answers with one search and one answer (no planner, no verifier).
func SingleShot() AskOption {
	return func(r *askReq) { r.req.Mode = agentsv1.AskMode_ASK_MODE_SINGLE_SHOT }
}

// WithDocuments restricts evidence to these document ids.
func WithDocuments(ids ...string) AskOption {
	return func(r *askReq) { r.req.DocumentIds = append(r.req.DocumentIds, ids...) }
}

// WithScratchpad returns the agents' reasoning with the run.
func WithScratchpad() AskOption { return func(r *askReq) { r.req.IncludeScratchpad = true } }

// WithMaxSubQuestions bounds the planner's sub-questions.
func WithMaxSubQuestions(n int) AskOption {
	return func(r *askReq) { r.req.MaxSubQuestions = int32(n) }
}

// Turn is one earlier turn of a conversation: who spoke (TurnUser or
// TurnAssistant) and what was said.
type Turn = agentsv1.Turn

// TurnRole is who spoke a turn.
type TurnRole = agentsv1.TurnRole

// Turn roles.
const (
	TurnUser      = agentsv1.TurnRole_TURN_ROLE_USER
	TurnAssistant = agentsv1.TurnRole_TURN_ROLE_ASSISTANT
)

// UserTurn is an earlier question of the conversation.
func UserTurn(text string) *Turn { return &Turn{Role: TurnUser, Text: text} }

// AssistantTurn is an earlier answer of the conversation.
func AssistantTurn(text string) *Turn { return &Turn{Role: TurnAssistant, Text: text} }

// The bounds of a conversation's history (the agents refuse more with
// ErrInvalidArgument; TrimHistory keeps the latest turns within them).
const (
	MaxHistoryTurns     = 32
	MaxHistoryTurnBytes = 4000
	MaxHistoryBytes     = 16000
)

// WithHistory asks the question as the next turn of a conversation (turns
// oldest first): a follow-up such as "and in the prior quarter?" is read
// against the latest earlier question.
func WithHistory(turns ...*Turn) AskOption {
	return func(r *askReq) { r.req.History = append(r.req.History, turns...) }
}

// TrimHistory returns the latest turns of h that fit the history's bounds,
// oldest first: a turn longer than MaxHistoryTurnBytes keeps its start (cut
// at a character boundary), and empty turns are dropped.
func TrimHistory(h []*Turn) []*Turn {
	var out []*Turn
	total := 0
	for i := len(h) - 1; i >= 0 && len(out) < MaxHistoryTurns; i-- {
		text := strings.TrimSpace(h[i].GetText())
		if text == "" {
			continue
		}
		if len(text) > MaxHistoryTurnBytes {
			text = strings.ToValidUTF8(text[:MaxHistoryTurnBytes], "")
		}
		if total+len(text) > MaxHistoryBytes {
			break
		}
		total += len(text)
		out = append(out, &Turn{Role: h[i].GetRole(), Text: text})
	}
	slices.Reverse(out)
	return out
}

// AskRequest is the request Ask sends.
type AskRequest = agentsv1.AskRequest

// NewAskRequest returns the request Ask sends for these arguments (the
// prompt set, sent as metadata, is not part of it).
func NewAskRequest(collection, question string, opts ...AskOption) *AskRequest {
	return newAskReq(collection, question, opts).req
}

func newAskReq(collection, question string, opts []AskOption) askReq {
	r := askReq{req: &agentsv1.AskRequest{Collection: collection, Question: strings.TrimSpace(question)}}
	for _, o := range opts {
		o(&r)
	}
	return r
}

// WithPromptSet answers with one of the agents' prompt sets.
func WithPromptSet(name string) AskOption { return func(r *askReq) { r.promptSet = name } }

// PromptSetHeader is the metadata key that picks the agents' prompt set.
const PromptSetHeader = "pdfqa-prompt-set"

// Ask answers question over collection, yielding the run's events as they
// happen; the last is RunDone. An error ends the sequence (it is yielded
// with a nil event). Breaking out of the loop cancels the run's stream.
func (c *Client) Ask(ctx context.Context, collection, question string, opts ...AskOption) iter.Seq2[Event, error] {
	r := newAskReq(collection, question, opts)
	return func(yield func(Event, error) bool) {
		switch {
		case r.req.Collection == "":
			yield(nil, invalid("ask: no collection"))
			return
		case r.req.Question == "":
			yield(nil, invalid("ask: empty question"))
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var kv []string
		if r.promptSet != "" {
			kv = append(kv, PromptSetHeader, r.promptSet)
		}
		st, err := c.agents.Ask(c.call(ctx, kv...), r.req)
		if err != nil {
			yield(nil, wrap(err))
			return
		}
		done, stopped := false, false
		err = client.Drain(st, func(m *agentsv1.AskResponse) error {
			ev := event(m)
			if ev == nil {
				return nil
			}
			if _, ok := ev.(RunDone); ok {
				done = true
			}
			if !yield(ev, nil) {
				stopped = true
				return errStop
			}
			return nil
		})
		switch {
		case stopped:
		case err != nil:
			yield(nil, wrap(err))
		case !done:
			yield(nil, &Error{Code: codes.Internal, Message: "ask: the stream ended without the run's record"})
		}
	}
}

type stopErr struct{}

func (stopErr) Error() string { return "stopped" }

var errStop error = stopErr{}

func event(m *agentsv1.AskResponse) Event {
	id := m.GetRunId()
	switch e := m.GetEvent().(type) {
	case *agentsv1.AskResponse_Plan:
		return PlanMade{RunID: id, Plan: e.Plan}
	case *agentsv1.AskResponse_SubAnswer:
		return SubAnswerChanged{RunID: id, SubAnswer: e.SubAnswer}
	case *agentsv1.AskResponse_Evidence:
		return EvidenceFound{RunID: id, Evidence: e.Evidence}
	case *agentsv1.AskResponse_AnswerDelta:
		return AnswerDelta{RunID: id, Text: e.AnswerDelta}
	case *agentsv1.AskResponse_Citations:
		return CitationsMade{RunID: id, Citations: e.Citations.GetCitations()}
	case *agentsv1.AskResponse_Verification:
		return Verified{RunID: id, Verification: e.Verification}
	case *agentsv1.AskResponse_Run:
		return RunDone{Run: e.Run}
	}
	return nil
}

// Answer asks and returns the finished run; onDelta, if not nil, sees the
// answer text as it streams.
func (c *Client) Answer(ctx context.Context, collection, question string, onDelta func(string), opts ...AskOption) (*Run, error) {
	for ev, err := range c.Ask(ctx, collection, question, opts...) {
		if err != nil {
			return nil, err
		}
		switch ev := ev.(type) {
		case AnswerDelta:
			if onDelta != nil {
				onDelta(ev.Text)
			}
		case RunDone:
			return ev.Run, nil
		}
	}
	return nil, &Error{Code: codes.Internal, Message: "ask: no run"}
}

// Runs lists recent runs, newest first (limit 0: the service's default, 50).
func (c *Client) Runs(ctx context.Context, limit int) ([]*Run, error) {
	r, err := c.agents.ListRuns(c.call(ctx), &agentsv1.ListRunsRequest{Limit: int32(limit)})
	if err != nil {
		return nil, wrap(err)
	}
	return r.GetRuns(), nil
}

// Run returns one run by id.
func (c *Client) Run(ctx context.Context, id string) (*Run, error) {
	if strings.TrimSpace(id) == "" {
		return nil, invalid("run: empty id")
	}
	r, err := c.agents.GetRun(c.call(ctx), &agentsv1.GetRunRequest{RunId: id})
	if err != nil {
		return nil, wrap(err)
	}
	return r.GetRun(), nil
}
