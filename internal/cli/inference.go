package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
)

func init() {
	meshCommand("generate", "generate text with the served model: pdfqa generate [--max-tokens N] \"prompt\"", generateCommand)
	meshCommand("embed", "embed texts with the served embedding model: pdfqa embed \"text\"...", embedCommand)
}

func generateCommand(fs *flag.FlagSet) body {
	maxTokens := fs.Int("max-tokens", 256, "maximum tokens to generate")
	temp := fs.Float64("temperature", 0.7, "sampling temperature (0 = greedy)")
	seed := fs.Int64("seed", -1, "sampling seed (-1 = random)")
	system := fs.String("system", "", "system message")
	schema := fs.String("json-schema", "", "JSON Schema the output must follow")
	adapter := fs.String("adapter", "", "LoRA adapter name")
	return func(ctx context.Context, c *call) error {
		prompt := strings.Join(c.args, " ")
		if prompt == "" {
			return usageErr("give a prompt")
		}
		cl, err := c.connect(ctx)
		if err != nil {
			return err
		}
		req := &pdfqa.GenerateRequest{MaxTokens: int32(*maxTokens), JsonSchema: *schema, Adapter: *adapter}
		t := float32(*temp)
		req.Temperature = &t
		if *seed >= 0 {
			req.Seed = seed
		}
		if *system != "" {
			req.Messages = append(req.Messages, &inferencev1.ChatMessage{Role: inferencev1.Role_ROLE_SYSTEM, Content: *system})
		}
		req.Messages = append(req.Messages, &inferencev1.ChatMessage{Role: inferencev1.Role_ROLE_USER, Content: prompt})
		_, err = cl.Generate(ctx, req, func(r *pdfqa.GenerateResponse) {
			fmt.Fprint(c.stdout, r.GetDelta())
			if r.GetFinishReason() != inferencev1.FinishReason_FINISH_REASON_UNSPECIFIED {
				t := r.GetTimings()
				fmt.Fprintf(c.stdout, "\n")
				fmt.Fprintf(c.stderr, "[%s: %d prompt + %d generated tokens, first token %.0f ms, %.1f tokens/s]\n",
					r.GetModel(), r.GetUsage().GetPromptTokens(), r.GetUsage().GetCompletionTokens(), t.GetTimeToFirstTokenMs(), t.GetTokensPerSecond())
			}
		})
		return err
	}
}

func embedCommand(fs *flag.FlagSet) body {
	full := fs.Bool("full", false, "print every component (default: the first 8)")
	return func(ctx context.Context, c *call) error {
		if len(c.args) == 0 {
			return usageErr("give one or more texts")
		}
		cl, err := c.connect(ctx)
		if err != nil {
			return err
		}
		r, err := cl.Embed(ctx, c.args...)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "model %s, dimension %d\n", r.GetModel(), r.GetDimension())
		for i, e := range r.GetEmbeddings() {
			v := e.GetValues()
			if !*full && len(v) > 8 {
				v = v[:8]
			}
			fmt.Fprintf(c.stdout, "%d\t%v\n", i, v)
		}
		return nil
	}
}
