package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/client"
)

func init() {
	register("generate", "generate text with the served model: pdfqa generate [--max-tokens N] \"prompt\"", runGenerate)
	register("embed", "embed texts with the served embedding model: pdfqa embed \"text\"...", runEmbed)
}

func inferenceClient(m *meshFlags) (inferencev1.InferenceServiceClient, func(), error) {
	mc, err := m.connect()
	if err != nil {
		return nil, nil, err
	}
	conn, err := mc.conn(&inferencev1.InferenceService_ServiceDesc)
	if err != nil {
		mc.Close()
		return nil, nil, err
	}
	return inferencev1.NewInferenceServiceClient(conn), mc.Close, nil
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
	ic, done, err := inferenceClient(&m)
	if err != nil {
		return err
	}
	defer done()
	req := &inferencev1.GenerateRequest{MaxTokens: int32(*maxTokens), JsonSchema: *schema, Adapter: *adapter}
	t := float32(*temp)
	req.Temperature = &t
	if *seed >= 0 {
		req.Seed = seed
	}
	if *system != "" {
		req.Messages = append(req.Messages, &inferencev1.ChatMessage{Role: inferencev1.Role_ROLE_SYSTEM, Content: *system})
	}
	req.Messages = append(req.Messages, &inferencev1.ChatMessage{Role: inferencev1.Role_ROLE_USER, Content: prompt})
	st, err := ic.Generate(ctx, req)
	if err != nil {
		return err
	}
	_, err = client.Text(st, func(r *inferencev1.GenerateResponse) {
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
	ic, done, err := inferenceClient(&m)
	if err != nil {
		return err
	}
	defer done()
	r, err := ic.Embed(ctx, &inferencev1.EmbedRequest{Texts: fs.Args()})
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
