package trainer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
)

// interrupted is the error of a job whose trainer stopped under it.
const interrupted = "interrupted: the trainer stopped while the job ran; ResumeJob continues from the last checkpoint"

// entry is a job with its live state.
type entry struct {
	job     *trainerv1.Job
	last    *trainerv1.WatchJobResponse
	version int
	changed chan struct{} // closed and replaced on every update

	cancel    context.CancelFunc
	done      chan struct{}
	cancelled bool // CancelJob asked for it
	// busy: an evaluate or publish holds the job (reserve); busyCancel
	// ends that call's context when its claim is lost.
	busy       bool
	busyCancel context.CancelFunc

	// running: this replica's worker runs the job (from launch to its end).
	running bool
	// epoch is this replica's claim on the job (the shared store; 0: none
	// or the embedded default); lost: another replica claimed it since, so
	// nothing more is written; renewed: the claim's last renewal.
	epoch   int64
	lost    bool
	renewed time.Time
	// handover: the service is stopping; the job is released for another
	// replica instead of being marked interrupted.
	handover bool
}

func terminal(s trainerv1.JobState) bool {
	return s == trainerv1.JobState_JOB_STATE_SUCCEEDED || s == trainerv1.JobState_JOB_STATE_FAILED || s == trainerv1.JobState_JOB_STATE_CANCELLED
}

// recover loads persisted jobs of the embedded default; those that were
// running are marked failed (interrupted) and stay resumable. (With the
// shared store a job whose replica stopped is taken over by a live one.)
func (s *Service) recover(ctx context.Context) error {
	if s.shared != nil {
		return nil
	}
	jobs, err := s.meta.jobs(ctx)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if !terminal(j.GetState()) {
			j.State, j.Error, j.UpdateTime = trainerv1.JobState_JOB_STATE_FAILED, interrupted, timestamppb.Now()
			if err := s.meta.putJob(ctx, j, progressOf(j, ""), 0, true); err != nil {
				return err
			}
			s.log.Warn("job interrupted by a restart", "job", j.GetId(), "step", j.GetStep())
		}
		s.jobs[j.GetId()] = &entry{job: j, changed: make(chan struct{}), last: progressOf(j, "")}
	}
	return nil
}

func progressOf(j *trainerv1.Job, msg string) *trainerv1.WatchJobResponse {
	if msg == "" {
		msg = j.GetError()
	}
	return &trainerv1.WatchJobResponse{JobId: j.GetId(), State: j.GetState(), Step: j.GetStep(), TotalSteps: j.GetTotalSteps(), Loss: j.GetLoss(), Message: msg}
}

// storeTimeout bounds each write of a job's state.
const storeTimeout = 10 * time.Second

// update applies f to the job under the lock, persists it and wakes
// watchers. A job this replica lost is not written (nor changed): its new
// owner writes it. It returns the write's error (ErrLost for a job this
// replica lost): a training run goes on without it (logged), and
// EvaluateAdapter and PublishAdapter report it to their caller.
func (s *Service) update(e *entry, f func(j *trainerv1.Job, w *trainerv1.WatchJobResponse)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.lost {
		return fmt.Errorf("%w: job %s (epoch %d)", ErrLost, e.job.GetId(), e.epoch)
	}
	w := progressOf(e.job, "")
	w.TokensPerSecond, w.EtaSeconds = e.last.GetTokensPerSecond(), e.last.GetEtaSeconds()
	f(e.job, w)
	e.job.UpdateTime = timestamppb.Now()
	w.State, w.Step, w.TotalSteps, w.Loss = e.job.GetState(), e.job.GetStep(), e.job.GetTotalSteps(), e.job.GetLoss()
	e.last = w
	e.version++
	close(e.changed)
	e.changed = make(chan struct{})
	release := !activeState(e.job.GetState()) || e.handover
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	err := s.meta.putJob(ctx, e.job, w, e.epoch, release)
	switch {
	case errors.Is(err, ErrLost):
		e.lost = true
		s.log.Warn("job lost to another replica; stopping its worker", "job", e.job.GetId(), "epoch", e.epoch)
		if e.cancel != nil {
			e.cancel()
		}
	case err != nil:
		s.log.Error("persist job", "job", e.job.GetId(), "err", err)
	case release:
		e.epoch = 0
	}
	return err
}

// local is the entry of a job this replica holds: every job with the
// embedded default, the ones it runs (or evaluates) with the shared store.
func (s *Service) local(id string) (*entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.jobs[id]
	if ok && s.shared != nil && !e.running {
		return nil, false
	}
	return e, ok
}

// getJob is the job as this replica knows it best: its own live entry, else
// the store's row.
func (s *Service) getJob(ctx context.Context, id string) (*trainerv1.Job, error) {
	if e, ok := s.local(id); ok {
		return s.snapshot(e), nil
	}
	j, _, err := s.meta.job(ctx, id)
	return j, err
}

func (s *Service) snapshot(e *entry) *trainerv1.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return proto.Clone(e.job).(*trainerv1.Job)
}

func (s *Service) maxJobs() int {
	if s.cfg.MaxJobs <= 0 {
		return 1
	}
	return s.cfg.MaxJobs
}

// caps are the job caps: maxJobs in all, Config.MaxJobsPerTenant for one
// tenant.
func (s *Service) caps() jobCaps {
	return jobCaps{Total: s.maxJobs(), PerTenant: max(s.cfg.MaxJobsPerTenant, 0)}
}

// startJob creates and launches a job. The caps (Config.MaxJobs jobs queued
// or running, across replicas with the shared store — every job is a
// training process — and Config.MaxJobsPerTenant of one tenant's) are
// checked in the store, in the step that adds it.
func (s *Service) startJob(ctx context.Context, datasetID string, cfg *trainerv1.LoraConfig) (*trainerv1.Job, error) {
	ds, err := s.meta.dataset(ctx, datasetID)
	if err != nil {
		return nil, err
	}
	if ds.GetCounts().GetTrain() == 0 {
		return nil, fmt.Errorf("%w: dataset %q has no training examples", ErrState, datasetID)
	}
	c, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	id := newID("job")
	now := timestamppb.Now()
	j := &trainerv1.Job{Id: id, DatasetId: datasetID, State: trainerv1.JobState_JOB_STATE_QUEUED, Config: c, Tenant: ds.GetTenant(),
		OutputDir: s.outDir(id), CreateTime: now, UpdateTime: now}
	epoch, err := s.meta.createJob(ctx, j, progressOf(j, ""), s.caps())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(j.OutputDir, 0o755); err != nil {
		return nil, err
	}
	e := &entry{job: j, changed: make(chan struct{}), last: progressOf(j, ""), epoch: epoch, renewed: time.Now()}
	s.mu.Lock()
	s.jobs[id] = e
	s.mu.Unlock()
	s.launch(e)
	return s.snapshot(e), nil
}

// prepare writes the worker's job file with this machine's paths: the
// dataset (fetched from the bucket when another replica made it) and the
// checkpoint to continue from (the newest recorded one, with the shared
// store). It returns the step restored.
func (s *Service) prepare(ctx context.Context, j *trainerv1.Job) (int32, error) {
	ds, err := s.meta.dataset(ctx, j.GetDatasetId())
	if err != nil {
		return 0, err
	}
	dir, err := s.datasetDir(ctx, ds)
	if err != nil {
		return 0, err
	}
	step, err := s.restoreCheckpoint(ctx, j.GetId())
	if err != nil {
		return 0, err
	}
	return step, writeWorkerConfig(filepath.Join(s.store.jobDir(j.GetId()), "train.json"), s.workerConfig(j, dir))
}

// launch runs the training worker for e in the background.
func (s *Service) launch(e *entry) {
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	s.mu.Lock()
	e.cancel, e.done, e.cancelled, e.running, e.handover, e.renewed = cancel, done, false, true, false, time.Now()
	id := e.job.GetId()
	s.mu.Unlock()
	s.update(e, func(j *trainerv1.Job, w *trainerv1.WatchJobResponse) {
		j.State, j.Error = trainerv1.JobState_JOB_STATE_RUNNING, ""
		w.Message = "started"
	})
	s.metrics.running.Inc()
	go func() {
		defer close(done)
		defer cancel()
		defer s.metrics.running.Dec()
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Minute)
		step, err := s.prepare(pctx, s.snapshot(e))
		pcancel()
		if err == nil {
			if step > 0 {
				s.log.Info("continuing from the last recorded checkpoint", "job", id, "step", step)
			}
			spec := RunSpec{Mode: ModeTrain, ConfigPath: filepath.Join(s.store.jobDir(id), "train.json"), LogPath: filepath.Join(s.store.jobDir(id), "worker.log"),
				Lock: s.store.workerLock(id)}
			err = s.runner.Run(ctx, spec, func(ev Event) { s.onEvent(ctx, e, ev) })
		}
		s.mu.Lock()
		cancelled, lost, epoch := e.cancelled, e.lost, e.epoch
		// The service is stopping (not a CancelJob): with the shared store
		// the job goes back to the queue for another replica.
		handover := s.shared != nil && s.ctx.Err() != nil && !cancelled && !lost
		e.handover = handover
		s.mu.Unlock()
		if err == nil {
			uctx, ucancel := context.WithTimeout(context.Background(), 10*time.Minute)
			err = s.saveAdapter(uctx, id, epoch)
			ucancel()
			if err != nil {
				err = fmt.Errorf("upload the trained adapter: %w", err)
			}
		}
		s.update(e, func(j *trainerv1.Job, w *trainerv1.WatchJobResponse) {
			switch {
			case err == nil:
				j.State = trainerv1.JobState_JOB_STATE_SUCCEEDED
				w.Message = "done"
			case cancelled:
				j.State = trainerv1.JobState_JOB_STATE_CANCELLED
				w.Message = "cancelled; ResumeJob continues from the last checkpoint"
			case handover:
				j.State = trainerv1.JobState_JOB_STATE_QUEUED
				w.Message = "handed over: its replica stopped; another continues from the last checkpoint"
			case errors.Is(err, context.Canceled):
				j.State, j.Error = trainerv1.JobState_JOB_STATE_FAILED, interrupted
			default:
				j.State, j.Error = trainerv1.JobState_JOB_STATE_FAILED, err.Error()
			}
			if w.Message == "" {
				w.Message = j.Error
			}
		})
		s.mu.Lock()
		e.running = false
		close(e.changed) // watchers of a job lost or handed over read the store from now on
		e.changed = make(chan struct{})
		s.mu.Unlock()
		s.log.Info("job ended here", "job", id, "state", s.snapshot(e).GetState().String(), "lost", lost, "err", err)
	}()
}

func (s *Service) onEvent(ctx context.Context, e *entry, ev Event) {
	switch ev.Event {
	case "start", "progress", "checkpoint", "done", "error", "warning", "stopped":
	default:
		return
	}
	if ev.Event == "progress" {
		s.metrics.steps.Inc()
		s.metrics.loss.Set(ev.Loss)
		s.metrics.tps.Set(ev.TokensPerSecond)
	}
	if ev.Event == "checkpoint" {
		// The checkpoint is in the bucket and recorded before the job's
		// step says so: a replica taking over continues from it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		err := s.saveCheckpoint(cctx, e, ev)
		cancel()
		if err != nil {
			s.log.Warn("checkpoint not saved to the shared store", "job", e.job.GetId(), "step", ev.Step, "err", err)
			if errors.Is(err, ErrLost) {
				s.mu.Lock()
				e.lost = true
				e.cancel()
				s.mu.Unlock()
			}
			return
		}
	}
	s.update(e, func(j *trainerv1.Job, w *trainerv1.WatchJobResponse) {
		if ev.Step > 0 || ev.Event == "start" {
			j.Step = ev.Step
		}
		if ev.TotalSteps > 0 {
			j.TotalSteps = ev.TotalSteps
		}
		if ev.Device != "" {
			j.Device = ev.Device
		}
		if ev.Event == "progress" {
			j.Loss = float32(ev.Loss)
			w.TokensPerSecond, w.EtaSeconds = float32(ev.TokensPerSecond), float32(ev.EtaSeconds)
		}
		w.Message = ev.Event
		if ev.Message != "" {
			w.Message = ev.Event + ": " + ev.Message
		}
		if ev.Event == "checkpoint" {
			w.Message = fmt.Sprintf("checkpoint at step %d", ev.Step)
		}
	})
}

// cancelJob stops a running job and waits for its worker to checkpoint;
// with the shared store a job running on another replica is flagged, and
// stopped there.
func (s *Service) cancelJob(ctx context.Context, id string) (*trainerv1.Job, error) {
	e, ok := s.local(id)
	if !ok {
		if s.shared == nil {
			return nil, fmt.Errorf("%w: job %q", ErrNotFound, id)
		}
		return s.cancelRemote(ctx, id)
	}
	s.mu.Lock()
	state, done, cancel := e.job.GetState(), e.done, e.cancel
	if activeState(state) {
		e.cancelled = true
	}
	s.mu.Unlock()
	switch state {
	case trainerv1.JobState_JOB_STATE_CANCELLED:
		return s.snapshot(e), nil
	case trainerv1.JobState_JOB_STATE_SUCCEEDED, trainerv1.JobState_JOB_STATE_FAILED:
		return nil, fmt.Errorf("%w: job %s already ended (%s)", ErrState, id, state)
	}
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.snapshot(e), nil
}

func (s *Service) cancelRemote(ctx context.Context, id string) (*trainerv1.Job, error) {
	j, err := s.shared.requestCancel(ctx, id)
	if err != nil {
		return nil, err
	}
	for {
		switch st := j.GetState(); st {
		case trainerv1.JobState_JOB_STATE_CANCELLED:
			return j, nil
		case trainerv1.JobState_JOB_STATE_SUCCEEDED, trainerv1.JobState_JOB_STATE_FAILED:
			return nil, fmt.Errorf("%w: job %s already ended (%s)", ErrState, id, st)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if j, _, err = s.meta.job(ctx, id); err != nil {
			return nil, err
		}
	}
}

// resumeJob relaunches a cancelled or failed job from its last checkpoint,
// on this replica, under the cap.
func (s *Service) resumeJob(ctx context.Context, id string) (*trainerv1.Job, error) {
	j, epoch, err := s.meta.requeueJob(ctx, id, s.caps())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	e, ok := s.jobs[id]
	if !ok {
		e = &entry{changed: make(chan struct{})}
		s.jobs[id] = e
	}
	e.job, e.epoch, e.lost, e.last = j, epoch, false, progressOf(j, "")
	s.mu.Unlock()
	s.launch(e)
	return s.snapshot(e), nil
}

// waitAll waits for every running worker to exit (after Close cancels them).
func (s *Service) waitAll(d time.Duration) {
	s.mu.Lock()
	var dones []chan struct{}
	for _, e := range s.jobs {
		if e.done != nil {
			dones = append(dones, e.done)
		}
	}
	s.mu.Unlock()
	deadline := time.After(d)
	for _, c := range dones {
		select {
		case <-c:
		case <-deadline:
			return
		}
	}
}
