package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
)

func init() {
	register("finetune", "LoRA fine-tune the answering model on a collection: pdfqa finetune --collection NAME [--steps N] [--force]", runFinetune)
}

func runFinetune(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("finetune", stderr)
	var m meshFlags
	m.bind(fs)
	collection := fs.String("collection", "", "collection to build the dataset from (required)")
	maxExamples := fs.Int("max-examples", 0, "upper bound on generated QA pairs (0: the trainer's default, 200)")
	steps := fs.Int("steps", 0, "optimizer steps (0: one epoch)")
	batch := fs.Int("batch-size", 0, "per-device batch size (0: 4)")
	seqLen := fs.Int("max-seq-len", 0, "maximum tokens per example (0: 512)")
	lr := fs.Float64("lr", 0, "learning rate (0: 2e-4)")
	evalExamples := fs.Int("eval-examples", 0, "held-out examples to evaluate (0: all)")
	name := fs.String("name", "", "adapter name (default: derived from the job)")
	force := fs.Bool("force", false, "publish even if the adapter does not beat the base")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *collection == "" {
		return usageErr("--collection is required")
	}
	mc, err := m.connect()
	if err != nil {
		return err
	}
	defer mc.Close()
	conn, err := mc.conn(&trainerv1.TrainerService_ServiceDesc)
	if err != nil {
		return err
	}
	tc := trainerv1.NewTrainerServiceClient(conn)
	// Every step may take minutes on CPU: give each call its own long deadline.
	long := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 6*time.Hour) }

	fmt.Fprintf(stderr, "building a dataset from %q (generating grounded QA pairs)…\n", *collection)
	c1, done1 := long()
	b, err := tc.BuildDataset(c1, &trainerv1.BuildDatasetRequest{Collection: *collection, MaxExamples: int32(*maxExamples)})
	done1()
	if err != nil {
		return fmt.Errorf("build dataset: %w", err)
	}
	d := b.GetDataset()
	fmt.Fprintf(stderr, "dataset %s: train %d, validation %d, test %d (filtered: %v)\n", d.GetId(),
		d.GetCounts().GetTrain(), d.GetCounts().GetValidation(), d.GetCounts().GetTest(), d.GetFiltered())

	st, err := tc.StartJob(ctx, &trainerv1.StartJobRequest{DatasetId: d.GetId(), Config: &trainerv1.LoraConfig{
		MaxSteps: int32(*steps), BatchSize: int32(*batch), MaxSeqLen: int32(*seqLen), LearningRate: float32(*lr)}})
	if err != nil {
		return fmt.Errorf("start job: %w", err)
	}
	id := st.GetJob().GetId()
	fmt.Fprintf(stderr, "job %s started\n", id)
	c2, done2 := long()
	last, err := watchJob(c2, tc, id, stderr)
	done2()
	if err != nil {
		return err
	}
	if last.GetState() != trainerv1.JobState_JOB_STATE_SUCCEEDED {
		return fmt.Errorf("job %s %s: %s (pdfqa finetune does not resume; the ResumeJob RPC does)", id, last.GetState(), last.GetMessage())
	}

	fmt.Fprintln(stderr, "evaluating base vs adapter on the held-out split…")
	c3, done3 := long()
	ev, err := tc.EvaluateAdapter(c3, &trainerv1.EvaluateAdapterRequest{JobId: id, MaxExamples: int32(*evalExamples)})
	done3()
	if err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	printReport(stdout, ev.GetReport())

	c4, done4 := long()
	pub, err := tc.PublishAdapter(c4, &trainerv1.PublishAdapterRequest{JobId: id, Name: *name, Force: *force})
	done4()
	if status.Code(err) == codes.FailedPrecondition {
		return fmt.Errorf("not published: %s", status.Convert(err).Message())
	}
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	fmt.Fprintf(stdout, "\npublished adapter %s (%s)\nuse it: pdfqa ask --adapter %s \"your question\"\n", pub.GetAdapterName(), pub.GetPath(), pub.GetAdapterName())
	return nil
}

// watchJob draws a progress bar until the job ends and returns its last event.
func watchJob(ctx context.Context, tc trainerv1.TrainerServiceClient, id string, w io.Writer) (*trainerv1.WatchJobResponse, error) {
	st, err := tc.WatchJob(ctx, &trainerv1.WatchJobRequest{JobId: id})
	if err != nil {
		return nil, err
	}
	var last *trainerv1.WatchJobResponse
	for {
		ev, err := st.Recv()
		if errors.Is(err, io.EOF) {
			fmt.Fprintln(w)
			return last, nil
		}
		if err != nil {
			fmt.Fprintln(w)
			return nil, fmt.Errorf("watch job: %w", err)
		}
		last = ev
		fmt.Fprintf(w, "\r%s", progressLine(ev))
	}
}

func progressLine(ev *trainerv1.WatchJobResponse) string {
	const width = 30
	total := ev.GetTotalSteps()
	filled := 0
	if total > 0 {
		filled = int(float64(width) * float64(ev.GetStep()) / float64(total))
	}
	bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
	eta := time.Duration(ev.GetEtaSeconds()) * time.Second
	return fmt.Sprintf("[%s] step %d/%d  loss %.4f  %.0f tok/s  eta %s  %-24.24s", bar, ev.GetStep(), total,
		ev.GetLoss(), ev.GetTokensPerSecond(), eta, strings.ToLower(strings.TrimPrefix(ev.GetState().String(), "JOB_STATE_")))
}

func printReport(w io.Writer, r *trainerv1.EvaluationReport) {
	fmt.Fprintf(w, "\nheld-out examples: %d\n", r.GetExamples())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "metric\tbase\tadapter\t")
	row := func(name string, b, a float32, f string) {
		fmt.Fprintf(tw, "%s\t"+f+"\t"+f+"\t\n", name, b, a)
	}
	row("token F1", r.GetBase().GetTokenF1(), r.GetAdapter().GetTokenF1(), "%.3f")
	row("exact match", r.GetBase().GetExactMatch(), r.GetAdapter().GetExactMatch(), "%.3f")
	row("ROUGE-L", r.GetBase().GetRougeL(), r.GetAdapter().GetRougeL(), "%.3f")
	row("perplexity", r.GetBase().GetPerplexity(), r.GetAdapter().GetPerplexity(), "%.2f")
	_ = tw.Flush()
	verdict := "did not improve on"
	if r.GetImproved() {
		verdict = "improves on"
	}
	fmt.Fprintf(w, "the adapter %s the base (token F1)\n", verdict)
}
