//go:build unix

package trainer

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/pgtest"
)

// inFlight counts the evaluations and publishes running at once (across
// every replica of a test: they share one process) and the most seen.
type inFlight struct {
	mu     sync.Mutex
	n, max int
}

func (f *inFlight) enter() func() {
	f.mu.Lock()
	f.n++
	f.max = max(f.max, f.n)
	f.mu.Unlock()
	return func() { f.mu.Lock(); f.n--; f.mu.Unlock() }
}

func (f *inFlight) most() int { f.mu.Lock(); defer f.mu.Unlock(); return f.max }

// reserveRunner stands in for the Python worker (which needs torch and the
// base model; TestEndToEndOnCPU runs the real one): training writes the
// adapter files the worker writes and ends; an evaluation, which must find
// the adapter on its machine, holds for hold and reports examples =
// eval_max_examples, the calling test's tag for that call, recording the
// tags in the order the evaluations ran.
type reserveRunner struct {
	hold time.Duration
	in   *inFlight
	mu   sync.Mutex
	ran  []int32
}

func (r *reserveRunner) Run(ctx context.Context, spec RunSpec, on func(Event)) error {
	var wc workerConfig
	b, err := os.ReadFile(spec.ConfigPath)
	if err == nil {
		err = json.Unmarshal(b, &wc)
	}
	if err != nil {
		return err
	}
	adapter := filepath.Join(wc.OutputDir, "adapter")
	if spec.Mode == ModeEval {
		if _, err := os.Stat(filepath.Join(adapter, "adapter_config.json")); err != nil {
			return fmt.Errorf("no adapter to evaluate: %w", err)
		}
		defer r.in.enter()()
		r.mu.Lock()
		r.ran = append(r.ran, wc.EvalMaxExamples)
		r.mu.Unlock()
		select {
		case <-time.After(r.hold):
		case <-ctx.Done():
			return ctx.Err()
		}
		on(Event{Event: "eval", Report: fmt.Appendf(nil, `{"base":{"token_f1":0.2},"adapter":{"token_f1":0.4},"examples":%d,"improved":true}`, wc.EvalMaxExamples)})
		return nil
	}
	if err := os.MkdirAll(adapter, 0o755); err != nil {
		return err
	}
	for name, body := range map[string]string{"adapter_config.json": `{"r": 8}`, "adapter_model.safetensors": "weights"} {
		if err := os.WriteFile(filepath.Join(adapter, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	on(Event{Event: "start", TotalSteps: 1})
	on(Event{Event: "progress", Step: 1, TotalSteps: 1, Loss: 0.5})
	on(Event{Event: "done", Step: 1, TotalSteps: 1})
	return nil
}

func (r *reserveRunner) evaluations() []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ran)
}

// loadRecorder is inference's LoadAdapter as publish reaches it (the
// inference side has tests of its own): it holds for hold and records the
// names in the order they were loaded.
type publishRecorder struct {
	hold  time.Duration
	in    *inFlight
	mu    sync.Mutex
	names []string
}

func (l *publishRecorder) Load(ctx context.Context, name, path string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	defer l.in.enter()()
	l.mu.Lock()
	l.names = append(l.names, name)
	l.mu.Unlock()
	select {
	case <-time.After(l.hold):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *publishRecorder) loaded() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.names)
}

// fakeConverter is a Config whose converter is a shell script standing in
// for llama.cpp's convert_lora_to_gguf.py (the real one needs the HF base
// model, made by a real training run: TestEndToEndOnCPU runs it); it
// writes the --outfile it is given (its 6th argument).
func fakeConverter(t *testing.T) Config {
	tree, base := t.TempDir(), t.TempDir()
	script := "printf 'GGUF adapter of %s\\n' \"$7\" > \"$6\"\n"
	if err := os.WriteFile(filepath.Join(tree, "convert_lora_to_gguf.py"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	return Config{Python: "/bin/sh", LlamaTree: tree, BaseDir: base}
}

// succeededJob imports a dataset and trains a job to SUCCEEDED through c.
func succeededJob(t *testing.T, ctx context.Context, c trainerv1.TrainerServiceClient) string {
	t.Helper()
	ds, err := c.ImportDataset(ctx, &trainerv1.ImportDatasetRequest{Jsonl: []byte(tinyJSONL)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.StartJob(ctx, &trainerv1.StartJobRequest{DatasetId: ds.GetDataset().GetId(), Config: &trainerv1.LoraConfig{MaxSteps: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if last := watchToEnd(t, ctx, c, st.GetJob().GetId()); last.GetState() != trainerv1.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job ended %v", last)
	}
	return st.GetJob().GetId()
}

// TestConcurrentEvaluateAndPublish: many callers evaluate and publish one
// finished job at once (through both replicas with the shared store). At
// most one evaluate or publish runs at a time; the others are refused
// with Aborted and call again; so every call is applied once, one after
// another, and the job ends holding the last evaluation and the last
// published name: neither overwrote the other's result.
func TestConcurrentEvaluateAndPublish(t *testing.T) {
	for _, impl := range storeImpls {
		t.Run(impl.name, func(t *testing.T) {
			in := &inFlight{}
			rr := &reserveRunner{hold: 20 * time.Millisecond, in: in}
			lr := &publishRecorder{hold: 20 * time.Millisecond, in: in}
			svcs := impl.open(t, Options{Config: fakeConverter(t), Runner: rr, Adapters: lr, Lease: testLease})
			var cs []trainerv1.TrainerServiceClient
			for _, s := range svcs {
				cs = append(cs, serve(t, s))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			id := succeededJob(t, ctx, cs[0])

			const calls = 24
			var (
				mu      sync.Mutex
				aborted int
				other   []error
			)
			atOnce(calls, func(i int) {
				c := cs[i%len(cs)]
				for ctx.Err() == nil {
					var err error
					if i%3 == 0 {
						_, err = c.PublishAdapter(ctx, &trainerv1.PublishAdapterRequest{JobId: id, Name: fmt.Sprintf("pub-%d", i), Force: true})
					} else {
						_, err = c.EvaluateAdapter(ctx, &trainerv1.EvaluateAdapterRequest{JobId: id, MaxExamples: int32(100 + i)})
					}
					if err == nil {
						return
					}
					mu.Lock()
					if status.Code(err) == codes.Aborted && strings.Contains(err.Error(), "being evaluated or published") {
						aborted++
					} else {
						other = append(other, err)
					}
					mu.Unlock()
					if status.Code(err) != codes.Aborted {
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			})
			if len(other) > 0 {
				t.Fatalf("errors other than Aborted for a held job: %v", other)
			}
			if aborted == 0 {
				t.Fatal("no call was refused: the calls did not overlap, so the test shows nothing")
			}
			if n := in.most(); n != 1 {
				t.Fatalf("%d evaluations or publishes of one job ran at once, want 1", n)
			}
			evals, loads := rr.evaluations(), lr.loaded()
			var wantEvals []int32
			var wantLoads []string
			for i := range calls {
				if i%3 == 0 {
					wantLoads = append(wantLoads, fmt.Sprintf("pub-%d", i))
				} else {
					wantEvals = append(wantEvals, int32(100+i))
				}
			}
			if got := slices.Sorted(slices.Values(evals)); !slices.Equal(got, wantEvals) {
				t.Fatalf("evaluations that ran: %v, want each call's once: %v", got, wantEvals)
			}
			if got := slices.Sorted(slices.Values(loads)); !slices.Equal(got, slices.Sorted(slices.Values(wantLoads))) {
				t.Fatalf("adapters loaded: %v, want each publish's once: %v", got, wantLoads)
			}
			for k, c := range cs {
				g, err := c.GetJob(ctx, &trainerv1.GetJobRequest{JobId: id})
				if err != nil {
					t.Fatal(err)
				}
				if got, want := g.GetJob().GetEvaluation().GetExamples(), evals[len(evals)-1]; got != want {
					t.Errorf("replica %d: the job's evaluation is call %d's, want the last one run, %d's (%d calls, %d refusals)", k, got, want, calls, aborted)
				}
				if got, want := g.GetJob().GetAdapterName(), loads[len(loads)-1]; got != want {
					t.Errorf("replica %d: the job is published as %q, want the last one loaded, %q", k, got, want)
				}
			}
			// Every claim was given back: one more call through each
			// replica runs at once.
			for k, c := range cs {
				if _, err := c.EvaluateAdapter(ctx, &trainerv1.EvaluateAdapterRequest{JobId: id, MaxExamples: 7}); err != nil {
					t.Fatalf("evaluate through replica %d after the others: %v", k, err)
				}
			}
			t.Logf("%d calls, %d refusals (Aborted) and retries", calls, aborted)
		})
	}
}

// TestEvaluateClaimOfADeadReplica: with the shared store, a job another
// replica holds for an evaluate or publish is refused (Aborted) until that
// claim is given back or its lease runs out (a replica that died holding
// it), and then evaluates; a call whose claim is taken from it (it was not
// renewed in time) fails with Aborted and records nothing.
func TestEvaluateClaimOfADeadReplica(t *testing.T) {
	dsn := pgtest.DSN(t)
	in := &inFlight{}
	rr := &reserveRunner{hold: 10 * time.Millisecond, in: in}
	svc := newService(t, Options{DataDir: t.TempDir(), StoreURL: dsn, BlobsURL: bucketURL(t), Runner: rr, Lease: testLease})
	c := serve(t, svc)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := succeededJob(t, ctx, c)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	// A claim of a replica that is gone, with 1.5 s of its lease left.
	if _, err := conn.Exec(ctx, `UPDATE trainer.jobs SET owner = 'a-dead-replica', epoch = epoch + 1, lease_until = now() + interval '1500 milliseconds' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	_, err = c.EvaluateAdapter(ctx, &trainerv1.EvaluateAdapterRequest{JobId: id, MaxExamples: 1})
	if status.Code(err) != codes.Aborted || !strings.Contains(err.Error(), "being evaluated or published") {
		t.Fatalf("evaluate a job another replica holds: %v, want Aborted", err)
	}
	if n := len(rr.evaluations()); n != 0 {
		t.Fatalf("%d evaluations ran for the refused call", n)
	}
	var left time.Duration
	if err := conn.QueryRow(ctx, `SELECT lease_until - now() FROM trainer.jobs WHERE id = $1`, id).Scan(&left); err != nil {
		t.Fatal(err)
	}
	time.Sleep(left + 100*time.Millisecond)
	rep, err := c.EvaluateAdapter(ctx, &trainerv1.EvaluateAdapterRequest{JobId: id, MaxExamples: 2})
	if err != nil || rep.GetReport().GetExamples() != 2 {
		t.Fatalf("evaluate once the dead replica's lease ran out: %v %v", rep, err)
	}
	var owner *string
	if err := conn.QueryRow(ctx, `SELECT owner FROM trainer.jobs WHERE id = $1`, id).Scan(&owner); err != nil || owner != nil {
		t.Fatalf("the evaluation's claim was not given back: owner %v %v", owner, err)
	}

	// A claim taken from a running evaluation (as another replica would
	// once its lease ran out): the renewal finds it lost, the worker is
	// stopped, the call is Aborted and the job keeps the evaluation before.
	rr.mu.Lock()
	rr.hold = time.Minute
	rr.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := c.EvaluateAdapter(ctx, &trainerv1.EvaluateAdapterRequest{JobId: id, MaxExamples: 3})
		done <- err
	}()
	for len(rr.evaluations()) < 2 {
		if ctx.Err() != nil {
			t.Fatal("the evaluation did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := conn.Exec(ctx, `UPDATE trainer.jobs SET owner = 'another-replica', epoch = epoch + 1 WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(testLease * 2):
		t.Fatal("the evaluation whose claim was taken still runs")
	}
	if status.Code(err) != codes.Aborted || !strings.Contains(err.Error(), "not renewed in time") {
		t.Fatalf("evaluate whose claim was taken: %v, want Aborted", err)
	}
	j, _, err := svc.meta.job(ctx, id)
	if err != nil || j.GetEvaluation().GetExamples() != 2 {
		t.Fatalf("after the lost call the job's evaluation is %v (%v), want the one before (2 examples)", j.GetEvaluation(), err)
	}
}

// Many callers resume one cancelled job at once (through both replicas
// with the shared store): exactly one ResumeJob starts it, on one replica;
// the others are refused (FailedPrecondition: it is queued or running by
// then), and no second worker runs it.
func TestConcurrentResumeOfOneJob(t *testing.T) {
	for _, impl := range storeImpls {
		t.Run(impl.name, func(t *testing.T) {
			svcs := impl.open(t, Options{Config: Config{MaxJobs: 4}, Runner: holdRunner{}, Lease: testLease})
			var cs []trainerv1.TrainerServiceClient
			for _, s := range svcs {
				cs = append(cs, serve(t, s))
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ds, err := cs[0].ImportDataset(ctx, &trainerv1.ImportDatasetRequest{Jsonl: []byte(tinyJSONL)})
			if err != nil {
				t.Fatal(err)
			}
			st, err := cs[0].StartJob(ctx, &trainerv1.StartJobRequest{DatasetId: ds.GetDataset().GetId()})
			if err != nil {
				t.Fatal(err)
			}
			id := st.GetJob().GetId()
			if cj, err := cs[0].CancelJob(ctx, &trainerv1.CancelJobRequest{JobId: id}); err != nil || cj.GetJob().GetState() != trainerv1.JobState_JOB_STATE_CANCELLED {
				t.Fatalf("cancel: %v %v", cj, err)
			}
			const calls = 12
			n := codeCounts(calls, func(i int) error {
				_, err := cs[i%len(cs)].ResumeJob(ctx, &trainerv1.ResumeJobRequest{JobId: id})
				return err
			})
			if n[codes.OK] != 1 || n[codes.FailedPrecondition] != calls-1 {
				t.Fatalf("%d concurrent ResumeJob of one job: %v, want 1 OK and the rest FailedPrecondition", calls, n)
			}
			running := 0
			for _, s := range svcs {
				if e, ok := s.local(id); ok {
					s.mu.Lock()
					if e.running {
						running++
					}
					s.mu.Unlock()
				}
			}
			if running != 1 {
				t.Fatalf("the job runs on %d replicas, want 1", running)
			}
			if cj, err := cs[len(cs)-1].CancelJob(ctx, &trainerv1.CancelJobRequest{JobId: id}); err != nil || cj.GetJob().GetState() != trainerv1.JobState_JOB_STATE_CANCELLED {
				t.Fatalf("cancel the resumed job: %v %v", cj, err)
			}
		})
	}
}
