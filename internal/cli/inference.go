package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
)

func init() {
	register("generate", "generate text with the served model: pdfqa generate [--max-tokens N] \"prompt\"", runGenerate)
	register("embed", "embed texts with the served embedding model: pdfqa embed \"text\"...", runEmbed)
}

func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("generate", stderr)
	var m meshFlags
	m.bind(fs)
	maxTokens := fs.Int("max-tokens", 256, "maximum tokens to generate")
	temp := fs.Float64("temperature", 0.7, "sampling temperature (0 = greedy)")
	seed := fs.Int64("seed", -1, "sampling seed (-1 = random)")
	system := fs.String("system", "", "system message")
	schema := fs.String("json-schema", "", "JSON Schema the output must follow")
	adapter := fs.String("adapter", "", "LoRA adapter name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	prompt := strings.Join(fs.Args(), " ")
	if prompt == "" {
		return usageErr("give a prompt")
	}
	c, err := m.sdk(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
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
	_, err = c.Generate(ctx, req, func(r *pdfqa.GenerateResponse) {
		fmt.Fprint(stdout, r.GetDelta())
		if r.GetFinishReason() != inferencev1.FinishReason_FINISH_REASON_UNSPECIFIED {
			t := r.GetTimings()
			fmt.Fprintf(stdout, "\n")
			fmt.Fprintf(stderr, "[%s: %d prompt + %d generated tokens, first token %.0f ms, %.1f tokens/s]\n",
				r.GetModel(), r.GetUsage().GetPromptTokens(), r.GetUsage().GetCompletionTokens(), t.GetTimeToFirstTokenMs(), t.GetTokensPerSecond())
		}
	})
	return err
}

func runEmbed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("embed", stderr)
	var m meshFlags
	m.bind(fs)
	full := fs.Bool("full", false, "print every component (default: the first 8)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageErr("give one or more texts")
	}
	c, err := m.sdk(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := c.Embed(ctx, fs.Args()...)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "model %s, dimension %d\n", r.GetModel(), r.GetDimension())
	for i, e := range r.GetEmbeddings() {
		v := e.GetValues()
		if !*full && len(v) > 8 {
			v = v[:8]
		}
		fmt.Fprintf(stdout, "%d\t%v\n", i, v)
	}
	return nil
}
