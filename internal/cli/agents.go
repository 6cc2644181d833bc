package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
	"github.com/pdfqa/pdfqa/services/agents/prompts"
)

func init() {
	meshCommand("ask", `ask a question over a collection: pdfqa ask --collection NAME "question"`, askCommand)
	meshCommand("runs", "list recent runs, newest first, or show one: pdfqa runs [--limit N] [RUN_ID]", runsCommand)
}

func runsCommand(fs *flag.FlagSet) body {
	limit := fs.Int("limit", 20, "runs to list (at most 1000)")
	return func(ctx context.Context, c *call) error {
		if len(c.args) > 1 || *limit < 1 {
			return usageErr("pdfqa runs [--limit N] [RUN_ID]")
		}
		cl, err := c.connect(ctx)
		if err != nil {
			return err
		}
		if len(c.args) == 1 {
			run, err := cl.Run(ctx, c.args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "Q: %s\n%s\n", run.GetQuestion(), run.GetAnswer())
			printRun(c.stdout, c.stderr, run)
			return nil
		}
		runs, err := cl.Runs(ctx, *limit)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RUN\tSTATUS\tCREATED\tCOLLECTION\tQUESTION")
		for _, r := range runs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.GetId(), strings.TrimPrefix(r.GetStatus().String(), "RUN_STATUS_"),
				r.GetCreateTime().AsTime().Local().Format("2006-01-02 15:04:05"), r.GetCollection(), truncateLine(r.GetQuestion(), 70))
		}
		return tw.Flush()
	}
}

func askCommand(fs *flag.FlagSet) body {
	collection := fs.String("collection", "", "collection to search (required)")
	adapter := fs.String("adapter", "", "LoRA adapter for the answering model")
	single := fs.Bool("single-shot", false, "one search and one answer: no planner, no verifier")
	pad := fs.Bool("scratchpad", false, "print the agents' scratchpad to stderr")
	promptSet := fs.String("prompt-set", "", "the agents' prompt set for this question (one of "+strings.Join(prompts.Sets(), ", ")+"; default: the service's)")
	return func(ctx context.Context, c *call) error {
		question := strings.TrimSpace(strings.Join(c.args, " "))
		if *collection == "" || question == "" {
			return usageErr(`pdfqa ask --collection NAME [--adapter NAME] [--single-shot] [--scratchpad] [--prompt-set NAME] "question"`)
		}
		var opts []pdfqa.AskOption
		if *promptSet != "" {
			if _, err := prompts.Lookup(*promptSet); err != nil {
				return usageErr("--prompt-set: %v", err)
			}
			opts = append(opts, pdfqa.WithPromptSet(*promptSet))
		}
		if *adapter != "" {
			opts = append(opts, pdfqa.WithAdapter(*adapter))
		}
		if *single {
			opts = append(opts, pdfqa.SingleShot())
		}
		if *pad {
			opts = append(opts, pdfqa.WithScratchpad())
		}
		cl, err := c.connect(ctx)
		if err != nil {
			return err
		}
		run, err := cl.Answer(ctx, *collection, question, func(d string) { fmt.Fprint(c.stdout, d) }, opts...)
		fmt.Fprintln(c.stdout)
		if run != nil {
			printRun(c.stdout, c.stderr, run)
		}
		return err
	}
}

func printRun(stdout, stderr io.Writer, run *pdfqa.Run) {
	if len(run.GetCitations()) > 0 {
		fmt.Fprintln(stdout, "\nCitations:")
		for _, c := range run.GetCitations() {
			fmt.Fprintf(stdout, "  [%s p.%d] %s\n", c.GetDocument(), c.GetPage(), truncateLine(c.GetQuote(), 120))
		}
	}
	if v := run.GetVerification(); v != nil {
		fmt.Fprintf(stdout, "Support score: %.2f (%d claims checked)\n", v.GetSupportScore(), len(v.GetClaims()))
	}
	if run.GetDegraded() {
		fmt.Fprintln(stdout, "Degraded: the language model was unavailable; the answer is extractive.")
	}
	if run.GetError() != "" {
		fmt.Fprintf(stdout, "Note: %s\n", run.GetError())
	}
	var ts []string
	for _, t := range run.GetTimings() {
		ts = append(ts, fmt.Sprintf("%s %.0fms", t.GetStage(), t.GetMs()))
	}
	fmt.Fprintf(stdout, "Run %s (%s): %s\n", run.GetId(), strings.TrimPrefix(run.GetStatus().String(), "RUN_STATUS_"), strings.Join(ts, ", "))
	if run.GetScratchpad() != "" {
		fmt.Fprintf(stderr, "--- scratchpad ---\n%s\n", run.GetScratchpad())
	}
}

func truncateLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
