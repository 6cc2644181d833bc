package inference

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/wordpiece"
	"github.com/pdfqa/pdfqa/services/inference/engine"
	"github.com/pdfqa/pdfqa/services/inference/static"
)

// StaticAlias requests the static embedding model by role instead of name.
const StaticAlias = "static"

// StaticModelName is the name the static model of an embedding GGUF is
// served under: "<model>-static".
func StaticModelName(embedModelFile string) string {
	return strings.TrimSuffix(filepath.Base(embedModelFile), ".gguf") + "-static"
}

// StaticTablePath is where the distilled table of an embedding GGUF is cached.
func StaticTablePath(embedModelFile string) string {
	return strings.TrimSuffix(embedModelFile, ".gguf") + fmt.Sprintf(".static-v%d.bin", static.Version)
}

// staticServer serves the static model distilled from the local embedding
// engine; it is prepared in the background (loaded from its cached table,
// or distilled once when there is none).
type staticServer struct {
	name, path string
	model      atomic.Pointer[static.Model]
	done       atomic.Int64 // distillation progress, tokens
	total      atomic.Int64
	failed     atomic.Pointer[string]
}

// PrepareStatic loads or distills the static table of cfg.EmbedModel with
// embed (the contextual engine), returning the loaded model. progress, if
// set, is called as tokens are embedded.
func PrepareStatic(ctx context.Context, cfg Config, embed static.EmbedFunc, log *slog.Logger, progress func(done, total int)) (*static.Model, error) {
	vocab, err := wordpiece.LoadVocab(cfg.EmbedModel)
	if err != nil {
		return nil, err
	}
	name, path := StaticModelName(cfg.EmbedModel), StaticTablePath(cfg.EmbedModel)
	if m, err := static.Load(path, name, vocab); err == nil {
		return m, nil
	} else if !errors.Is(err, static.ErrStale) {
		return nil, err
	}
	log.Info("distilling static embeddings from the embedding model (once per machine)", "model", name, "tokens", len(vocab), "table", path)
	start := time.Now()
	dim, table, err := static.Distill(ctx, vocab, embed, 64, progress)
	if err != nil {
		return nil, err
	}
	if err := static.Save(path, vocab, dim, table); err != nil {
		return nil, fmt.Errorf("static: save %s: %w", path, err)
	}
	log.Info("static embeddings ready", "model", name, "elapsed", time.Since(start).Round(time.Millisecond).String())
	return static.Load(path, name, vocab)
}

// startStatic prepares the static model in the background once the
// contextual engine answers.
func (c *core) startStatic(cfg Config) {
	ss := &staticServer{name: StaticModelName(cfg.EmbedModel), path: StaticTablePath(cfg.EmbedModel)}
	c.static = ss
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-c.stop
		cancel()
	}()
	go func() {
		embed := func(ctx context.Context, texts []string) ([][]float32, error) {
			for {
				v, err := c.backend.Embed(ctx, texts)
				if err == nil || !errors.Is(err, engine.ErrUnavailable) {
					return v, err
				}
				// The engine is still loading (or restarting): wait for it.
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(time.Second):
				}
			}
		}
		m, err := PrepareStatic(ctx, cfg, embed, c.log, func(done, total int) {
			ss.done.Store(int64(done))
			ss.total.Store(int64(total))
		})
		if err != nil {
			if ctx.Err() == nil {
				msg := err.Error()
				ss.failed.Store(&msg)
				c.log.Error("static embeddings unavailable", "err", err)
			}
			return
		}
		ss.model.Store(m)
	}()
}

// servesStatic reports whether a request names the static model.
func (c *core) servesStatic(model string) bool {
	return c.static != nil && model != "" && (model == StaticAlias || model == c.static.name)
}

// embedStatic embeds with the static model, or says why it cannot yet.
func (c *core) embedStatic(texts []string) ([][]float32, string, error) {
	ss := c.static
	m := ss.model.Load()
	if m == nil {
		if f := ss.failed.Load(); f != nil {
			return nil, "", fmt.Errorf("%w: static embeddings failed to prepare: %s", engine.ErrUnavailable, *f)
		}
		return nil, "", fmt.Errorf("%w: static embeddings are being distilled (%d of %d tokens)", engine.ErrUnavailable, ss.done.Load(), ss.total.Load())
	}
	return m.Embed(texts), m.Name, nil
}

// staticModels lists the static model for ListModels.
func (c *core) staticModels() []*inferencev1.Model {
	if c.static == nil {
		return nil
	}
	m := c.static.model.Load()
	dim := int32(0)
	if m != nil {
		dim = int32(m.Dim())
	}
	return []*inferencev1.Model{{Name: c.static.name, Kind: inferencev1.ModelKind_MODEL_KIND_EMBEDDING, Dimension: dim,
		Engine: "static", Source: c.static.path, Ready: m != nil}}
}

// DistillStatic prepares the static table of cfg.EmbedModel ahead of time
// (setup, `pdfqa models`): it starts its own embedding engine with one
// thread and many slots (the vocabulary is 30k tiny inputs: per-input
// overhead dominates, and a second thread only adds waits when the cores
// are busy), distills, caches and stops the engine. A valid cached table
// returns at once.
func DistillStatic(ctx context.Context, cfg Config, log *slog.Logger, progress func(done, total int)) (*static.Model, error) {
	if log == nil {
		log = slog.Default()
	}
	vocab, err := wordpiece.LoadVocab(cfg.EmbedModel)
	if err != nil {
		return nil, err
	}
	if m, err := static.Load(StaticTablePath(cfg.EmbedModel), StaticModelName(cfg.EmbedModel), vocab); err == nil {
		return m, nil
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	sup, err := engine.NewSupervisor(engine.Config{
		Name: "distill", Binary: cfg.LlamaServer, Model: cfg.EmbedModel,
		Embedding: true, Pooling: "mean", CtxSize: 64 * 16, Parallel: 64, Threads: 1,
		ExtraArgs: []string{"-b", "1024", "-ub", "1024", "--poll", "0"}, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	if err := sup.Start(); err != nil {
		return nil, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sup.Stop(sctx)
	}()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = sup.WaitReady(wctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("static: embedding engine did not start: %w", err)
	}
	cl := engine.NewClient(sup, nil)
	cl.EmbedBatch = 64
	return PrepareStatic(ctx, cfg, cl.Embed, log, progress)
}
