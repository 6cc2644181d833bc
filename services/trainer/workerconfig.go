package trainer

import (
	"cmp"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/proto"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
)

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
	out.R = cmp.Or(out.R, 8)
	out.Alpha = cmp.Or(out.Alpha, 32)
	out.Epochs = cmp.Or(out.Epochs, 1)
	out.BatchSize = cmp.Or(out.BatchSize, 4)
	out.GradientAccumulationSteps = cmp.Or(out.GradientAccumulationSteps, 1)
	out.CheckpointEvery = cmp.Or(out.CheckpointEvery, 50)
	out.MaxSeqLen = cmp.Or(out.MaxSeqLen, 512)
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

func (s *Service) workerConfig(j *trainerv1.Job, dsDir string) workerConfig {
	c := j.GetConfig()
	return workerConfig{
		BaseGGUF: s.cfg.BaseGGUF, BaseDir: s.cfg.BaseDir, DatasetDir: dsDir, OutputDir: s.outDir(j.GetId()),
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
