package ask

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// recorder is a Sink that keeps a copy of every saved record and every
// event.
type recorder struct {
	mu     sync.Mutex
	saves  []*agentsv1.Run
	events []*agentsv1.AskResponse
	fail   error // what Emit returns
}

func (c *recorder) sink() Sink {
	return Sink{
		Emit: func(ev *agentsv1.AskResponse) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.events = append(c.events, proto.Clone(ev).(*agentsv1.AskResponse))
			return c.fail
		},
		Save: func(r *agentsv1.Run) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.saves = append(c.saves, proto.Clone(r).(*agentsv1.Run))
		},
	}
}

// runEvents are the events that carry the run record.
func (c *recorder) runEvents() []*agentsv1.Run {
	var out []*agentsv1.Run
	for _, ev := range c.events {
		if r := ev.GetRun(); r != nil {
			out = append(out, r)
		}
	}
	return out
}

// TestRunTransitions walks the state machine: created → running →
// succeeded | failed | cancelled, and nothing else; an illegal move
// changes nothing, saves nothing and sends nothing.
func TestRunTransitions(t *testing.T) {
	moves := map[string]func(r *liveRun) error{
		"start":   func(r *liveRun) error { return r.start() },
		"succeed": func(r *liveRun) error { return r.succeed("") },
		"fail": func(r *liveRun) error {
			if err := r.fail(ErrRetrieval, "down"); errors.Is(err, errTransition) {
				return err
			}
			return nil
		},
		"cancel": func(r *liveRun) error { _ = r.end(context.Canceled); return nil },
	}
	cases := []struct {
		moves []string
		ok    []bool // each move legal
		want  runState
		saves int
		sent  int // Run events
	}{
		{[]string{"start", "succeed"}, []bool{true, true}, runSucceeded, 2, 1},
		{[]string{"start", "fail"}, []bool{true, true}, runFailed, 2, 1},
		{[]string{"start", "cancel"}, []bool{true, true}, runCancelled, 2, 0},
		{[]string{"succeed"}, []bool{false}, runCreated, 0, 0},
		{[]string{"fail"}, []bool{false}, runCreated, 0, 0},
		{[]string{"start", "start"}, []bool{true, false}, runRunning, 1, 0},
		{[]string{"start", "succeed", "fail"}, []bool{true, true, false}, runSucceeded, 2, 1},
		{[]string{"start", "fail", "succeed"}, []bool{true, true, false}, runFailed, 2, 1},
		{[]string{"start", "fail", "fail"}, []bool{true, true, false}, runFailed, 2, 1},
		{[]string{"start", "cancel", "succeed"}, []bool{true, true, false}, runCancelled, 2, 0},
		{[]string{"start", "succeed", "start"}, []bool{true, true, false}, runSucceeded, 2, 1},
	}
	for i, c := range cases {
		var rec recorder
		r := newRun(&agentsv1.Run{Id: "r1"}, false, rec.sink())
		for j, m := range c.moves {
			err := moves[m](r)
			if m == "cancel" {
				continue // end never reports; the state says
			}
			if got := err == nil; got != c.ok[j] {
				t.Errorf("#%d %v: %s: err %v, want legal %v", i, c.moves, m, err, c.ok[j])
			}
			if err != nil && !errors.Is(err, errTransition) {
				t.Errorf("#%d %v: %s: err %v, want errTransition", i, c.moves, m, err)
			}
		}
		if r.current() != c.want || len(rec.saves) != c.saves || len(rec.runEvents()) != c.sent {
			t.Errorf("#%d %v: state %v saves %d run events %d, want %v %d %d", i, c.moves, r.current(), len(rec.saves), len(rec.runEvents()), c.want, c.saves, c.sent)
		}
	}
}

// TestRunEndsOnce checks the records a run leaves at each end.
func TestRunEndsOnce(t *testing.T) {
	var rec recorder
	r := newRun(&agentsv1.Run{Id: "r1"}, true, rec.sink())
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	r.note("one", "two")
	err := r.fail(ErrRetrieval, "no evidence")
	if !errors.Is(err, ErrRetrieval) || !strings.HasSuffix(err.Error(), ": no evidence") {
		t.Fatalf("fail: %v", err)
	}
	if r.end(err) != err || r.succeed("") == nil {
		t.Fatal("a failed run ended again")
	}
	last := rec.saves[len(rec.saves)-1]
	if len(rec.saves) != 2 || last.Status != agentsv1.RunStatus_RUN_STATUS_FAILED || last.Error != "no evidence" ||
		last.FinishTime == nil || last.Scratchpad != "one\ntwo" {
		t.Fatalf("saves %v", rec.saves)
	}
	for _, ev := range rec.events {
		if ev.RunId != "r1" {
			t.Errorf("event %v without the run id", ev)
		}
	}

	// An error other than the context's fails a running run, sent.
	rec = recorder{}
	r = newRun(&agentsv1.Run{Id: "r2"}, false, rec.sink())
	_ = r.start()
	boom := errors.New("boom")
	if r.end(boom) != boom || r.current() != runFailed || len(rec.runEvents()) != 1 || rec.runEvents()[0].Error != "boom" {
		t.Fatalf("state %v events %v", r.current(), rec.events)
	}

	// A failed emit stops the events and is what succeed returns; the run
	// still ends SUCCEEDED and is saved.
	rec = recorder{fail: errors.New("client gone")}
	r = newRun(&agentsv1.Run{Id: "r3"}, false, rec.sink())
	_ = r.start()
	r.delta("a")
	r.delta("b")
	if err := r.succeed(""); err == nil || err.Error() != "client gone" || len(rec.events) != 1 ||
		rec.saves[len(rec.saves)-1].Status != agentsv1.RunStatus_RUN_STATUS_SUCCEEDED {
		t.Fatalf("succeed %v events %d saves %v", err, len(rec.events), rec.saves)
	}
}

// TestInvokeNewRun checks that Invoke starts a NewRun: saved RUNNING
// first, in agentic mode unless asked otherwise, then SUCCEEDED.
func TestInvokeNewRun(t *testing.T) {
	var rec recorder
	req := &agentsv1.AskRequest{Collection: "c", Question: "What was free cash flow?"}
	pb := NewRun("r1", req)
	e := &Engine{LLM: &fakeLLM{replies: []string{"Free cash flow was $181 million [acme-q1.pdf p.3]."}}, Search: &fakeSearch{passages: corpus()}}
	if err := e.Invoke(context.Background(), req, pb, rec.sink()); err != nil {
		t.Fatal(err)
	}
	first, last := rec.saves[0], rec.saves[len(rec.saves)-1]
	if first.Status != agentsv1.RunStatus_RUN_STATUS_RUNNING || first.CreateTime == nil || first.Mode != agentsv1.AskMode_ASK_MODE_AGENTIC ||
		first.Question != req.Question || first.Collection != "c" {
		t.Errorf("first save %v", first)
	}
	if last.Status != agentsv1.RunStatus_RUN_STATUS_SUCCEEDED || last.FinishTime == nil || len(rec.runEvents()) != 1 {
		t.Errorf("last save %v, %d run events", last, len(rec.runEvents()))
	}
	// A run that has ended is not run again.
	n := len(rec.saves)
	if err := e.Invoke(context.Background(), req, pb, rec.sink()); !errors.Is(err, errTransition) || len(rec.saves) != n {
		t.Fatalf("second Invoke: %v, %d saves", err, len(rec.saves)-n)
	}
}

// TestRetrievalDownFailsRunOnce: a retrieval that fails every sub-question
// marks the run FAILED with its error exactly once: one FAILED save, one
// Run event, the last, and an error wrapping ErrRetrieval that carries it.
func TestRetrievalDownFailsRunOnce(t *testing.T) {
	var rec recorder
	req := &agentsv1.AskRequest{Collection: "c", Question: "Compare product revenue in Q1 with Q2", IncludeScratchpad: true}
	e := &Engine{LLM: &fakeLLM{err: unavailable}, Search: &fakeSearch{err: status.Error(codes.Unavailable, "retrieval: breaker open")}}
	pb := NewRun("r1", req)
	err := e.Invoke(context.Background(), req, pb, rec.sink())
	if !errors.Is(err, ErrRetrieval) || !strings.Contains(err.Error(), pb.Error) || !strings.HasPrefix(pb.Error, "retrieval failed for every sub-question") ||
		!strings.Contains(pb.Error, "breaker open") {
		t.Fatalf("err %v, run error %q", err, pb.Error)
	}
	failed := 0
	for _, s := range rec.saves {
		if s.Status == agentsv1.RunStatus_RUN_STATUS_FAILED {
			failed++
			if s.Error != pb.Error || s.FinishTime == nil || s.Scratchpad == "" {
				t.Errorf("failed save %v", s)
			}
		}
	}
	runs := rec.runEvents()
	if failed != 1 || len(runs) != 1 || rec.events[len(rec.events)-1].GetRun() == nil || runs[0].Error != pb.Error {
		t.Fatalf("%d FAILED saves, run events %v", failed, runs)
	}
	if len(pb.Timings) != 2 || pb.Answer != "" {
		t.Errorf("timings %v answer %q", pb.Timings, pb.Answer)
	}
}

// cancellingSearch cancels the run's context from inside a search.
type cancellingSearch struct{ cancel context.CancelFunc }

func (c cancellingSearch) Search(ctx context.Context, _ SearchRequest) ([]*retrievalv1.Passage, error) {
	c.cancel()
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestCancelledRunFails: a run whose context ends mid-run is stored FAILED
// with the context's error, which Invoke returns; nothing more is sent.
func TestCancelledRunFails(t *testing.T) {
	for _, when := range []string{"before", "mid-run"} {
		var rec recorder
		ctx, cancel := context.WithCancel(context.Background())
		var search Searcher = &fakeSearch{passages: corpus()}
		if when == "before" {
			cancel()
		} else {
			search = cancellingSearch{cancel}
		}
		req := &agentsv1.AskRequest{Collection: "c", Question: "What was free cash flow?", IncludeScratchpad: true}
		pb := NewRun("r1", req)
		err := (&Engine{LLM: &fakeLLM{}, Search: search}).Invoke(ctx, req, pb, rec.sink())
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: err %v", when, err)
		}
		last := rec.saves[len(rec.saves)-1]
		if pb.Status != agentsv1.RunStatus_RUN_STATUS_FAILED || pb.Error != context.Canceled.Error() || pb.FinishTime == nil ||
			last.Status != agentsv1.RunStatus_RUN_STATUS_FAILED || last.Error != pb.Error {
			t.Errorf("%s: run %v, last save %v", when, pb, last)
		}
		if len(rec.runEvents()) != 0 || pb.Scratchpad != "" || pb.Answer != "" {
			t.Errorf("%s: run events %v scratchpad %q answer %q", when, rec.runEvents(), pb.Scratchpad, pb.Answer)
		}
	}
}
