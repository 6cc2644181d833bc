package trainer

import (
	"errors"
	"strings"
	"testing"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
)

func TestConfigBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  *trainerv1.LoraConfig
		want string
	}{
		{"huge r", &trainerv1.LoraConfig{R: 1 << 20}, "config.r = 1048576: must be in 0..256"},
		{"huge max_seq_len", &trainerv1.LoraConfig{MaxSeqLen: 1 << 20}, "config.max_seq_len"},
		{"huge batch", &trainerv1.LoraConfig{BatchSize: 100000}, "config.batch_size"},
		{"negative epochs", &trainerv1.LoraConfig{Epochs: -1}, "config.epochs"},
		{"many modules", &trainerv1.LoraConfig{TargetModules: make([]string, 33)}, "target_modules"},
	} {
		_, err := withDefaults(tc.cfg)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrInvalid naming %q", tc.name, err, tc.want)
		}
	}
	if _, err := withDefaults(&trainerv1.LoraConfig{R: 16, MaxSeqLen: 1024}); err != nil {
		t.Errorf("a sane config: %v", err)
	}
}

func TestConcurrentJobCap(t *testing.T) {
	s := &Service{cfg: Config{MaxJobs: 2}, jobs: map[string]*entry{}}
	add := func(id string, st trainerv1.JobState) {
		s.jobs[id] = &entry{job: &trainerv1.Job{Id: id, State: st}}
	}
	add("done", trainerv1.JobState_JOB_STATE_SUCCEEDED)
	add("a", trainerv1.JobState_JOB_STATE_RUNNING)
	if err := s.roomForJob(); err != nil {
		t.Fatalf("one of two running: %v", err)
	}
	add("b", trainerv1.JobState_JOB_STATE_QUEUED)
	err := s.roomForJob()
	if !errors.Is(err, ErrBusy) || errs.Status(err) == nil || !strings.Contains(errs.Status(err).Error(), "ResourceExhausted") {
		t.Fatalf("two of two running: got %v, want ErrBusy (ResourceExhausted)", err)
	}
}
