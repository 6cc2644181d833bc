// Package inference is the inference service: the mesh's only door to neural
// models (chat generation, embeddings, LoRA adapters), served by supervised
// llama.cpp engines or an OpenAI-compatible upstream.
package inference

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/grpcerr"
	"github.com/pdfqa/pdfqa/services/inference/engine"
)

// errs is the service's one map from domain errors to gRPC codes.
var errs = grpcerr.Table{
	{Err: ErrInvalid, Code: codes.InvalidArgument},
	{Err: ErrAdapterNotFound, Code: codes.NotFound},
	{Err: ErrOverloaded, Code: codes.ResourceExhausted},
	{Err: engine.ErrUnavailable, Code: codes.Unavailable},
	{Err: engine.ErrBadRequest, Code: codes.InvalidArgument},
	{Err: engine.ErrContextSize, Code: codes.OutOfRange},
	{Err: engine.ErrNotFound, Code: codes.NotFound},
	{Err: engine.ErrNotSupported, Code: codes.Unimplemented},
	{Err: engine.ErrBadAdapter, Code: codes.FailedPrecondition},
	{Err: engine.ErrInternal, Code: codes.Internal},
}

// Limits on one request.
const (
	defaultMaxTokens = 512
	maxEmbedTexts    = 1024
	maxTextBytes     = 1 << 20
)

// Service implements inferencev1.InferenceServiceServer.
type Service struct {
	inferencev1.UnimplementedInferenceServiceServer
	log      *slog.Logger
	backend  Backend
	admit    *admission
	adapters *adapters
	m        *metrics
	stop     chan struct{}
	static   *staticServer // nil without a local embedding engine
}

type metrics struct {
	ttft      prometheus.Histogram
	tps       prometheus.Histogram
	generated prometheus.Counter
	embedded  prometheus.Counter
}

// Options wire the service into its process.
type Options struct {
	Config   Config
	DataDir  string
	Log      *slog.Logger
	Registry prometheus.Registerer
	// SetServing is told whether generation can be served (health status).
	SetServing func(bool)
}

// New starts the engines (or connects the upstream) and returns the service.
func New(o Options) (*Service, error) {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	reg, err := loadAdapters(filepath.Join(o.DataDir, "adapters.json"))
	if err != nil {
		return nil, err
	}
	var b Backend
	if o.Config.OpenAIBaseURL != "" {
		b, err = newOpenAIBackend(o.Config)
	} else {
		b, err = newLlamaBackend(o.Config, reg.paths(reg.list), log)
	}
	if err != nil {
		return nil, err
	}
	s := newService(b, reg, o, log)
	if o.Config.OpenAIBaseURL == "" && !o.Config.NoStatic {
		s.startStatic(o.Config)
	}
	return s, nil
}

func newService(b Backend, reg *adapters, o Options, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	m := &metrics{
		ttft: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pdfqa_inference_time_to_first_token_seconds",
			Help: "Time from admission to the first generated token.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
		tps: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pdfqa_inference_tokens_per_second",
			Help: "Generation speed per request after the first token.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
		generated: prometheus.NewCounter(prometheus.CounterOpts{Name: "pdfqa_inference_generated_tokens_total", Help: "Tokens generated."}),
		embedded:  prometheus.NewCounter(prometheus.CounterOpts{Name: "pdfqa_inference_embedded_texts_total", Help: "Texts embedded."}),
	}
	depth := prometheus.NewGauge(prometheus.GaugeOpts{Name: "pdfqa_inference_queue_depth", Help: "Requests waiting for an admission slot."})
	if o.Registry != nil {
		for _, c := range []prometheus.Collector{m.ttft, m.tps, m.generated, m.embedded, depth} {
			_ = o.Registry.Register(c)
		}
	}
	s := &Service{log: log, backend: b, admit: newAdmission(o.Config.MaxConcurrent, o.Config.MaxQueue, depth),
		adapters: reg, m: m, stop: make(chan struct{})}
	if o.SetServing != nil {
		o.SetServing(b.Ready())
		go s.watchHealth(o.SetServing)
	}
	return s
}

// watchHealth mirrors the engine's readiness into the gRPC health status, so
// balancers and breakers upstream see an instance whose engine is down.
func (s *Service) watchHealth(set func(bool)) {
	last := -1
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		ready := 0
		if s.backend.Ready() {
			ready = 1
		}
		if ready != last {
			set(ready == 1)
			last = ready
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// Register adds the service to g.
func (s *Service) Register(g *grpc.Server) { inferencev1.RegisterInferenceServiceServer(g, s) }

// Close stops the engines.
func (s *Service) Close() error {
	close(s.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.backend.Close(ctx)
}

// Limits on the images of one request (vision models only).
const (
	maxImages     = 4
	maxImageBytes = 8 << 20
)

// imageTypes are the encodings OpenAI-compatible vision APIs accept.
var imageTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/webp": true, "image/gif": true}

// toMessages converts chat messages; images are accepted only when the
// served chat model has vision, within the limits above.
func toMessages(in []*inferencev1.ChatMessage, vision bool) ([]engine.Message, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("%w: messages are required", ErrInvalid)
	}
	out := make([]engine.Message, len(in))
	images := 0
	for i, m := range in {
		role := "user"
		switch m.GetRole() {
		case inferencev1.Role_ROLE_SYSTEM:
			role = "system"
		case inferencev1.Role_ROLE_ASSISTANT:
			role = "assistant"
		}
		out[i] = engine.Message{Role: role, Content: m.GetContent()}
		if len(m.GetImages()) == 0 {
			continue
		}
		if !vision {
			return nil, fmt.Errorf("%w: message %d has images but the served model does not accept images", ErrInvalid, i)
		}
		for j, im := range m.GetImages() {
			if images++; images > maxImages {
				return nil, fmt.Errorf("%w: more than %d images in one request", ErrInvalid, maxImages)
			}
			if len(im.GetData()) == 0 {
				return nil, fmt.Errorf("%w: message %d image %d is empty", ErrInvalid, i, j)
			}
			if len(im.GetData()) > maxImageBytes {
				return nil, fmt.Errorf("%w: message %d image %d is %d bytes (max %d)", ErrInvalid, i, j, len(im.GetData()), maxImageBytes)
			}
			mime := strings.ToLower(strings.TrimSpace(im.GetMimeType()))
			if mime == "" {
				mime = http.DetectContentType(im.GetData())
			}
			if !imageTypes[mime] {
				return nil, fmt.Errorf("%w: message %d image %d has type %q (want image/png, image/jpeg, image/webp or image/gif)", ErrInvalid, i, j, mime)
			}
			out[i].Images = append(out[i].Images, engine.Image{Data: im.GetData(), MIMEType: mime})
		}
	}
	return out, nil
}

// Generate streams a completion; the final response carries usage and timings.
func (s *Service) Generate(req *inferencev1.GenerateRequest, stream grpc.ServerStreamingServer[inferencev1.GenerateResponse]) error {
	ctx := stream.Context()
	msgs, err := toMessages(req.GetMessages(), s.vision())
	if err != nil {
		return errs.Status(err)
	}
	cr := engine.ChatRequest{Messages: msgs, MaxTokens: int(req.GetMaxTokens()), Stop: req.GetStop()}
	if cr.MaxTokens <= 0 {
		cr.MaxTokens = defaultMaxTokens
	}
	if req.Temperature != nil {
		cr.Temperature = engine.Ptr(float64(req.GetTemperature()))
	}
	if req.TopP != nil {
		cr.TopP = engine.Ptr(float64(req.GetTopP()))
	}
	if req.Seed != nil {
		cr.Seed = engine.Ptr(req.GetSeed())
	}
	if js := strings.TrimSpace(req.GetJsonSchema()); js != "" {
		if !json.Valid([]byte(js)) {
			return errs.Status(fmt.Errorf("%w: json_schema is not valid JSON", ErrInvalid))
		}
		cr.JSONSchema = json.RawMessage(js)
	}
	if name := req.GetAdapter(); name != "" {
		id, scale, err := s.adapters.lookup(name)
		if err != nil {
			return errs.Status(err)
		}
		if req.GetAdapterScale() != 0 {
			scale = req.GetAdapterScale()
		}
		cr.LoRA = []engine.LoRA{{ID: id, Scale: float64(scale)}}
	}
	t0 := time.Now()
	release, err := s.admit.acquire(ctx)
	if err != nil {
		return errs.Status(err)
	}
	defer release()
	admitted := time.Now()
	var first time.Time
	res, err := s.backend.Chat(ctx, cr, func(delta string) error {
		if first.IsZero() {
			first = time.Now()
		}
		return stream.Send(&inferencev1.GenerateResponse{Delta: delta})
	})
	if err != nil {
		return errs.Status(err)
	}
	end := time.Now()
	tim := &inferencev1.Timings{QueueMs: ms(admitted.Sub(t0)), TotalMs: ms(end.Sub(t0))}
	if !first.IsZero() {
		tim.TimeToFirstTokenMs = ms(first.Sub(admitted))
		s.m.ttft.Observe(first.Sub(admitted).Seconds())
		if n := res.Usage.CompletionTokens; n > 1 && end.After(first) {
			tim.TokensPerSecond = float64(n-1) / end.Sub(first).Seconds()
			s.m.tps.Observe(tim.TokensPerSecond)
		}
	}
	s.m.generated.Add(float64(res.Usage.CompletionTokens))
	fr := inferencev1.FinishReason_FINISH_REASON_STOP
	if res.FinishReason == "length" {
		fr = inferencev1.FinishReason_FINISH_REASON_LENGTH
	}
	return stream.Send(&inferencev1.GenerateResponse{
		FinishReason: fr, Model: res.Model, Timings: tim,
		Usage: &inferencev1.Usage{PromptTokens: int32(res.Usage.PromptTokens), CompletionTokens: int32(res.Usage.CompletionTokens)},
	})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Embed embeds texts, normalised.
func (s *Service) Embed(ctx context.Context, req *inferencev1.EmbedRequest) (*inferencev1.EmbedResponse, error) {
	texts := req.GetTexts()
	if len(texts) == 0 {
		return nil, errs.Status(fmt.Errorf("%w: texts are required", ErrInvalid))
	}
	if len(texts) > maxEmbedTexts {
		return nil, errs.Status(fmt.Errorf("%w: %d texts in one call (max %d)", ErrInvalid, len(texts), maxEmbedTexts))
	}
	for i, t := range texts {
		if len(t) > maxTextBytes {
			return nil, errs.Status(fmt.Errorf("%w: text %d is %d bytes (max %d)", ErrInvalid, i, len(t), maxTextBytes))
		}
	}
	var vecs [][]float32
	var name string
	var err error
	if s.servesStatic(req.GetModel()) {
		vecs, name, err = s.embedStatic(texts)
	} else {
		vecs, err = s.backend.Embed(ctx, texts)
		for _, m := range s.backend.Models() {
			if m.Kind == inferencev1.ModelKind_MODEL_KIND_EMBEDDING {
				name = m.Name
			}
		}
	}
	if err != nil {
		return nil, errs.Status(err)
	}
	out := &inferencev1.EmbedResponse{Embeddings: make([]*inferencev1.Embedding, len(vecs)), Model: name}
	for i, v := range vecs {
		out.Embeddings[i] = &inferencev1.Embedding{Values: v}
	}
	if len(vecs) > 0 {
		out.Dimension = int32(len(vecs[0]))
	}
	s.m.embedded.Add(float64(len(texts)))
	return out, nil
}

// chatModel is the served chat model (nil when there is none).
func (s *Service) chatModel() *inferencev1.Model {
	for _, m := range s.backend.Models() {
		if m.Kind == inferencev1.ModelKind_MODEL_KIND_CHAT {
			return m
		}
	}
	return nil
}

func (s *Service) chatWindow() int32 { return s.chatModel().GetContextWindow() }

// vision reports whether the served chat model accepts images.
func (s *Service) vision() bool { return s.chatModel().GetVision() }

// CountTokens counts tokens of text, or of messages after the chat template.
func (s *Service) CountTokens(ctx context.Context, req *inferencev1.CountTokensRequest) (*inferencev1.CountTokensResponse, error) {
	text := req.GetText()
	if len(req.GetMessages()) > 0 {
		msgs, err := toMessages(req.GetMessages(), s.vision())
		if err != nil {
			return nil, errs.Status(err)
		}
		if text, err = s.backend.ApplyTemplate(ctx, msgs); err != nil {
			return nil, errs.Status(err)
		}
	}
	n, err := s.backend.CountTokens(ctx, text)
	if err != nil {
		return nil, errs.Status(err)
	}
	return &inferencev1.CountTokensResponse{Count: int32(n), ContextWindow: s.chatWindow()}, nil
}

// ApplyChatTemplate renders messages with the chat template.
func (s *Service) ApplyChatTemplate(ctx context.Context, req *inferencev1.ApplyChatTemplateRequest) (*inferencev1.ApplyChatTemplateResponse, error) {
	msgs, err := toMessages(req.GetMessages(), s.vision())
	if err != nil {
		return nil, errs.Status(err)
	}
	p, err := s.backend.ApplyTemplate(ctx, msgs)
	if err != nil {
		return nil, errs.Status(err)
	}
	n, err := s.backend.CountTokens(ctx, p)
	if err != nil {
		return nil, errs.Status(err)
	}
	return &inferencev1.ApplyChatTemplateResponse{Prompt: p, TokenCount: int32(n)}, nil
}

// ListModels lists served models.
func (s *Service) ListModels(context.Context, *inferencev1.ListModelsRequest) (*inferencev1.ListModelsResponse, error) {
	return &inferencev1.ListModelsResponse{Models: append(s.backend.Models(), s.staticModels()...)}, nil
}

// LoadAdapter adds (or replaces) a LoRA adapter; a bad file leaves the
// previous set serving.
func (s *Service) LoadAdapter(ctx context.Context, req *inferencev1.LoadAdapterRequest) (*inferencev1.LoadAdapterResponse, error) {
	if !adapterName.MatchString(req.GetName()) {
		return nil, errs.Status(fmt.Errorf("%w: adapter name %q: use letters, digits, '.', '_' or '-'", ErrInvalid, req.GetName()))
	}
	path, err := filepath.Abs(req.GetPath())
	if err != nil || req.GetPath() == "" {
		return nil, errs.Status(fmt.Errorf("%w: adapter path is required", ErrInvalid))
	}
	if _, err := os.Stat(path); err != nil {
		return nil, errs.Status(fmt.Errorf("%w: adapter file: %v", ErrInvalid, err))
	}
	scale := req.GetScale()
	if scale == 0 {
		scale = 1
	}
	ad := &inferencev1.Adapter{Name: req.GetName(), Path: path, Scale: scale}
	for _, m := range s.backend.Models() {
		if m.Kind == inferencev1.ModelKind_MODEL_KIND_CHAT {
			ad.BaseModel = m.Name
		}
	}
	s.adapters.mu.Lock()
	defer s.adapters.mu.Unlock()
	next := s.adapters.with(ad)
	if err := s.backend.SetAdapters(ctx, s.adapters.paths(next)); err != nil {
		return nil, errs.Status(err)
	}
	if err := s.adapters.commit(next); err != nil {
		return nil, errs.Status(err)
	}
	s.log.InfoContext(ctx, "adapter loaded", slog.String("name", ad.Name), slog.String("path", path))
	return &inferencev1.LoadAdapterResponse{Adapter: ad}, nil
}

// UnloadAdapter removes a LoRA adapter.
func (s *Service) UnloadAdapter(ctx context.Context, req *inferencev1.UnloadAdapterRequest) (*inferencev1.UnloadAdapterResponse, error) {
	s.adapters.mu.Lock()
	defer s.adapters.mu.Unlock()
	next, found := s.adapters.without(req.GetName())
	if !found {
		return nil, errs.Status(fmt.Errorf("%w: %q", ErrAdapterNotFound, req.GetName()))
	}
	if err := s.backend.SetAdapters(ctx, s.adapters.paths(next)); err != nil {
		return nil, errs.Status(err)
	}
	if err := s.adapters.commit(next); err != nil {
		return nil, errs.Status(err)
	}
	return &inferencev1.UnloadAdapterResponse{}, nil
}

// ListAdapters lists loaded LoRA adapters.
func (s *Service) ListAdapters(context.Context, *inferencev1.ListAdaptersRequest) (*inferencev1.ListAdaptersResponse, error) {
	return &inferencev1.ListAdaptersResponse{Adapters: s.adapters.snapshot()}, nil
}
