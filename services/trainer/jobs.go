package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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
	busy      bool // evaluate or publish in progress
}

func terminal(s trainerv1.JobState) bool {
	return s == trainerv1.JobState_JOB_STATE_SUCCEEDED || s == trainerv1.JobState_JOB_STATE_FAILED || s == trainerv1.JobState_JOB_STATE_CANCELLED
}

// workerConfig is the worker's job file (pdfqa_trainer/config.py Config).
type workerConfig struct {
	BaseGGUF                  string   `json:"base_gguf"`
	BaseDir                   string   `json:"base_dir"`
	DatasetDir                string   `json:"dataset_dir"`
	OutputDir                 string   `json:"output_dir"`
	R                         int32    `json:"r"`
	LoraAlpha                 int32    `json:"lora_alpha"`
	LoraDropout               float32  `json:"lora_dropout"`
	TargetModules             []string `json:"target_modules"`
	LearningRate              float32  `json:"learning_rate"`
	Epochs                    int32    `json:"epochs"`
	MaxSteps                  int32    `json:"max_steps"`
	BatchSize                 int32    `json:"batch_size"`
	GradientAccumulationSteps int32    `json:"gradient_accumulation_steps"`
	CheckpointEvery           int32    `json:"checkpoint_every"`
	MaxSeqLen                 int32    `json:"max_seq_len"`
	Qlora                     bool     `json:"qlora"`
	Seed                      int64    `json:"seed"`
	Threads                   int      `json:"threads"`
	EvalMaxExamples           int32    `json:"eval_max_examples"`
}

// withDefaults fills zero fields of a LoraConfig.
func withDefaults(c *trainerv1.LoraConfig) (*trainerv1.LoraConfig, error) {
	out := proto.Clone(c).(*trainerv1.LoraConfig)
	if out == nil {
		out = &trainerv1.LoraConfig{}
	}
	def := func(v *int32, d int32) {
		if *v == 0 {
			*v = d
		}
	}
	def(&out.R, 8)
	def(&out.Alpha, 32)
	def(&out.Epochs, 1)
	def(&out.BatchSize, 4)
	def(&out.GradientAccumulationSteps, 1)
	def(&out.CheckpointEvery, 50)
	def(&out.MaxSeqLen, 512)
	if out.Dropout == 0 {
		out.Dropout = 0.05
	}
	if out.LearningRate == 0 {
		out.LearningRate = 2e-4
	}
	if len(out.TargetModules) == 0 {
		out.TargetModules = []string{"q_proj", "v_proj"}
	}
	for _, b := range []struct {
		name   string
		v, max int32
	}{
		{"r", out.R, 256}, {"alpha", out.Alpha, 4096}, {"epochs", out.Epochs, 100}, {"max_steps", out.MaxSteps, 100_000},
		{"batch_size", out.BatchSize, 64}, {"gradient_accumulation_steps", out.GradientAccumulationSteps, 256},
		{"checkpoint_every", out.CheckpointEvery, 100_000}, {"max_seq_len", out.MaxSeqLen, 4096},
	} {
		if b.v < 0 || b.v > b.max {
			return nil, fmt.Errorf("%w: config.%s = %d: must be in 0..%d", ErrInvalid, b.name, b.v, b.max)
		}
	}
	if len(out.TargetModules) > 32 {
		return nil, fmt.Errorf("%w: config.target_modules: %d > 32", ErrInvalid, len(out.TargetModules))
	}
	if out.Dropout < 0 || out.Dropout >= 1 || out.LearningRate < 0 {
		return nil, fmt.Errorf("%w: dropout must be in [0,1) and learning_rate positive", ErrInvalid)
	}
	return out, nil
}

func (s *Service) workerConfig(j *trainerv1.Job, ds *trainerv1.Dataset) workerConfig {
	c := j.GetConfig()
	return workerConfig{
		BaseGGUF: s.cfg.BaseGGUF, BaseDir: s.cfg.BaseDir, DatasetDir: ds.GetPath(), OutputDir: j.GetOutputDir(),
		R: c.GetR(), LoraAlpha: c.GetAlpha(), LoraDropout: c.GetDropout(), TargetModules: c.GetTargetModules(),
		LearningRate: c.GetLearningRate(), Epochs: c.GetEpochs(), MaxSteps: c.GetMaxSteps(), BatchSize: c.GetBatchSize(),
		GradientAccumulationSteps: c.GetGradientAccumulationSteps(), CheckpointEvery: c.GetCheckpointEvery(),
		MaxSeqLen: c.GetMaxSeqLen(), Qlora: c.GetQlora(), Seed: c.GetSeed(), Threads: s.cfg.Threads,
	}
}

func writeWorkerConfig(path string, wc workerConfig) error {
	b, err := json.MarshalIndent(wc, "", " ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

// recover loads persisted jobs; those that were running are marked failed
// (interrupted) and stay resumable.
func (s *Service) recover() error {
	jobs, err := s.store.jobs()
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if !terminal(j.GetState()) {
			j.State, j.Error, j.UpdateTime = trainerv1.JobState_JOB_STATE_FAILED, interrupted, timestamppb.Now()
			if err := s.store.saveJob(j); err != nil {
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

// update applies f to the job under the lock, persists it and wakes watchers.
func (s *Service) update(e *entry, f func(j *trainerv1.Job, w *trainerv1.WatchJobResponse)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := progressOf(e.job, "")
	w.TokensPerSecond, w.EtaSeconds = e.last.GetTokensPerSecond(), e.last.GetEtaSeconds()
	f(e.job, w)
	e.job.UpdateTime = timestamppb.Now()
	w.State, w.Step, w.TotalSteps, w.Loss = e.job.GetState(), e.job.GetStep(), e.job.GetTotalSteps(), e.job.GetLoss()
	e.last = w
	e.version++
	close(e.changed)
	e.changed = make(chan struct{})
	if err := s.store.saveJob(e.job); err != nil {
		s.log.Error("persist job", "job", e.job.GetId(), "err", err)
	}
}

func (s *Service) entry(id string) (*entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.jobs[id]
	if !ok {
		return nil, fmt.Errorf("%w: job %q", ErrNotFound, id)
	}
	return e, nil
}

func (s *Service) snapshot(e *entry) *trainerv1.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return proto.Clone(e.job).(*trainerv1.Job)
}

// startJob creates and launches a job.
func (s *Service) startJob(datasetID string, cfg *trainerv1.LoraConfig) (*trainerv1.Job, error) {
	ds, err := s.store.dataset(datasetID)
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
	if err := s.roomForJob(); err != nil {
		return nil, err
	}
	id := newID("job")
	now := timestamppb.Now()
	j := &trainerv1.Job{Id: id, DatasetId: datasetID, State: trainerv1.JobState_JOB_STATE_QUEUED, Config: c, Tenant: ds.GetTenant(),
		OutputDir: filepath.Join(s.store.jobDir(id), "out"), CreateTime: now, UpdateTime: now}
	if err := os.MkdirAll(j.OutputDir, 0o755); err != nil {
		return nil, err
	}
	if err := writeWorkerConfig(filepath.Join(s.store.jobDir(id), "train.json"), s.workerConfig(j, ds)); err != nil {
		return nil, err
	}
	if err := s.store.saveJob(j); err != nil {
		return nil, err
	}
	e := &entry{job: j, changed: make(chan struct{}), last: progressOf(j, "")}
	s.mu.Lock()
	s.jobs[id] = e
	s.mu.Unlock()
	s.launch(e)
	return s.snapshot(e), nil
}

// launch runs the training worker for e in the background.
func (s *Service) launch(e *entry) {
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	s.mu.Lock()
	e.cancel, e.done, e.cancelled = cancel, done, false
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
		spec := RunSpec{Mode: ModeTrain, ConfigPath: filepath.Join(s.store.jobDir(id), "train.json"), LogPath: filepath.Join(s.store.jobDir(id), "worker.log"),
			Lock: s.store.workerLock(id)}
		err := s.runner.Run(ctx, spec, func(ev Event) { s.onEvent(e, ev) })
		s.mu.Lock()
		cancelled := e.cancelled
		s.mu.Unlock()
		s.update(e, func(j *trainerv1.Job, w *trainerv1.WatchJobResponse) {
			switch {
			case err == nil:
				j.State = trainerv1.JobState_JOB_STATE_SUCCEEDED
				w.Message = "done"
			case cancelled:
				j.State = trainerv1.JobState_JOB_STATE_CANCELLED
				w.Message = "cancelled; ResumeJob continues from the last checkpoint"
			case errors.Is(err, context.Canceled):
				j.State, j.Error = trainerv1.JobState_JOB_STATE_FAILED, interrupted
			default:
				j.State, j.Error = trainerv1.JobState_JOB_STATE_FAILED, err.Error()
			}
			if w.Message == "" {
				w.Message = j.Error
			}
		})
		s.log.Info("job ended", "job", id, "state", e.job.GetState().String(), "err", err)
	}()
}

func (s *Service) onEvent(e *entry, ev Event) {
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

// cancelJob stops a running job and waits for its worker to checkpoint.
func (s *Service) cancelJob(ctx context.Context, id string) (*trainerv1.Job, error) {
	e, err := s.entry(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	state, done, cancel := e.job.GetState(), e.done, e.cancel
	if state == trainerv1.JobState_JOB_STATE_RUNNING || state == trainerv1.JobState_JOB_STATE_QUEUED {
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

// resumeJob relaunches a cancelled or failed job from its last checkpoint.
func (s *Service) resumeJob(id string) (*trainerv1.Job, error) {
	e, err := s.entry(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	state := e.job.GetState()
	if state != trainerv1.JobState_JOB_STATE_CANCELLED && state != trainerv1.JobState_JOB_STATE_FAILED {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: job %s is %s; only cancelled or failed jobs resume", ErrState, id, state)
	}
	if err := s.roomForJobLocked(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	e.job.State = trainerv1.JobState_JOB_STATE_QUEUED
	s.mu.Unlock()
	s.launch(e)
	return s.snapshot(e), nil
}

// watch sends the job's progress until it ends or ctx is done.
func (s *Service) watch(ctx context.Context, id string, send func(*trainerv1.WatchJobResponse) error) error {
	e, err := s.entry(id)
	if err != nil {
		return err
	}
	seen := -1
	for {
		s.mu.Lock()
		last, v, ch := proto.Clone(e.last).(*trainerv1.WatchJobResponse), e.version, e.changed
		s.mu.Unlock()
		if v != seen {
			if err := send(last); err != nil {
				return err
			}
			seen = v
		}
		if terminal(last.GetState()) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Service) listJobs() []*trainerv1.Job {
	s.mu.Lock()
	out := make([]*trainerv1.Job, 0, len(s.jobs))
	for _, e := range s.jobs {
		out = append(out, proto.Clone(e.job).(*trainerv1.Job))
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].GetCreateTime().AsTime().After(out[j].GetCreateTime().AsTime()) })
	return out
}

// reserve marks a finished job busy for evaluate/publish.
func (s *Service) reserve(id string) (*entry, func(), error) {
	e, err := s.entry(id)
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.job.GetState() != trainerv1.JobState_JOB_STATE_SUCCEEDED {
		return nil, nil, fmt.Errorf("%w: job %s is %s; it must have succeeded", ErrState, id, e.job.GetState())
	}
	if e.busy {
		return nil, nil, fmt.Errorf("%w: job %s is being evaluated or published", ErrState, id)
	}
	e.busy = true
	return e, func() { s.mu.Lock(); e.busy = false; s.mu.Unlock() }, nil
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

// roomForJob fails with ErrBusy when Config.MaxJobs jobs are queued or
// running: every job is a training process.
func (s *Service) roomForJob() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roomForJobLocked()
}

func (s *Service) roomForJobLocked() error {
	limit := s.cfg.MaxJobs
	if limit <= 0 {
		limit = 1
	}
	n := 0
	for _, e := range s.jobs {
		if st := e.job.GetState(); st == trainerv1.JobState_JOB_STATE_RUNNING || st == trainerv1.JobState_JOB_STATE_QUEUED {
			n++
		}
	}
	if n >= limit {
		return fmt.Errorf("%w: %d of %d training jobs already running; wait for one to finish or cancel one", ErrBusy, n, limit)
	}
	return nil
}
