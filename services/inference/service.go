// Package inference is the inference service: the mesh's only door to neural
// models (chat generation, embeddings, LoRA adapters), served by supervised
// llama.cpp engines or an OpenAI-compatible upstream.
//
// It is layered like etcd's v3rpc: each gRPC handler in service.go is thin —
// it runs the check<Rpc>Request function beside it, converts the request to
// domain values, makes one call on core (core.go: admission, metrics,
// adapters, the static model, over a Backend) and translates any error
// through the one table in errors.go.
package inference

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/services/inference/engine"
)

// Limits on one request.
const (
	defaultMaxTokens = 512
	maxEmbedTexts    = 1024
	maxTextBytes     = 1 << 20
	// Images, for vision models only.
	maxImages     = 4
	maxImageBytes = 8 << 20
)

// imageTypes are the encodings OpenAI-compatible vision APIs accept.
var imageTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/webp": true, "image/gif": true}

// Service implements inferencev1.InferenceServiceServer.
type Service struct {
	inferencev1.UnimplementedInferenceServiceServer
	core *core
}

// Options wire the service into its process.
type Options struct {
	Config   Config
	DataDir  string
	Log      *slog.Logger
	Registry prometheus.Registerer
	// SetServing is told whether generation can be served (health status).
	SetServing func(bool)
	// Shared, when set, makes the adapter set the one every replica
	// serves (etcd + a blob bucket); LoadAdapter's path is then an object
	// key in the bucket.
	Shared *SharedAdapters
}

// adapterRoot is the directory local adapters are loaded from and uploaded
// into: Config.AdapterRoot (PDFQA_ADAPTER_ROOT), else DataDir/adapters.
func (o Options) adapterRoot() string {
	if o.Config.AdapterRoot != "" {
		return o.Config.AdapterRoot
	}
	return filepath.Join(o.DataDir, "adapters")
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
	var root *adapterRoot
	if o.Shared != nil {
		// The set is the mesh's: files are fetched into the cache.
		reg.keepUnder(o.Shared.CacheDir, log)
	} else {
		if root, err = openAdapterRoot(o.adapterRoot()); err != nil {
			return nil, err
		}
		// A registry written before the root existed may name files
		// anywhere: those are not served again.
		reg.keepUnder(root.dir, log)
	}
	var b Backend
	if o.Config.OpenAIBaseURL != "" {
		b, err = newOpenAIBackend(o.Config)
	} else {
		b, err = newLlamaBackend(o.Config, reg.paths(), log)
	}
	if err != nil {
		return nil, err
	}
	s := newService(b, reg, o, log)
	s.core.root = root
	if o.Shared != nil {
		if err := s.share(*o.Shared); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	if o.Config.OpenAIBaseURL == "" && !o.Config.NoStatic {
		s.core.startStatic(o.Config)
	}
	return s, nil
}

func newService(b Backend, reg *adapters, o Options, log *slog.Logger) *Service {
	s := &Service{core: newCore(b, reg, o.Config, o.Registry, log)}
	registerEngineMetrics(o.Registry, s.core)
	if o.SetServing != nil {
		// Balancers and breakers upstream see an instance whose engine is down.
		o.SetServing(b.Ready())
		go s.core.watchReady(o.SetServing)
	}
	return s
}

// share makes the adapter set the shared one and starts converging to it.
func (s *Service) share(cfg SharedAdapters) error {
	sh, err := openShared(cfg, s.core.log)
	if err != nil {
		return err
	}
	s.core.shared = sh
	sh.start(s.core.adapters, s.core.backend.SetAdapters)
	return nil
}

// Register adds the service to g.
func (s *Service) Register(g *grpc.Server) { inferencev1.RegisterInferenceServiceServer(g, s) }

// Close stops the engines.
func (s *Service) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.core.close(ctx)
}

// Generate streams a completion; the final response carries usage and timings.
func (s *Service) Generate(req *inferencev1.GenerateRequest, stream grpc.ServerStreamingServer[inferencev1.GenerateResponse]) error {
	if err := checkGenerateRequest(req, s.core.vision()); err != nil {
		return errs.Status(err)
	}
	res, err := s.core.generate(stream.Context(), toGeneration(req), func(delta string) error {
		return stream.Send(&inferencev1.GenerateResponse{Delta: delta})
	})
	if err != nil {
		return errs.Status(err)
	}
	return stream.Send(finalResponse(res))
}

// checkGenerateRequest checks the messages (checkMessages) and that a JSON
// schema, when given, is JSON. The adapter's existence is the domain's to
// check: it can change between calls.
func checkGenerateRequest(r *inferencev1.GenerateRequest, vision bool) error {
	if err := checkMessages(r.GetMessages(), vision); err != nil {
		return err
	}
	if js := strings.TrimSpace(r.GetJsonSchema()); js != "" && !json.Valid([]byte(js)) {
		return fmt.Errorf("%w: json_schema is not valid JSON", ErrInvalid)
	}
	return nil
}

// toGeneration converts a checked request; max_tokens 0 (or less) takes the
// default.
func toGeneration(r *inferencev1.GenerateRequest) generation {
	cr := engine.ChatRequest{Messages: toMessages(r.GetMessages()), MaxTokens: int(r.GetMaxTokens()), Stop: r.GetStop()}
	if cr.MaxTokens <= 0 {
		cr.MaxTokens = defaultMaxTokens
	}
	if r.Temperature != nil {
		cr.Temperature = engine.Ptr(float64(r.GetTemperature()))
	}
	if r.TopP != nil {
		cr.TopP = engine.Ptr(float64(r.GetTopP()))
	}
	if r.Seed != nil {
		cr.Seed = engine.Ptr(r.GetSeed())
	}
	if js := strings.TrimSpace(r.GetJsonSchema()); js != "" {
		cr.JSONSchema = json.RawMessage(js)
	}
	return generation{chat: cr, adapter: r.GetAdapter(), adapterScale: r.GetAdapterScale()}
}

// finalResponse is the last message of a Generate stream.
func finalResponse(g *generated) *inferencev1.GenerateResponse {
	return &inferencev1.GenerateResponse{
		FinishReason: finishReason(g.FinishReason), Model: g.Model,
		Timings: &inferencev1.Timings{QueueMs: ms(g.queue), TotalMs: ms(g.total),
			TimeToFirstTokenMs: ms(g.ttft), TokensPerSecond: g.tokensPerSecond},
		Usage: &inferencev1.Usage{PromptTokens: int32(g.Usage.PromptTokens), CompletionTokens: int32(g.Usage.CompletionTokens)},
	}
}

// finishReason maps the engine's finish reason: "length" is LENGTH, any
// other end is STOP.
func finishReason(engineReason string) inferencev1.FinishReason {
	if engineReason == "length" {
		return inferencev1.FinishReason_FINISH_REASON_LENGTH
	}
	return inferencev1.FinishReason_FINISH_REASON_STOP
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// checkMessages checks chat messages: at least one, and images only when the
// served chat model has vision, within the limits above, of a type vision
// APIs accept (sniffed when the MIME type is not given).
func checkMessages(in []*inferencev1.ChatMessage, vision bool) error {
	if len(in) == 0 {
		return fmt.Errorf("%w: messages are required", ErrInvalid)
	}
	images := 0
	for i, m := range in {
		if len(m.GetImages()) == 0 {
			continue
		}
		if !vision {
			return fmt.Errorf("%w: message %d has images but the served model does not accept images", ErrInvalid, i)
		}
		for j, im := range m.GetImages() {
			if images++; images > maxImages {
				return fmt.Errorf("%w: more than %d images in one request", ErrInvalid, maxImages)
			}
			if len(im.GetData()) == 0 {
				return fmt.Errorf("%w: message %d image %d is empty", ErrInvalid, i, j)
			}
			if len(im.GetData()) > maxImageBytes {
				return fmt.Errorf("%w: message %d image %d is %d bytes (max %d)", ErrInvalid, i, j, len(im.GetData()), maxImageBytes)
			}
			if mime := imageMIME(im); !imageTypes[mime] {
				return fmt.Errorf("%w: message %d image %d has type %q (want image/png, image/jpeg, image/webp or image/gif)", ErrInvalid, i, j, mime)
			}
		}
	}
	return nil
}

// imageMIME is an image's given MIME type, or its sniffed one.
func imageMIME(im *inferencev1.Image) string {
	if mime := strings.ToLower(strings.TrimSpace(im.GetMimeType())); mime != "" {
		return mime
	}
	return http.DetectContentType(im.GetData())
}

// toMessages converts checked chat messages (unknown roles are "user").
func toMessages(in []*inferencev1.ChatMessage) []engine.Message {
	out := make([]engine.Message, len(in))
	for i, m := range in {
		role := "user"
		switch m.GetRole() {
		case inferencev1.Role_ROLE_SYSTEM:
			role = "system"
		case inferencev1.Role_ROLE_ASSISTANT:
			role = "assistant"
		}
		out[i] = engine.Message{Role: role, Content: m.GetContent()}
		for _, im := range m.GetImages() {
			out[i].Images = append(out[i].Images, engine.Image{Data: im.GetData(), MIMEType: imageMIME(im)})
		}
	}
	return out
}

// Embed embeds texts, normalised.
func (s *Service) Embed(ctx context.Context, req *inferencev1.EmbedRequest) (*inferencev1.EmbedResponse, error) {
	if err := checkEmbedRequest(req); err != nil {
		return nil, errs.Status(err)
	}
	vecs, name, err := s.core.embed(ctx, req.GetModel(), req.GetTexts())
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
	return out, nil
}

// checkEmbedRequest checks there are texts, not too many nor too long.
func checkEmbedRequest(r *inferencev1.EmbedRequest) error {
	texts := r.GetTexts()
	if len(texts) == 0 {
		return fmt.Errorf("%w: texts are required", ErrInvalid)
	}
	if len(texts) > maxEmbedTexts {
		return fmt.Errorf("%w: %d texts in one call (max %d)", ErrInvalid, len(texts), maxEmbedTexts)
	}
	for i, t := range texts {
		if len(t) > maxTextBytes {
			return fmt.Errorf("%w: text %d is %d bytes (max %d)", ErrInvalid, i, len(t), maxTextBytes)
		}
	}
	return nil
}

// CountTokens counts tokens of text, or of messages after the chat template.
func (s *Service) CountTokens(ctx context.Context, req *inferencev1.CountTokensRequest) (*inferencev1.CountTokensResponse, error) {
	if err := checkCountTokensRequest(req, s.core.vision()); err != nil {
		return nil, errs.Status(err)
	}
	n, err := s.core.countTokens(ctx, req.GetText(), toMessages(req.GetMessages()))
	if err != nil {
		return nil, errs.Status(err)
	}
	return &inferencev1.CountTokensResponse{Count: int32(n), ContextWindow: s.core.chatWindow()}, nil
}

// checkCountTokensRequest checks the messages when there are any (text
// alone, even empty, is counted as it is).
func checkCountTokensRequest(r *inferencev1.CountTokensRequest, vision bool) error {
	if len(r.GetMessages()) == 0 {
		return nil
	}
	return checkMessages(r.GetMessages(), vision)
}

// ApplyChatTemplate renders messages with the chat template.
func (s *Service) ApplyChatTemplate(ctx context.Context, req *inferencev1.ApplyChatTemplateRequest) (*inferencev1.ApplyChatTemplateResponse, error) {
	if err := checkApplyChatTemplateRequest(req, s.core.vision()); err != nil {
		return nil, errs.Status(err)
	}
	p, n, err := s.core.applyTemplate(ctx, toMessages(req.GetMessages()))
	if err != nil {
		return nil, errs.Status(err)
	}
	return &inferencev1.ApplyChatTemplateResponse{Prompt: p, TokenCount: int32(n)}, nil
}

// checkApplyChatTemplateRequest checks the messages.
func checkApplyChatTemplateRequest(r *inferencev1.ApplyChatTemplateRequest, vision bool) error {
	return checkMessages(r.GetMessages(), vision)
}

// ListModels lists served models. (It takes no arguments: nothing to check.)
func (s *Service) ListModels(context.Context, *inferencev1.ListModelsRequest) (*inferencev1.ListModelsResponse, error) {
	return &inferencev1.ListModelsResponse{Models: s.core.models()}, nil
}

// LoadAdapter adds (or replaces) a LoRA adapter; a bad file leaves the
// previous set serving.
func (s *Service) LoadAdapter(ctx context.Context, req *inferencev1.LoadAdapterRequest) (*inferencev1.LoadAdapterResponse, error) {
	if err := checkLoadAdapterRequest(req); err != nil {
		return nil, errs.Status(err)
	}
	ad, err := s.core.loadAdapter(ctx, req.GetName(), req.GetPath(), req.GetContent(), req.GetScale())
	if err != nil {
		return nil, errs.Status(err)
	}
	return &inferencev1.LoadAdapterResponse{Adapter: ad}, nil
}

// checkLoadAdapterRequest checks the name's spelling and that either a
// path that can lie under the adapter root (relative, no "..") or GGUF
// bytes are given; whether the file exists is the domain's to find out.
func checkLoadAdapterRequest(r *inferencev1.LoadAdapterRequest) error {
	if !adapterName.MatchString(r.GetName()) {
		return fmt.Errorf("%w: adapter name %q: use letters, digits, '.', '_' or '-'", ErrInvalid, r.GetName())
	}
	switch {
	case len(r.GetContent()) > 0 && r.GetPath() != "":
		return fmt.Errorf("%w: give the adapter's path or its content, not both", ErrInvalid)
	case len(r.GetContent()) > 0:
		return checkAdapterBytes(r.GetContent())
	}
	return checkAdapterPath(r.GetPath())
}

// UnloadAdapter removes a LoRA adapter; with sha256, only that version of
// it (Aborted, naming the current digest, when another has replaced it).
// (Any name is checked by looking it up: one never loaded is NotFound.)
func (s *Service) UnloadAdapter(ctx context.Context, req *inferencev1.UnloadAdapterRequest) (*inferencev1.UnloadAdapterResponse, error) {
	if err := checkUnloadAdapterRequest(req); err != nil {
		return nil, errs.Status(err)
	}
	if err := s.core.unloadAdapter(ctx, req.GetName(), req.GetSha256()); err != nil {
		return nil, errs.Status(err)
	}
	return &inferencev1.UnloadAdapterResponse{}, nil
}

// checkUnloadAdapterRequest checks the precondition's spelling: empty, or
// a digest as Adapter.sha256 shows it.
func checkUnloadAdapterRequest(r *inferencev1.UnloadAdapterRequest) error {
	if d := r.GetSha256(); d != "" && !adapterVersion.MatchString(d) {
		return fmt.Errorf("%w: sha256 %q: give the adapter's digest as ListAdapters shows it, 64 lowercase hex digits", ErrInvalid, clip(d))
	}
	return nil
}

// ListAdapters lists loaded LoRA adapters. (No arguments: nothing to check.)
func (s *Service) ListAdapters(context.Context, *inferencev1.ListAdaptersRequest) (*inferencev1.ListAdaptersResponse, error) {
	return &inferencev1.ListAdaptersResponse{Adapters: s.core.listAdapters()}, nil
}
