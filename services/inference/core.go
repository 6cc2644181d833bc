package inference

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/blobstore"
	"github.com/pdfqa/pdfqa/services/inference/engine"
)

// core is the inference domain beneath the gRPC handlers: it owns the
// backend, admission, the metrics, the adapter registry and the static
// embedding model. Its methods take checked domain values (never protobuf
// requests) and return domain errors (never gRPC statuses); the handlers in
// service.go check a request, make one call here and translate the result.
type core struct {
	log      *slog.Logger
	backend  Backend
	admit    *admission
	adapters *adapters
	m        *metrics
	static   *staticServer // nil without a local embedding engine
	shared   *adapterSet   // nil: the adapter set is this instance's own
	root     *adapterRoot  // the local adapters' directory (nil: none, as on an upstream)
	stop     chan struct{}
}

// metrics are the service's Prometheus series.
type metrics struct {
	ttft      prometheus.Histogram
	tps       prometheus.Histogram
	generated prometheus.Counter
	embedded  prometheus.Counter
	depth     prometheus.Gauge // admission queue
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		ttft: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pdfqa_inference_time_to_first_token_seconds",
			Help: "Time from admission to the first generated token.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
		tps: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pdfqa_inference_tokens_per_second",
			Help: "Generation speed per request after the first token.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
		generated: prometheus.NewCounter(prometheus.CounterOpts{Name: "pdfqa_inference_generated_tokens_total", Help: "Tokens generated."}),
		embedded:  prometheus.NewCounter(prometheus.CounterOpts{Name: "pdfqa_inference_embedded_texts_total", Help: "Texts embedded."}),
		depth:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "pdfqa_inference_queue_depth", Help: "Requests waiting for an admission slot."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.ttft, m.tps, m.generated, m.embedded, m.depth} {
			_ = reg.Register(c)
		}
	}
	return m
}

func newCore(b Backend, reg *adapters, cfg Config, registry prometheus.Registerer, log *slog.Logger) *core {
	if log == nil {
		log = slog.Default()
	}
	m := newMetrics(registry)
	return &core{log: log, backend: b, admit: newAdmission(cfg.MaxConcurrent, cfg.MaxQueue, m.depth),
		adapters: reg, m: m, stop: make(chan struct{})}
}

// close stops the background work and the backend.
func (c *core) close(ctx context.Context) error {
	close(c.stop)
	if c.shared != nil {
		c.shared.close()
	}
	if c.root != nil {
		_ = c.root.close()
	}
	return c.backend.Close(ctx)
}

// watchReady mirrors the backend's readiness into set until close, calling
// it on every change (and once at the start).
func (c *core) watchReady(set func(bool)) {
	last := -1
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		ready := 0
		if c.backend.Ready() {
			ready = 1
		}
		if ready != last {
			set(ready == 1)
			last = ready
		}
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
	}
}

// generation is one chat completion to run.
type generation struct {
	chat         engine.ChatRequest
	adapter      string  // "" for the base model
	adapterScale float32 // 0: the adapter's registered scale
}

// generated is a finished generation and how long its parts took.
type generated struct {
	*engine.ChatResult
	queue, total time.Duration
	// ttft and tokensPerSecond are zero when no token was streamed.
	ttft            time.Duration
	tokensPerSecond float64
}

// generate resolves the adapter, waits for admission, runs the chat and
// records the time to first token, the speed and the tokens generated.
// onDelta gets each streamed piece of text.
func (c *core) generate(ctx context.Context, g generation, onDelta func(string) error) (*generated, error) {
	cr := g.chat
	if g.adapter != "" {
		id, scale, err := c.adapters.lookup(g.adapter)
		if err != nil {
			return nil, err
		}
		if g.adapterScale != 0 {
			scale = g.adapterScale
		}
		cr.LoRA = []engine.LoRA{{ID: id, Scale: float64(scale)}}
	}
	t0 := time.Now()
	release, err := c.admit.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	admitted := time.Now()
	var first time.Time
	res, err := c.backend.Chat(ctx, cr, func(delta string) error {
		if first.IsZero() {
			first = time.Now()
		}
		return onDelta(delta)
	})
	if err != nil {
		return nil, err
	}
	end := time.Now()
	out := &generated{ChatResult: res, queue: admitted.Sub(t0), total: end.Sub(t0)}
	if !first.IsZero() {
		out.ttft = first.Sub(admitted)
		c.m.ttft.Observe(out.ttft.Seconds())
		if n := res.Usage.CompletionTokens; n > 1 && end.After(first) {
			out.tokensPerSecond = float64(n-1) / end.Sub(first).Seconds()
			c.m.tps.Observe(out.tokensPerSecond)
		}
	}
	c.m.generated.Add(float64(res.Usage.CompletionTokens))
	return out, nil
}

// embed embeds texts with the named model ("" for the contextual engine,
// StaticAlias or the static model's name for the static one), returning the
// vectors and the name of the model that made them.
func (c *core) embed(ctx context.Context, model string, texts []string) ([][]float32, string, error) {
	var vecs [][]float32
	var name string
	var err error
	if c.servesStatic(model) {
		vecs, name, err = c.embedStatic(texts)
	} else {
		vecs, err = c.backend.Embed(ctx, texts)
		for _, m := range c.backend.Models() {
			if m.Kind == inferencev1.ModelKind_MODEL_KIND_EMBEDDING {
				name = m.Name
			}
		}
	}
	if err != nil {
		return nil, "", err
	}
	c.m.embedded.Add(float64(len(texts)))
	return vecs, name, nil
}

// countTokens counts the tokens of text, or of msgs after the chat template
// when there are any.
func (c *core) countTokens(ctx context.Context, text string, msgs []engine.Message) (int, error) {
	if len(msgs) > 0 {
		var err error
		if text, err = c.backend.ApplyTemplate(ctx, msgs); err != nil {
			return 0, err
		}
	}
	return c.backend.CountTokens(ctx, text)
}

// applyTemplate renders msgs with the chat template and counts the result.
func (c *core) applyTemplate(ctx context.Context, msgs []engine.Message) (string, int, error) {
	p, err := c.backend.ApplyTemplate(ctx, msgs)
	if err != nil {
		return "", 0, err
	}
	n, err := c.backend.CountTokens(ctx, p)
	if err != nil {
		return "", 0, err
	}
	return p, n, nil
}

// models lists the served models, the static one included.
func (c *core) models() []*inferencev1.Model {
	return append(c.backend.Models(), c.staticModels()...)
}

// chatModel is the served chat model (nil when there is none).
func (c *core) chatModel() *inferencev1.Model {
	for _, m := range c.backend.Models() {
		if m.Kind == inferencev1.ModelKind_MODEL_KIND_CHAT {
			return m
		}
	}
	return nil
}

// chatWindow is the chat model's context window per request.
func (c *core) chatWindow() int32 { return c.chatModel().GetContextWindow() }

// vision reports whether the served chat model accepts images.
func (c *core) vision() bool { return c.chatModel().GetVision() }

// loadAdapter adds (or replaces) the adapter name from the file at path
// (scale 0 means 1), for the served chat model; a file the engine refuses
// leaves the previous set serving.
func (c *core) loadAdapter(ctx context.Context, name, path string, content []byte, scale float32) (*inferencev1.Adapter, error) {
	if c.shared != nil {
		if scale == 0 {
			scale = 1
		}
		key := path
		if len(content) > 0 {
			var err error
			if key, err = c.shared.upload(ctx, name, content); err != nil {
				return nil, err
			}
		} else if err := checkAdapterPath(key); err != nil {
			return nil, err
		}
		return c.loadShared(ctx, name, key, scale)
	}
	if c.root == nil {
		return nil, fmt.Errorf("%w: no adapter root is configured", engine.ErrNotSupported)
	}
	if len(content) > 0 {
		var err error
		if path, err = c.root.store(content); err != nil {
			return nil, err
		}
	}
	abs, err := c.root.resolve(path)
	if err != nil {
		return nil, err
	}
	if scale == 0 {
		scale = 1
	}
	ad := &inferencev1.Adapter{Name: name, Path: abs, Scale: scale}
	if len(content) > 0 {
		ad.Sha256 = adapterDigest(content)
	} else if ad.Sha256, err = blobstore.FileSHA256(abs); err != nil {
		return nil, fmt.Errorf("%w: adapter %q under the adapter root cannot be read: %v", ErrInvalid, clip(path), rootErr(err))
	}
	for _, m := range c.backend.Models() {
		if m.Kind == inferencev1.ModelKind_MODEL_KIND_CHAT {
			ad.BaseModel = m.Name
		}
	}
	if err := c.adapters.put(ctx, ad, c.backend.SetAdapters); err != nil {
		return nil, err
	}
	c.log.InfoContext(ctx, "adapter loaded", slog.String("name", ad.Name), slog.String("path", abs))
	return ad, nil
}

// unloadAdapter removes the adapter name; with want (a checked digest),
// only while name is still that version: a version loaded since, by
// another caller or a trainer's publish, stays served and the call fails
// with ErrConflict naming it.
func (c *core) unloadAdapter(ctx context.Context, name, want string) error {
	if c.shared != nil {
		return c.unloadShared(ctx, name, want)
	}
	return c.adapters.remove(ctx, name, want, c.backend.SetAdapters)
}

// listAdapters lists the loaded adapters by name.
func (c *core) listAdapters() []*inferencev1.Adapter { return c.adapters.snapshot() }
