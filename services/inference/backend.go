package inference

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/services/inference/engine"
)

// Backend is what the service needs from a model runtime: local llama.cpp
// engines or an OpenAI-compatible upstream.
type Backend interface {
	Chat(ctx context.Context, req engine.ChatRequest, onDelta func(string) error) (*engine.ChatResult, error)
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	CountTokens(ctx context.Context, text string) (int, error)
	ApplyTemplate(ctx context.Context, msgs []engine.Message) (string, error)
	// SetAdapters replaces the LoRA adapter set (ids are positions).
	SetAdapters(ctx context.Context, paths []string) error
	Models() []*inferencev1.Model
	// Ready reports whether generation can be served now.
	Ready() bool
	Close(ctx context.Context) error
}

// llamaBackend supervises two llama-server processes: chat and embeddings.
type llamaBackend struct {
	cfg        Config
	chatSup    *engine.Supervisor
	embedSup   *engine.Supervisor
	chat       *engine.Client
	embed      *engine.Client
	embedDim   int
	chatName   string
	embedName  string
	perSlotCtx int
}

func newLlamaBackend(cfg Config, adapterPaths []string, log *slog.Logger) (*llamaBackend, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	slots := max(cfg.ChatSlots, 1)
	chatSup, err := engine.NewSupervisor(engine.Config{
		Name: "chat", Binary: cfg.LlamaServer, Model: cfg.ChatModel,
		CtxSize: cfg.ChatCtx, Parallel: slots, Threads: cfg.Threads,
		LoRAs: adapterPaths, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	embedSup, err := engine.NewSupervisor(engine.Config{
		Name: "embed", Binary: cfg.LlamaServer, Model: cfg.EmbedModel,
		// 4 slots of the model's 512-token window; 512-token micro-batches:
		// non-causal attention over a micro-batch is masked across inputs, so
		// larger ones cost quadratically (4096 measured 2.4x slower at batch 32).
		Embedding: true, Pooling: "mean", CtxSize: 512 * 4, Parallel: 4, Threads: cfg.Threads,
		// --poll 0: no busy-waiting between ops; measured 2-3x faster embeddings
		// when the cores are shared with other work (ingestion, the chat engine).
		ExtraArgs: []string{"-b", "2048", "-ub", "512", "--poll", "0"},
		Logger:    log,
	})
	if err != nil {
		return nil, err
	}
	if err := chatSup.Start(); err != nil {
		return nil, err
	}
	if err := embedSup.Start(); err != nil {
		_ = chatSup.Stop(context.Background())
		return nil, err
	}
	return &llamaBackend{
		cfg: cfg, chatSup: chatSup, embedSup: embedSup,
		chat: engine.NewClient(chatSup, nil), embed: engine.NewClient(embedSup, nil),
		embedDim:   384,
		chatName:   strings.TrimSuffix(filepath.Base(cfg.ChatModel), ".gguf"),
		embedName:  strings.TrimSuffix(filepath.Base(cfg.EmbedModel), ".gguf"),
		perSlotCtx: cfg.ChatCtx / slots,
	}, nil
}

// errNoVision rejects images: the local engine runs a text-only chat model.
var errNoVision = fmt.Errorf("%w: the local llama.cpp engine serves a text-only model and does not accept images (use an OpenAI-compatible vision upstream: PDFQA_OPENAI_BASE_URL with PDFQA_OPENAI_VISION=1)", engine.ErrBadRequest)

func (b *llamaBackend) Chat(ctx context.Context, req engine.ChatRequest, onDelta func(string) error) (*engine.ChatResult, error) {
	if engine.HasImages(req.Messages) {
		return nil, errNoVision
	}
	return b.chat.ChatStream(ctx, req, onDelta)
}

func (b *llamaBackend) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return b.embed.Embed(ctx, texts)
}

func (b *llamaBackend) CountTokens(ctx context.Context, text string) (int, error) {
	return b.chat.CountTokens(ctx, text)
}

func (b *llamaBackend) ApplyTemplate(ctx context.Context, msgs []engine.Message) (string, error) {
	if engine.HasImages(msgs) {
		return "", errNoVision
	}
	return b.chat.ApplyTemplate(ctx, msgs)
}

func (b *llamaBackend) SetAdapters(ctx context.Context, paths []string) error {
	return b.chatSup.SetLoRAs(ctx, paths)
}

func (b *llamaBackend) Ready() bool { return b.chatSup.State() == engine.StateReady }

func (b *llamaBackend) Models() []*inferencev1.Model {
	return []*inferencev1.Model{
		{Name: b.chatName, Kind: inferencev1.ModelKind_MODEL_KIND_CHAT, ContextWindow: int32(b.perSlotCtx),
			Engine: "llama.cpp", Source: b.cfg.ChatModel, Ready: b.chatSup.State() == engine.StateReady},
		{Name: b.embedName, Kind: inferencev1.ModelKind_MODEL_KIND_EMBEDDING, ContextWindow: 512, Dimension: int32(b.embedDim),
			Engine: "llama.cpp", Source: b.cfg.EmbedModel, Ready: b.embedSup.State() == engine.StateReady},
	}
}

func (b *llamaBackend) Close(ctx context.Context) error {
	return errors.Join(b.chatSup.Stop(ctx), b.embedSup.Stop(ctx))
}
