package trainer

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/testenv"
)

func serve(t *testing.T, svc *Service) trainerv1.TrainerServiceClient {
	t.Helper()
	return trainerv1.NewTrainerServiceClient(testenv.GRPC(t, svc.Register))
}

// watchToEnd watches job id until its stream ends and returns the last
// event; a stream that fails rather than ends fails the test.
func watchToEnd(t *testing.T, ctx context.Context, c trainerv1.TrainerServiceClient, id string) *trainerv1.WatchJobResponse {
	t.Helper()
	w, err := c.WatchJob(ctx, &trainerv1.WatchJobRequest{JobId: id})
	if err != nil {
		t.Fatal(err)
	}
	var last *trainerv1.WatchJobResponse
	for {
		ev, err := w.Recv()
		if errors.Is(err, io.EOF) {
			return last
		}
		if err != nil {
			t.Fatalf("watching job %s: %v", id, err)
		}
		last = ev
	}
}

const tinyJSONL = `{"question": "What was revenue?", "answer": "$4.2 billion", "context": "Revenue was $4.2 billion.", "document_id": "d1"}
{"question": "What was growth?", "answer": "12%", "context": "Growth was 12%.", "document_id": "d1"}
{"question": "Who is CEO?", "answer": "Dana", "context": "The CEO is Dana.", "document_id": "d2"}
{"question": "What was margin?", "answer": "38.5%", "context": "Margin was 38.5%.", "document_id": "d3"}
{"messages": [{"role": "user", "content": "How much cash?"}, {"role": "assistant", "content": "$1.1 billion"}], "document_id": "d4"}
{"question": "Any debt?", "answer": "no debt", "context": "No debt.", "document_id": "d5"}
`

func TestImportDataset(t *testing.T) {
	svc, err := New(Options{DataDir: t.TempDir(), Runner: &fakeRunner{}})
	if err != nil {
		t.Fatal(err)
	}
	c := serve(t, svc)
	ctx := context.Background()
	resp, err := c.ImportDataset(ctx, &trainerv1.ImportDatasetRequest{Jsonl: []byte(tinyJSONL), ValidationFraction: 0.2, TestFraction: 0.2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	d := resp.GetDataset()
	n := d.GetCounts()
	if n.GetTrain()+n.GetValidation()+n.GetTest() != 6 || n.GetTrain() == 0 || n.GetTest() == 0 {
		t.Fatalf("counts %v", n)
	}
	docs := map[string]string{}
	for _, split := range Splits {
		b, err := os.ReadFile(filepath.Join(d.GetPath(), split+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if len(d.GetSha256()[split]) != 64 {
			t.Errorf("sha256 of %s: %q", split, d.GetSha256()[split])
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			ex, err := parseRecord([]byte(line))
			if line == "" {
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", split, err)
			}
			if prev, ok := docs[ex.DocumentID]; ok && prev != split {
				t.Errorf("document %s in %s and %s", ex.DocumentID, prev, split)
			}
			docs[ex.DocumentID] = split
		}
	}
	if _, err := os.Stat(filepath.Join(d.GetPath(), "manifest.json")); err != nil {
		t.Error(err)
	}
	got, err := c.GetDataset(ctx, &trainerv1.GetDatasetRequest{DatasetId: d.GetId()})
	if err != nil || got.GetDataset().GetSha256()["train"] != d.GetSha256()["train"] {
		t.Fatalf("GetDataset: %v %v", got, err)
	}

	for i, tc := range []struct {
		jsonl, want string
	}{
		{tinyJSONL + "{\"question\": \"broken\n", "line 7"},
		{"{\"question\": \"q\", \"answer\": \"\"}\n", "line 1"},
		{"\n{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}\n", "line 2"},
		{"", "no examples"},
	} {
		_, err := c.ImportDataset(ctx, &trainerv1.ImportDatasetRequest{Jsonl: []byte(tc.jsonl)})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("#%d: got %v, want InvalidArgument naming %q", i, err, tc.want)
		}
	}
}

func TestRejectQA(t *testing.T) {
	passage := "Acme reported third-quarter revenue of $4.2 billion, up 12% year over year, said chief executive Dana Whitfield."
	for i, tc := range []struct {
		qa   QA
		want string
	}{
		{QA{Question: "What revenue did Acme report?", Answer: "$4.2 billion"}, ""},
		{QA{Question: "What revenue did Acme report?", Answer: "$5.1 billion"}, "unsupported"},
		{QA{Question: "Who leads the company?", Answer: "Tim Cook the founder"}, "unsupported"},
		{QA{Question: "Revenue?", Answer: "$4.2 billion"}, "length"},
		{QA{Question: "What revenue did Acme report", Answer: "$4.2 billion"}, "not_a_question"},
		{QA{Question: "What did the CEO say about margins?", Answer: "Not mentioned in the passage"}, "unanswerable"},
		{QA{Question: "Did revenue grow 12% year over year?", Answer: "12% year over year"}, "answer_in_question"},
	} {
		if got := rejectQA(tc.qa, passage); got != tc.want {
			t.Errorf("#%d: got %q, want %q", i, got, tc.want)
		}
	}
}

type fakeChunks []Chunk

func (f fakeChunks) Chunks(context.Context, string) ([]Chunk, error) { return f, nil }

type fakeGen struct{}

func (fakeGen) Settings() map[string]string { return map[string]string{"model": "fake"} }
func (fakeGen) Generate(_ context.Context, passage string, seed int64) (QA, error) {
	f := strings.Fields(passage)
	if seed%2 == 1 {
		return QA{Question: "What is the first figure mentioned here?", Answer: "999 unicorns"}, nil // unsupported
	}
	return QA{Question: "How sharply did " + f[0] + " revenue rise?", Answer: strings.Join(f[1:4], " ")}, nil
}

func TestBuildDatasetFiltersAndSplitsByDocument(t *testing.T) {
	var chunks []Chunk
	for d := 0; d < 6; d++ {
		for c := 0; c < 2; c++ {
			txt := strings.Repeat("filler words for length ", 5)
			chunks = append(chunks, Chunk{ID: "c", DocumentID: string(rune('a' + d)), Text: string(rune('A'+d)) + string(rune('0'+c)) + " revenue rose sharply " + txt})
		}
	}
	chunks = append(chunks, Chunk{DocumentID: "z", Text: "too short"})
	svc, err := New(Options{DataDir: t.TempDir(), Runner: &fakeRunner{}, Chunks: fakeChunks(chunks), Generator: fakeGen{}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := svc.buildDataset(context.Background(), &trainerv1.BuildDatasetRequest{Collection: "c", Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	n := d.GetCounts()
	if n.GetTrain()+n.GetValidation()+n.GetTest() != 12 || n.GetTest() == 0 || n.GetTrain() == 0 {
		t.Errorf("counts %v", n)
	}
	if d.GetFiltered()["unsupported"] != 12 || d.GetFiltered()["short_chunk"] != 1 {
		t.Errorf("filtered %v", d.GetFiltered())
	}
	if d.GetGenerator()["prompt_version"] != "" && d.GetGenerator()["model"] != "fake" {
		t.Errorf("generator %v", d.GetGenerator())
	}
	if _, err := svc.buildDataset(context.Background(), &trainerv1.BuildDatasetRequest{}); status.Code(errs.Status(err)) != codes.InvalidArgument {
		t.Errorf("no collection: %v", err)
	}
}

// fakeRunner emits steps until cancelled; resumes from the last step.
type fakeRunner struct {
	mu    sync.Mutex
	step  int32
	total int32
	block bool
}

func (f *fakeRunner) Run(ctx context.Context, spec RunSpec, on func(Event)) error {
	if spec.Mode == ModeEval {
		on(Event{Event: "eval", Report: []byte(`{"base":{"token_f1":0.2,"perplexity":9},"adapter":{"token_f1":0.1,"perplexity":8},"examples":2,"improved":false}`)})
		return nil
	}
	f.mu.Lock()
	total := f.total
	f.mu.Unlock()
	on(Event{Event: "start", Step: f.step, TotalSteps: total, Device: "cpu"})
	for {
		f.mu.Lock()
		if f.step >= total {
			f.mu.Unlock()
			on(Event{Event: "done", Step: total, TotalSteps: total})
			return nil
		}
		block := f.block && f.step >= 2
		if !block {
			f.step++
		}
		s := f.step
		f.mu.Unlock()
		if !block {
			on(Event{Event: "progress", Step: s, TotalSteps: total, Loss: 1.0 / float64(s), TokensPerSecond: 100})
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestJobLifecycleWithFakeWorker(t *testing.T) {
	dir := t.TempDir()
	fr := &fakeRunner{total: 5, block: true}
	svc, err := New(Options{DataDir: dir, Runner: fr})
	if err != nil {
		t.Fatal(err)
	}
	c := serve(t, svc)
	ctx := context.Background()
	ds, err := c.ImportDataset(ctx, &trainerv1.ImportDatasetRequest{Jsonl: []byte(tinyJSONL)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartJob(ctx, &trainerv1.StartJobRequest{DatasetId: "ds-nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown dataset: %v", err)
	}
	st, err := c.StartJob(ctx, &trainerv1.StartJobRequest{DatasetId: ds.GetDataset().GetId(), Config: &trainerv1.LoraConfig{MaxSteps: 5}})
	if err != nil {
		t.Fatal(err)
	}
	job := st.GetJob()
	if job.GetConfig().GetR() != 8 || job.GetConfig().GetAlpha() != 32 || len(job.GetConfig().GetTargetModules()) != 2 {
		t.Errorf("defaults not applied: %v", job.GetConfig())
	}
	w, err := c.WatchJob(ctx, &trainerv1.WatchJobRequest{JobId: job.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := w.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetStep() == 2 {
			break
		}
	}
	cj, err := c.CancelJob(ctx, &trainerv1.CancelJobRequest{JobId: job.GetId()})
	if err != nil || cj.GetJob().GetState() != trainerv1.JobState_JOB_STATE_CANCELLED || cj.GetJob().GetStep() != 2 {
		t.Fatalf("cancel: %v %v", cj, err)
	}
	if _, err := c.EvaluateAdapter(ctx, &trainerv1.EvaluateAdapterRequest{JobId: job.GetId()}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("evaluate a cancelled job: %v", err)
	}
	fr.mu.Lock()
	fr.block = false
	fr.mu.Unlock()
	if _, err := c.ResumeJob(ctx, &trainerv1.ResumeJobRequest{JobId: job.GetId()}); err != nil {
		t.Fatal(err)
	}
	last := watchToEnd(t, ctx, c, job.GetId())
	if last.GetState() != trainerv1.JobState_JOB_STATE_SUCCEEDED || last.GetStep() != 5 {
		t.Fatalf("last event %v", last)
	}
	rep, err := c.EvaluateAdapter(ctx, &trainerv1.EvaluateAdapterRequest{JobId: job.GetId()})
	if err != nil || rep.GetReport().GetImproved() || rep.GetReport().GetBase().GetPerplexity() != 9 {
		t.Fatalf("evaluate: %v %v", rep, err)
	}
	if _, err := c.PublishAdapter(ctx, &trainerv1.PublishAdapterRequest{JobId: job.GetId()}); status.Code(err) != codes.Unavailable {
		t.Errorf("publish without inference: %v", err)
	}
	svc.adapters = loaderFunc(func(context.Context, string, string) error { return nil })
	if _, err := c.PublishAdapter(ctx, &trainerv1.PublishAdapterRequest{JobId: job.GetId()}); status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "force") {
		t.Errorf("publish without improvement: %v", err)
	}

	// A job running when the trainer stops is failed (interrupted) after a
	// restart, and resumable.
	fr2 := &fakeRunner{total: 1000, block: true}
	svc2, err := New(Options{DataDir: dir, Runner: fr2})
	if err != nil {
		t.Fatal(err)
	}
	j2, err := svc2.startJob(ctx, ds.GetDataset().GetId(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// the "stopped" trainer writes nothing more once its worker blocks at
	// step 2 (before that, its progress could land after svc3 failed the job)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if j, err := svc2.getJob(ctx, j2.GetId()); err == nil && j.GetStep() == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first trainer's job did not reach step 2")
		}
	}
	svc3, err := New(Options{DataDir: dir, Runner: &fakeRunner{total: 3}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc3.getJob(ctx, j2.GetId())
	if err != nil || got.GetState() != trainerv1.JobState_JOB_STATE_FAILED || !strings.Contains(got.GetError(), "interrupted") {
		t.Fatalf("restarted: %v %v", got, err)
	}
	if js, err := svc3.listJobs(ctx); err != nil || len(js) != 2 {
		t.Errorf("jobs after restart: %d %v", len(js), err)
	}
	if _, err := svc3.resumeJob(ctx, j2.GetId()); err != nil {
		t.Fatal(err)
	}
	_ = svc2.Close()
	_ = svc3.Close()
}

type loaderFunc func(ctx context.Context, name, path string) error

func (f loaderFunc) Load(ctx context.Context, name, path string) error { return f(ctx, name, path) }
