package trainer

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/auth"
)

// defaultMaxExamples bounds BuildDataset's generation work.
const defaultMaxExamples = 200

func (s *Service) buildDataset(ctx context.Context, req *trainerv1.BuildDatasetRequest) (*trainerv1.Dataset, error) {
	if req.GetCollection() == "" {
		return nil, fmt.Errorf("%w: collection is required", ErrInvalid)
	}
	if s.chunks == nil || s.gen == nil {
		return nil, fmt.Errorf("%w: BuildDataset needs the retrieval and inference services", ErrUnavailable)
	}
	if req.GetMaxExamples() < 0 || req.GetValidationFraction() < 0 || req.GetTestFraction() < 0 || req.GetValidationFraction()+req.GetTestFraction() >= 1 {
		return nil, fmt.Errorf("%w: max_examples must be >= 0 and the fractions in [0, 1) with a sum below 1", ErrInvalid)
	}
	chunks, err := s.chunks.Chunks(ctx, req.GetCollection())
	if err != nil {
		return nil, err
	}
	if len(chunks) == 0 {
		return nil, fmt.Errorf("%w: collection %q has no chunks: ingest documents first", ErrState, req.GetCollection())
	}
	maxN := int(req.GetMaxExamples())
	if maxN == 0 {
		maxN = defaultMaxExamples
	}
	start := time.Now()
	lastLog := start
	progress := func(p buildProgress) {
		if now := time.Now(); now.Sub(lastLog) >= 10*time.Second || p.Attempts == p.MaxAttempts {
			lastLog = now
			s.log.Info("building dataset", "collection", req.GetCollection(), "attempts", p.Attempts, "max_attempts", p.MaxAttempts,
				"accepted", p.Accepted, "max_examples", p.MaxExamples, "elapsed", now.Sub(start).Round(time.Second).String())
		}
	}
	exs, filtered, err := buildExamples(ctx, chunks, s.gen, buildSettings{MaxExamples: maxN, PairsPerChunk: 2, Seed: req.GetSeed(), Progress: progress})
	if err != nil {
		return nil, err
	}
	if len(exs) < 2 {
		return nil, fmt.Errorf("%w: only %d grounded pairs survived the filters (%v)", ErrState, len(exs), filtered)
	}
	gen := s.gen.Settings()
	gen["pairs_per_chunk"], gen["seed"], gen["chunks"] = "2", fmt.Sprint(req.GetSeed()), fmt.Sprint(len(chunks))
	d := &trainerv1.Dataset{Id: newID("ds"), Collection: req.GetCollection(), Generator: gen, ChatTemplate: s.cfg.chatTemplate(), Filtered: filtered,
		Tenant: auth.Tenant(ctx)}
	return s.writeDataset(ctx, d, splitByDocument(exs, req.GetValidationFraction(), req.GetTestFraction(), req.GetSeed()))
}

func (s *Service) importDataset(ctx context.Context, req *trainerv1.ImportDatasetRequest) (*trainerv1.Dataset, error) {
	if req.GetValidationFraction() < 0 || req.GetTestFraction() < 0 || req.GetValidationFraction()+req.GetTestFraction() >= 1 {
		return nil, fmt.Errorf("%w: fractions must be in [0, 1) with a sum below 1", ErrInvalid)
	}
	exs, err := parseImport(req.GetJsonl())
	if err != nil {
		return nil, err
	}
	d := &trainerv1.Dataset{Id: newID("ds"), Generator: map[string]string{"source": "import"}, ChatTemplate: s.cfg.chatTemplate(), Tenant: auth.Tenant(ctx)}
	return s.writeDataset(ctx, d, splitByDocument(exs, req.GetValidationFraction(), req.GetTestFraction(), req.GetSeed()))
}

// evalReport is the worker's eval.json.
type evalReport struct {
	Base, Adapter struct {
		TokenF1    float32 `json:"token_f1"`
		ExactMatch float32 `json:"exact_match"`
		RougeL     float32 `json:"rouge_l"`
		Perplexity float32 `json:"perplexity"`
	}
	Examples int32 `json:"examples"`
	Improved bool  `json:"improved"`
}

func (s *Service) evaluate(ctx context.Context, id string, maxExamples int32) (*trainerv1.EvaluationReport, error) {
	if maxExamples < 0 {
		return nil, fmt.Errorf("%w: max_examples must not be negative", ErrInvalid)
	}
	e, ctx, release, err := s.reserve(ctx, id)
	if err != nil {
		return nil, err
	}
	defer release()
	j := s.snapshot(e)
	ds, err := s.meta.dataset(ctx, j.GetDatasetId())
	if err != nil {
		return nil, err
	}
	dsDir, err := s.datasetDir(ctx, ds)
	if err != nil {
		return nil, err
	}
	split := "test"
	if ds.GetCounts().GetTest() == 0 {
		if split = "validation"; ds.GetCounts().GetValidation() == 0 {
			return nil, fmt.Errorf("%w: dataset %s has no held-out examples", ErrState, ds.GetId())
		}
	}
	wc := s.workerConfig(j, dsDir)
	wc.EvalMaxExamples = maxExamples
	raw, _ := json.Marshal(wc)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	m["eval_split"] = split
	cfgPath := filepath.Join(s.store.jobDir(id), "eval.json")
	b, _ := json.MarshalIndent(m, "", " ")
	if err := writeFileAtomic(cfgPath, b); err != nil {
		return nil, err
	}
	var rep *evalReport
	err = s.runner.Run(ctx, RunSpec{Mode: ModeEval, ConfigPath: cfgPath, LogPath: filepath.Join(s.store.jobDir(id), "worker.log"), Lock: s.store.workerLock(id)}, func(ev Event) {
		if ev.Event == "eval" && len(ev.Report) > 0 {
			var r evalReport
			if json.Unmarshal(ev.Report, &r) == nil {
				rep = &r
			}
		}
	})
	if err != nil {
		return nil, lostOr(ctx, err)
	}
	if rep == nil {
		return nil, fmt.Errorf("%w: evaluation produced no report", ErrWorker)
	}
	out := &trainerv1.EvaluationReport{
		Base:     &trainerv1.Metrics{TokenF1: rep.Base.TokenF1, ExactMatch: rep.Base.ExactMatch, RougeL: rep.Base.RougeL, Perplexity: rep.Base.Perplexity},
		Adapter:  &trainerv1.Metrics{TokenF1: rep.Adapter.TokenF1, ExactMatch: rep.Adapter.ExactMatch, RougeL: rep.Adapter.RougeL, Perplexity: rep.Adapter.Perplexity},
		Examples: rep.Examples, Improved: rep.Improved,
	}
	if err := s.update(e, func(j *trainerv1.Job, w *trainerv1.WatchJobResponse) { j.Evaluation = out; w.Message = "evaluated" }); err != nil {
		return nil, fmt.Errorf("the evaluation of job %s was not recorded: %w", id, err)
	}
	return out, nil
}

var adapterNameRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// AdapterName is the name a job's adapter is published under by default:
// what `pdfqa ask --adapter` and Generate's adapter field take.
func AdapterName(jobID string) string { return "ft-" + strings.TrimPrefix(jobID, "job-") }

func (s *Service) publish(ctx context.Context, id, name string, force bool) (string, string, error) {
	if name == "" {
		name = AdapterName(id)
	}
	if !adapterNameRe.MatchString(name) {
		return "", "", fmt.Errorf("%w: adapter name %q: use letters, digits, '.', '_' or '-'", ErrInvalid, name)
	}
	if s.adapters == nil {
		return "", "", fmt.Errorf("%w: PublishAdapter needs the inference service", ErrUnavailable)
	}
	e, ctx, release, err := s.reserve(ctx, id)
	if err != nil {
		return "", "", err
	}
	defer release()
	j := s.snapshot(e)
	if !force {
		switch {
		case j.GetEvaluation() == nil:
			return "", "", fmt.Errorf("%w: job %s is not evaluated: run EvaluateAdapter first or publish with force", ErrState, id)
		case !j.GetEvaluation().GetImproved():
			return "", "", fmt.Errorf("%w: the adapter did not beat the base on token F1 (%.3f vs %.3f): publish with force to serve it anyway",
				ErrState, j.GetEvaluation().GetAdapter().GetTokenF1(), j.GetEvaluation().GetBase().GetTokenF1())
		}
	}
	out := filepath.Join(s.outDir(id), "adapter.gguf")
	if err := s.convert(ctx, filepath.Join(s.outDir(id), "adapter"), out, filepath.Join(s.store.jobDir(id), "worker.log")); err != nil {
		return "", "", lostOr(ctx, err)
	}
	if err := s.adapters.Load(ctx, name, out); err != nil {
		return "", "", lostOr(ctx, fmt.Errorf("load adapter into inference: %w", err))
	}
	err = s.update(e, func(j *trainerv1.Job, w *trainerv1.WatchJobResponse) {
		j.AdapterName = name
		w.Message = "published as " + name
	})
	if err != nil {
		return "", "", fmt.Errorf("job %s: inference serves %s, but the job's record of it was not written (publish again): %w", id, name, err)
	}
	return name, out, nil
}

// convert runs llama.cpp's convert_lora_to_gguf.py on a PEFT adapter.
func (s *Service) convert(ctx context.Context, adapterDir, out, logPath string) error {
	if _, err := os.Stat(filepath.Join(adapterDir, "adapter_config.json")); err != nil {
		return fmt.Errorf("%w: no trained adapter in %s", ErrState, adapterDir)
	}
	script := filepath.Join(s.cfg.LlamaTree, "convert_lora_to_gguf.py")
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("%w: %s is missing: run `make setup` (scripts/setup/all.sh)", ErrUnavailable, script)
	}
	if _, err := os.Stat(filepath.Join(s.cfg.BaseDir, "config.json")); err != nil {
		return fmt.Errorf("%w: no HF base in %s (training creates it)", ErrState, s.cfg.BaseDir)
	}
	cmd := exec.CommandContext(ctx, s.cfg.Python, script, "--base", s.cfg.BaseDir, "--outtype", "f32", "--outfile", out+".tmp", adapterDir)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join(s.cfg.LlamaTree, "gguf-py"), "HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1")
	b, err := cmd.CombinedOutput()
	if f, ferr := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); ferr == nil {
		_, _ = f.Write(b)
		_ = f.Close()
	}
	if err != nil {
		t := strings.TrimSpace(string(b))
		if len(t) > 1500 {
			t = t[len(t)-1500:]
		}
		return fmt.Errorf("%w: convert_lora_to_gguf.py: %v: %s", ErrWorker, err, t)
	}
	return os.Rename(out+".tmp", out)
}
