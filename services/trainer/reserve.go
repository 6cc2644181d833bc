package trainer

import (
	"context"
	"errors"
	"fmt"
	"time"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
)

// EvaluateAdapter and PublishAdapter read a finished job, run for a while
// (a worker, the converter, inference) and write their result into it.
// Two of them on one job at once would each write the job as they read it,
// and the last write would drop the other's result (an evaluation, or the
// name it was published under). So each holds the job for its whole run:
//
//   - on this replica, the entry's busy flag (the embedded default's one
//     process: the whole story);
//   - with the shared store, also a claim on the job's row (pgMeta.reserve:
//     owner and epoch, as a running job's, under a lease the replica renews
//     while the call runs), so that replicas exclude each other, and the
//     result's write names the claim's epoch: a call whose claim ran out
//     (its replica stalled past the lease) writes nothing and fails.
//
// A second call while one holds the job fails at once with ErrConflict
// (Aborted), on either store; calls one after another each apply in turn.

func busyError(id string) error {
	return fmt.Errorf("%w: job %s is being evaluated or published by another call; try again when it is done", ErrConflict, id)
}

// reserve holds finished job id for one evaluate or publish. It returns
// the entry (with the shared store its job as the claim read it, and the
// trained adapter fetched to this machine), the call's context (ended if
// the claim is lost) and release, which gives the job back.
func (s *Service) reserve(ctx context.Context, id string) (*entry, context.Context, func(), error) {
	if s.shared == nil {
		e, ok := s.local(id)
		if !ok {
			return nil, nil, nil, fmt.Errorf("%w: job %q", ErrNotFound, id)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if st := e.job.GetState(); st != trainerv1.JobState_JOB_STATE_SUCCEEDED {
			return nil, nil, nil, fmt.Errorf("%w: job %s is %s; it must have succeeded", ErrState, id, st)
		}
		if e.busy {
			return nil, nil, nil, busyError(id)
		}
		e.busy = true
		return e, ctx, func() { s.mu.Lock(); e.busy = false; s.mu.Unlock() }, nil
	}

	j, _, err := s.meta.job(ctx, id)
	if err != nil {
		return nil, nil, nil, err
	}
	s.mu.Lock()
	e := s.jobs[id]
	switch {
	case e == nil:
		e = &entry{job: j, changed: make(chan struct{}), last: progressOf(j, "")}
		s.jobs[id] = e
	case e.busy:
		s.mu.Unlock()
		return nil, nil, nil, busyError(id)
	}
	e.busy = true // this replica's other calls wait for none: they fail above
	s.mu.Unlock()
	unbusy := func() { s.mu.Lock(); e.busy, e.busyCancel = false, nil; s.mu.Unlock() }

	claimed, epoch, err := s.shared.reserve(ctx, id)
	if err != nil {
		unbusy()
		return nil, nil, nil, err
	}
	rctx, cancel := context.WithCancelCause(ctx)
	lost := func() {
		cancel(fmt.Errorf("%w: job %s: this call's claim on it was not renewed in time and another call may hold it now; nothing was recorded", ErrLost, id))
	}
	s.mu.Lock()
	if !e.running {
		e.job, e.last, e.lost = claimed, progressOf(claimed, ""), false
	}
	e.epoch, e.busyCancel, e.renewed = epoch, lost, time.Now()
	s.mu.Unlock()
	release := func() {
		cancel(nil)
		s.mu.Lock()
		held := e.epoch
		e.epoch = 0
		s.mu.Unlock()
		unbusy()
		if held == 0 { // the result's write gave the claim back
			return
		}
		uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		defer ucancel()
		if err := s.shared.unreserve(uctx, id, held); err != nil {
			s.log.Warn("give back a job's evaluate/publish claim (it lapses with its lease)", "job", id, "err", err)
		}
	}
	if err := s.fetchAdapter(rctx, id); err != nil {
		release()
		return nil, nil, nil, err
	}
	return e, rctx, release, nil
}

// lostOr is err, or the reason ctx (a reserve's) ended when that is the
// loss of its claim: the worker or the call it made failed because of it.
func lostOr(ctx context.Context, err error) error {
	if c := context.Cause(ctx); err != nil && errors.Is(c, ErrLost) {
		return c
	}
	return err
}
