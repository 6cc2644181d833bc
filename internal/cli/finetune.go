package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
)

func init() {
	meshCommand("finetune", "LoRA fine-tune the answering model on a collection: pdfqa finetune --collection NAME [--steps N] [--force]", finetuneCommand)
}

func finetuneCommand(fs *flag.FlagSet) body {
	collection := fs.String("collection", "", "collection to build the dataset from (required)")
	maxExamples := fs.Int("max-examples", 0, "upper bound on generated QA pairs (0: the trainer's default, 200)")
	steps := fs.Int("steps", 0, "optimizer steps (0: one epoch)")
	batch := fs.Int("batch-size", 0, "per-device batch size (0: 4)")
	seqLen := fs.Int("max-seq-len", 0, "maximum tokens per example (0: 512)")
	lr := fs.Float64("lr", 0, "learning rate (0: 2e-4)")
	evalExamples := fs.Int("eval-examples", 0, "held-out examples to evaluate (0: all)")
	name := fs.String("name", "", "adapter name (default: derived from the job)")
	force := fs.Bool("force", false, "publish even if the adapter does not beat the base")
	return func(ctx context.Context, c *call) error {
		if *collection == "" {
			return usageErr("--collection is required")
		}
		cl, err := c.connect(ctx)
		if err != nil {
			return err
		}
		// Every step may take minutes on CPU: give each call its own long deadline.
		long := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 6*time.Hour) }

		fmt.Fprintf(c.stderr, "building a dataset from %q (generating grounded QA pairs)…\n", *collection)
		c1, done1 := long()
		d, job, err := cl.FineTune(c1, *collection, pdfqa.FineTuneOptions{MaxExamples: *maxExamples, Lora: &pdfqa.LoraConfig{
			MaxSteps: int32(*steps), BatchSize: int32(*batch), MaxSeqLen: int32(*seqLen), LearningRate: float32(*lr)}})
		done1()
		if d == nil && err != nil {
			return fmt.Errorf("build dataset: %w", err)
		}
		fmt.Fprintf(c.stderr, "dataset %s: train %d, validation %d, test %d (filtered: %v)\n", d.GetId(),
			d.GetCounts().GetTrain(), d.GetCounts().GetValidation(), d.GetCounts().GetTest(), d.GetFiltered())
		if err != nil {
			return fmt.Errorf("start job: %w", err)
		}
		id := job.GetId()
		fmt.Fprintf(c.stderr, "job %s started\n", id)
		c2, done2 := long()
		last, err := watchJob(c2, cl, id, c.stderr)
		done2()
		if err != nil {
			return err
		}
		if last.GetState() != pdfqa.JobSucceeded {
			return fmt.Errorf("job %s %s: %s (pdfqa finetune does not resume; the ResumeJob RPC does)", id, last.GetState(), last.GetMessage())
		}

		fmt.Fprintln(c.stderr, "evaluating base vs adapter on the held-out split…")
		c3, done3 := long()
		report, err := cl.EvaluateAdapter(c3, id, *evalExamples)
		done3()
		if err != nil {
			return fmt.Errorf("evaluate: %w", err)
		}
		printReport(c.stdout, report)

		c4, done4 := long()
		adapter, path, err := cl.PublishAdapter(c4, id, *name, *force)
		done4()
		var perr *pdfqa.Error
		if errors.Is(err, pdfqa.ErrFailedPrecondition) && errors.As(err, &perr) {
			return fmt.Errorf("not published: %s", perr.Message)
		}
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		fmt.Fprintf(c.stdout, "\npublished adapter %s (%s)\nuse it: pdfqa ask --adapter %s \"your question\"\n", adapter, path, adapter)
		return nil
	}
}

// watchJob draws a progress bar until the job ends and returns its last event.
func watchJob(ctx context.Context, c *pdfqa.Client, id string, w io.Writer) (*pdfqa.JobProgress, error) {
	var last *pdfqa.JobProgress
	for ev, err := range c.WatchJob(ctx, id) {
		if err != nil {
			fmt.Fprintln(w)
			return nil, fmt.Errorf("watch job: %w", err)
		}
		last = ev
		fmt.Fprintf(w, "\r%s", progressLine(ev))
	}
	fmt.Fprintln(w)
	return last, nil
}

func progressLine(ev *pdfqa.JobProgress) string {
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

func printReport(w io.Writer, r *pdfqa.EvaluationReport) {
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
