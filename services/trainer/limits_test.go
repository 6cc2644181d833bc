package trainer

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/pgtest"
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

// holdRunner starts every job and runs it until it is cancelled.
type holdRunner struct{}

func (holdRunner) Run(ctx context.Context, spec RunSpec, on func(Event)) error {
	on(Event{Event: "start", TotalSteps: 1000})
	<-ctx.Done()
	return ctx.Err()
}

// storeImpls are the two stores: files (the embedded default) and
// PostgreSQL with a file bucket (two replicas on one database).
var storeImpls = []struct {
	name string
	open func(t *testing.T, o Options) []*Service
}{
	{"files", func(t *testing.T, o Options) []*Service {
		o.DataDir = t.TempDir()
		return []*Service{newService(t, o)}
	}},
	{"postgres", func(t *testing.T, o Options) []*Service {
		o.StoreURL, o.BlobsURL = pgtest.DSN(t), bucketURL(t)
		a, b := o, o
		a.DataDir, b.DataDir = t.TempDir(), t.TempDir()
		return []*Service{newService(t, a), newService(t, b)}
	}},
}

func newService(t *testing.T, o Options) *Service {
	t.Helper()
	svc, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return svc
}

func bucketURL(t *testing.T) string {
	return "file://" + filepath.ToSlash(t.TempDir()) + "?create_dir=1&metadata=skip"
}

// TestConcurrentJobCap fires many StartJob calls at once (at both replicas
// with the shared store): exactly MaxJobs start, every other one is
// ResourceExhausted, and a ResumeJob past the cap is refused the same way.
func TestConcurrentJobCap(t *testing.T) {
	for _, impl := range storeImpls {
		t.Run(impl.name, func(t *testing.T) {
			const limit, calls = 3, 40
			svcs := impl.open(t, Options{Config: Config{MaxJobs: limit}, Runner: holdRunner{}})
			var cs []trainerv1.TrainerServiceClient
			for _, s := range svcs {
				cs = append(cs, serve(t, s))
			}
			ctx := context.Background()
			ds, err := cs[0].ImportDataset(ctx, &trainerv1.ImportDatasetRequest{Jsonl: []byte(tinyJSONL)})
			if err != nil {
				t.Fatal(err)
			}
			n := codeCounts(calls, func(i int) error {
				_, err := cs[i%len(cs)].StartJob(ctx, &trainerv1.StartJobRequest{DatasetId: ds.GetDataset().GetId()})
				return err
			})
			if n[codes.OK] != limit || n[codes.ResourceExhausted] != calls-limit {
				t.Fatalf("%d concurrent StartJob with a cap of %d: %v, want %d OK and the rest ResourceExhausted", calls, limit, n, limit)
			}
			jobs, err := cs[len(cs)-1].ListJobs(ctx, &trainerv1.ListJobsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			active := 0
			var one string
			for _, j := range jobs.GetJobs() {
				if activeState(j.GetState()) {
					active++
					one = j.GetId()
				}
			}
			if len(jobs.GetJobs()) != limit || active != limit {
				t.Fatalf("%d jobs stored, %d active; want %d and %d", len(jobs.GetJobs()), active, limit, limit)
			}
			// Cancel one and start another: the cap has room for exactly one.
			if _, err := cs[0].CancelJob(ctx, &trainerv1.CancelJobRequest{JobId: one}); err != nil {
				t.Fatal(err)
			}
			if _, err := cs[len(cs)-1].StartJob(ctx, &trainerv1.StartJobRequest{DatasetId: ds.GetDataset().GetId()}); err != nil {
				t.Fatalf("start after a cancel: %v", err)
			}
			_, err = cs[0].ResumeJob(ctx, &trainerv1.ResumeJobRequest{JobId: one})
			if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "3 of 3") {
				t.Fatalf("resume past the cap: %v, want ResourceExhausted naming 3 of 3", err)
			}
		})
	}
}
