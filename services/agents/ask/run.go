package ask

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

// runState is where a run is in its life:
//
//	created → running → succeeded | failed | cancelled
//
// A cancelled run (its context ended, or the client went away) is stored
// and reported as RUN_STATUS_FAILED with the context's error.
type runState int

const (
	runCreated runState = iota
	runRunning
	runSucceeded
	runFailed
	runCancelled
)

func (s runState) String() string {
	return [...]string{"created", "running", "succeeded", "failed", "cancelled"}[s]
}

// errTransition is a move the state machine does not allow.
var errTransition = errors.New("illegal run transition")

// legal lists each state's possible next states.
var legal = map[runState][]runState{
	runCreated: {runRunning},
	runRunning: {runSucceeded, runFailed, runCancelled},
}

// NewRun is a new run of req with id, created now; Invoke starts it.
func NewRun(id string, req *agentsv1.AskRequest) *agentsv1.Run {
	mode := req.GetMode()
	if mode == agentsv1.AskMode_ASK_MODE_UNSPECIFIED {
		mode = agentsv1.AskMode_ASK_MODE_AGENTIC
	}
	return &agentsv1.Run{Id: id, Collection: req.GetCollection(), Question: req.GetQuestion(), CreateTime: timestamppb.Now(), Mode: mode}
}

// liveRun is one run as it is answered: its record, its state, the agents'
// scratchpad and the sink its events and checkpoints go to. Its methods are
// safe to call from the researchers' goroutines; every change of state,
// save and emit of the record goes through it.
type liveRun struct {
	mu      sync.Mutex
	state   runState
	pb      *agentsv1.Run
	sink    Sink
	keepPad bool // copy the scratchpad into the record when it ends
	pad     []string
	emitErr error // the first failed emit; later events are dropped
}

// newRun drives pb: created, unless pb has already ended.
func newRun(pb *agentsv1.Run, keepPad bool, sink Sink) *liveRun {
	r := &liveRun{pb: pb, sink: sink, keepPad: keepPad}
	switch pb.GetStatus() {
	case agentsv1.RunStatus_RUN_STATUS_SUCCEEDED:
		r.state = runSucceeded
	case agentsv1.RunStatus_RUN_STATUS_FAILED, agentsv1.RunStatus_RUN_STATUS_INTERRUPTED:
		r.state = runFailed
	}
	return r
}

// to moves the run to state s; the caller holds mu.
func (r *liveRun) to(s runState) error {
	for _, n := range legal[r.state] {
		if n == s {
			r.state = s
			return nil
		}
	}
	return fmt.Errorf("%w: %s → %s", errTransition, r.state, s)
}

// start moves a created run to running and saves it.
func (r *liveRun) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.to(runRunning); err != nil {
		return err
	}
	r.pb.Status = agentsv1.RunStatus_RUN_STATUS_RUNNING
	if r.pb.CreateTime == nil {
		r.pb.CreateTime = timestamppb.Now()
	}
	r.saveLocked()
	return nil
}

// planned records the plan, sends it and saves the run.
func (r *liveRun) planned(plan *agentsv1.Plan) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pb.Plan = plan
	r.emitLocked(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_Plan{Plan: plan}})
	r.saveLocked()
}

// succeed ends the run with answer (its citations and verification set):
// sends the citations and verification, then saves the run and sends it as
// the last event. It returns the first error of an emit, if any failed.
func (r *liveRun) succeed(answer string) error {
	r.mu.Lock()
	if r.state == runRunning {
		r.pb.Answer = answer
		r.emitLocked(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_Citations{Citations: &agentsv1.CitationList{Citations: r.pb.Citations}}})
		if v := r.pb.Verification; v != nil {
			r.emitLocked(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_Verification{Verification: v}})
		}
	}
	r.mu.Unlock()
	if err := r.finish(runSucceeded, ""); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.emitErr
}

// fail ends the run FAILED with msg as its error: saved, then sent as the
// last event. It returns msg wrapping kind (ErrRetrieval, ...).
func (r *liveRun) fail(kind error, msg string) error {
	if err := r.finish(runFailed, msg); err != nil {
		return err
	}
	return fmt.Errorf("%w: %s", kind, msg)
}

// end settles a run its stages returned err from: one still running is
// cancelled when its context ended, else failed with err. It returns err.
func (r *liveRun) end(err error) error {
	if err == nil || r.current() != runRunning {
		return err
	}
	to := runFailed
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		to = runCancelled
	}
	_ = r.finish(to, err.Error())
	return err
}

// finish moves a running run to its end state s with msg as its error
// (none when it succeeded) and saves it. A succeeded or failed run is then
// sent as the last event, with the scratchpad when it was asked for; a
// cancelled one is stored FAILED, no one is listening, and its scratchpad
// is not kept.
func (r *liveRun) finish(s runState, msg string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.to(s); err != nil {
		return err
	}
	r.pb.FinishTime = timestamppb.Now()
	switch s {
	case runSucceeded:
		r.pb.Status = agentsv1.RunStatus_RUN_STATUS_SUCCEEDED
	case runFailed, runCancelled:
		r.pb.Status, r.pb.Error = agentsv1.RunStatus_RUN_STATUS_FAILED, msg
	}
	if s == runCancelled {
		r.saveLocked()
		return nil
	}
	if r.keepPad {
		r.pb.Scratchpad = strings.Join(r.pad, "\n")
	}
	r.saveLocked()
	r.emitLocked(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_Run{Run: r.pb}})
	return nil
}

func (r *liveRun) current() runState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

func (r *liveRun) saveLocked() {
	if r.sink.Save != nil {
		r.sink.Save(r.pb)
	}
}

// emit sends one event of the run; after a failed emit, none.
func (r *liveRun) emit(ev *agentsv1.AskResponse) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.emitLocked(ev)
}

func (r *liveRun) emitLocked(ev *agentsv1.AskResponse) {
	ev.RunId = r.pb.GetId()
	if r.emitErr == nil && r.sink.Emit != nil {
		r.emitErr = r.sink.Emit(ev)
	}
}

// delta streams a piece of the answer.
func (r *liveRun) delta(d string) {
	r.emit(&agentsv1.AskResponse{Event: &agentsv1.AskResponse_AnswerDelta{AnswerDelta: d}})
}

// note adds lines to the scratchpad.
func (r *liveRun) note(s ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pad = append(r.pad, s...)
}

// timed runs stage f and records how long it took.
func (r *liveRun) timed(stage string, f func()) {
	t := time.Now()
	f()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pb.Timings = append(r.pb.Timings, &agentsv1.StageTiming{Stage: stage, Ms: float64(time.Since(t).Microseconds()) / 1000})
}
