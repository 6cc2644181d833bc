package trainer

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/etcdtest"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/inference"
)

// TestEndToEndOnCPU trains the served base for a few steps with the real
// worker, cancels and resumes it, evaluates, converts the adapter to GGUF and
// checks that the in-process inference service answers differently with it at
// temperature 0. It needs `make setup` (engine, models, venv); without them,
// or with -short, it is skipped.
func TestEndToEndOnCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	cache := config.DefaultCache()
	tcfg := FromEnv(cache)
	tcfg.Threads = 2
	icfg := inference.FromEnv(cache)
	icfg.ChatCtx, icfg.ChatSlots, icfg.Threads = 2048, 2, 2
	for _, p := range []string{tcfg.Python, tcfg.BaseGGUF, filepath.Join(tcfg.LlamaTree, "convert_lora_to_gguf.py"), icfg.LlamaServer, icfg.ChatModel, icfg.EmbedModel} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s missing: run make setup (make test does)", p)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 14*time.Minute)
	defer cancel()

	inf, err := inference.New(inference.Options{Config: icfg, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer inf.Close()
	ic := inferencev1.NewInferenceServiceClient(testenv.GRPC(t, inf.Register))

	tcfg.WorkerDir, _ = filepath.Abs("worker")
	dataDir := t.TempDir()
	svc, err := New(Options{Config: tcfg, DataDir: dataDir, Adapters: InferenceAdapters{Client: ic}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	c := serve(t, svc)

	tiny, err := os.ReadFile("worker/testdata/tiny.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := c.ImportDataset(ctx, &trainerv1.ImportDatasetRequest{Jsonl: tiny, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &trainerv1.LoraConfig{MaxSteps: 4, BatchSize: 2, MaxSeqLen: 128, CheckpointEvery: 1, LearningRate: 3e-3}
	st, err := c.StartJob(ctx, &trainerv1.StartJobRequest{DatasetId: ds.GetDataset().GetId(), Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	id := st.GetJob().GetId()
	w, err := c.WatchJob(ctx, &trainerv1.WatchJobRequest{JobId: id})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := w.Recv()
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		t.Logf("watch: %v", ev)
		if ev.GetState() == trainerv1.JobState_JOB_STATE_FAILED {
			t.Fatalf("job failed: %s", ev.GetMessage())
		}
		if strings.HasPrefix(ev.GetMessage(), "checkpoint") {
			if ev.GetTokensPerSecond() <= 0 || ev.GetLoss() <= 0 {
				t.Errorf("progress without throughput or loss: %v", ev)
			}
			break
		}
	}
	cj, err := c.CancelJob(ctx, &trainerv1.CancelJobRequest{JobId: id})
	if err != nil || cj.GetJob().GetState() != trainerv1.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("cancel: %v %v", cj, err)
	}
	stopped := cj.GetJob().GetStep()
	if _, err := c.ResumeJob(ctx, &trainerv1.ResumeJobRequest{JobId: id}); err != nil {
		t.Fatal(err)
	}
	w, _ = c.WatchJob(ctx, &trainerv1.WatchJobRequest{JobId: id})
	var last *trainerv1.WatchJobResponse
	for {
		ev, err := w.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("watch: %v", ev)
		if strings.HasPrefix(ev.GetMessage(), "start") && ev.GetStep() < 1 {
			t.Errorf("resumed from step %d, want the checkpoint (cancelled at %d)", ev.GetStep(), stopped)
		}
		last = ev
	}
	if last.GetState() != trainerv1.JobState_JOB_STATE_SUCCEEDED || last.GetStep() != 4 {
		t.Fatalf("after resume: %v", last)
	}

	rep, err := c.EvaluateAdapter(ctx, &trainerv1.EvaluateAdapterRequest{JobId: id, MaxExamples: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("evaluation: %v", rep.GetReport())
	if rep.GetReport().GetExamples() != 1 || rep.GetReport().GetBase().GetPerplexity() <= 1 {
		t.Errorf("report %v", rep.GetReport())
	}
	pub, err := c.PublishAdapter(ctx, &trainerv1.PublishAdapterRequest{JobId: id, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if pub.GetAdapterName() != AdapterName(id) {
		t.Errorf("adapter name %q", pub.GetAdapterName())
	}
	// The format the adapter was trained on (system prompt, context, question).
	prompt := "Context:\nAcme reported third-quarter 2024 revenue of $4.2 billion, up 12% year over year.\n\nQuestion: What was Acme's revenue in Q3 2024?"
	base, withAdapter := generate(ctx, t, ic, prompt, ""), generate(ctx, t, ic, prompt, pub.GetAdapterName())
	t.Logf("base: %q\nadapter: %q", base, withAdapter)
	if base == withAdapter {
		t.Errorf("the adapter did not change the greedy answer: %q", base)
	}
	gj, _ := c.GetJob(ctx, &trainerv1.GetJobRequest{JobId: id})
	if gj.GetJob().GetAdapterName() != pub.GetAdapterName() || gj.GetJob().GetEvaluation() == nil {
		t.Errorf("job not updated: %v", gj.GetJob())
	}
	t.Run("EveryReplicaServesIt", func(t *testing.T) {
		everyReplicaServes(ctx, t, icfg, dataDir, prompt, base, withAdapter)
	})
}

// everyReplicaServes loads the trained adapter through one of two inference
// replicas with real engines over a shared adapter set (etcd, a bucket) and
// checks that the other answers with it within 10 s: the same greedy answer
// as the in-process service gave with the adapter, not the base's.
func everyReplicaServes(ctx context.Context, t *testing.T, icfg inference.Config, dataDir, prompt, base, withAdapter string) {
	var gguf []byte
	for _, f := range testenv.Files(t, dataDir) {
		if filepath.Base(f) == "adapter.gguf" {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			gguf = b
		}
	}
	if len(gguf) == 0 {
		t.Fatal("no adapter.gguf under the trainer's data directory")
	}
	bucketDir := t.TempDir()
	bucket := "file://" + filepath.ToSlash(bucketDir) + "?metadata=skip"
	if err := os.MkdirAll(filepath.Join(bucketDir, "adapters"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bucketDir, "adapters", "e2e.gguf"), gguf, 0o644); err != nil {
		t.Fatal(err)
	}
	etcd := etcdtest.Start(t, 1)
	replica := func() inferencev1.InferenceServiceClient {
		cli, err := clientv3.New(clientv3.Config{Endpoints: etcd.Endpoints(), DialTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cli.Close() })
		inf, err := inference.New(inference.Options{Config: icfg, DataDir: t.TempDir(),
			Shared: &inference.SharedAdapters{Etcd: cli, BlobsURL: bucket, CacheDir: t.TempDir(), Prefix: "/e2e/adapters/"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = inf.Close() })
		return inferencev1.NewInferenceServiceClient(testenv.GRPC(t, inf.Register))
	}
	a, b := replica(), replica()
	if got := generate(ctx, t, b, prompt, ""); got != base {
		t.Fatalf("replica B's base answer %q, want the in-process base's %q", got, base)
	}
	if _, err := a.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "e2e", Path: "adapters/e2e.gguf"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		got, err := generateOnce(ctx, b, prompt, "e2e")
		if err == nil && got == withAdapter {
			t.Logf("replica B serves the adapter %v after LoadAdapter on A", time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("replica B 10 s after LoadAdapter on A: %q, %v (want the adapter's answer %q)", got, err, withAdapter)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := generate(ctx, t, a, prompt, "e2e"); got != withAdapter {
		t.Errorf("replica A with the adapter: %q, want %q", got, withAdapter)
	}
}

// generateOnce asks once (no retry): the answer, or the call's error.
func generateOnce(ctx context.Context, ic inferencev1.InferenceServiceClient, prompt, adapter string) (string, error) {
	temp := float32(0)
	st, err := ic.Generate(ctx, &inferencev1.GenerateRequest{Temperature: &temp, MaxTokens: 24, Adapter: adapter,
		Messages: []*inferencev1.ChatMessage{{Role: inferencev1.Role_ROLE_SYSTEM, Content: SystemPrompt}, {Role: inferencev1.Role_ROLE_USER, Content: prompt}}})
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for {
		r, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return sb.String(), nil
		}
		if err != nil {
			return "", err
		}
		sb.WriteString(r.GetDelta())
	}
}

func generate(ctx context.Context, t *testing.T, ic inferencev1.InferenceServiceClient, prompt, adapter string) string {
	t.Helper()
	for {
		out, err := generateOnce(ctx, ic, prompt, adapter)
		if err == nil {
			return out
		}
		if ctx.Err() != nil {
			t.Fatalf("generate: %v", err)
		}
		time.Sleep(time.Second) // the engine may still be starting
	}
}
