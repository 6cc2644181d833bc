package inference

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/breaker"
	"github.com/pdfqa/pdfqa/platform/telemetry"
	"github.com/pdfqa/pdfqa/services/inference/engine"
)

// openAIBackend serves generation and embeddings from an OpenAI-compatible
// upstream (vLLM, Ollama, llama.cpp's server, a hosted API) behind its own
// circuit breaker. Such APIs have no tokenizer endpoint, so token counts are
// estimated (4 characters a token) and templates rendered generically.
type openAIBackend struct {
	cfg   Config
	chat  *engine.Client
	embed *engine.Client
	brk   *breaker.Breaker
}

type bearer struct {
	key  string
	next http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return b.next.RoundTrip(r)
}

func newOpenAIBackend(cfg Config) (*openAIBackend, error) {
	base := strings.TrimSuffix(cfg.OpenAIBaseURL, "/")
	base = strings.TrimSuffix(base, "/v1")
	if cfg.OpenAIChatModel == "" {
		return nil, fmt.Errorf("PDFQA_OPENAI_CHAT_MODEL is required with PDFQA_OPENAI_BASE_URL")
	}
	var rt http.RoundTripper = &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second}
	if cfg.OpenAIKey != "" {
		rt = bearer{key: cfg.OpenAIKey, next: rt}
	}
	hc := &http.Client{Transport: telemetry.HTTPClientTracing(rt)} // a client span per upstream request
	chat := engine.NewClient(engine.StaticEndpoint(base), hc)
	chat.Model = cfg.OpenAIChatModel
	emb := engine.NewClient(engine.StaticEndpoint(base), hc)
	emb.Model = cfg.OpenAIEmbedModel
	b := &openAIBackend{cfg: cfg, chat: chat, embed: emb,
		brk: breaker.New("openai-upstream", breaker.Settings{IsFailure: upstreamFailure}, nil)}
	return b, nil
}

// upstreamFailure counts only the upstream's own failures against it.
func upstreamFailure(err error) bool {
	return err != nil && (errors.Is(err, engine.ErrUnavailable) || errors.Is(err, engine.ErrInternal) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, breaker.ErrOpen))
}

func (b *openAIBackend) guard(fn func() error) error {
	err := b.brk.Do(fn)
	if errors.Is(err, breaker.ErrOpen) {
		return fmt.Errorf("%w: %v", engine.ErrUnavailable, err)
	}
	return err
}

func (b *openAIBackend) Chat(ctx context.Context, req engine.ChatRequest, onDelta func(string) error) (*engine.ChatResult, error) {
	var res *engine.ChatResult
	err := b.guard(func() (err error) { res, err = b.chat.ChatStream(ctx, req, onDelta); return err })
	return res, err
}

func (b *openAIBackend) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if b.cfg.OpenAIEmbedModel == "" {
		return nil, fmt.Errorf("%w: no PDFQA_OPENAI_EMBED_MODEL configured", engine.ErrNotSupported)
	}
	var out [][]float32
	err := b.guard(func() (err error) { out, err = b.embed.Embed(ctx, texts); return err })
	return out, err
}

func (b *openAIBackend) CountTokens(_ context.Context, text string) (int, error) {
	return (len(text) + 3) / 4, nil
}

func (b *openAIBackend) ApplyTemplate(_ context.Context, msgs []engine.Message) (string, error) {
	var sb strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&sb, "%s: %s\n", m.Role, m.Content)
	}
	sb.WriteString("assistant: ")
	return sb.String(), nil
}

func (b *openAIBackend) SetAdapters(context.Context, []string) error {
	return fmt.Errorf("%w: LoRA adapters need the local llama.cpp engine", engine.ErrNotSupported)
}

func (b *openAIBackend) Ready() bool { return b.brk.State() != "open" }

func (b *openAIBackend) Models() []*inferencev1.Model {
	ms := []*inferencev1.Model{{Name: b.cfg.OpenAIChatModel, Kind: inferencev1.ModelKind_MODEL_KIND_CHAT,
		ContextWindow: 8192, Engine: "openai", Source: b.cfg.OpenAIBaseURL, Vision: b.cfg.OpenAIVision, Ready: b.Ready()}}
	if b.cfg.OpenAIEmbedModel != "" {
		ms = append(ms, &inferencev1.Model{Name: b.cfg.OpenAIEmbedModel, Kind: inferencev1.ModelKind_MODEL_KIND_EMBEDDING,
			Engine: "openai", Source: b.cfg.OpenAIBaseURL, Ready: b.Ready()})
	}
	return ms
}

func (b *openAIBackend) Close(context.Context) error { return nil }
