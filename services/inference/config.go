package inference

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/pdfqa/pdfqa/platform/config"
)

// EngineVersion is the llama-cpp-python sdist whose llama.cpp tree
// scripts/setup/build-engine.sh builds; it keys the engine cache directory.
const EngineVersion = "0.3.36"

// Default model files, as scripts/setup/fetch-models.sh writes them.
const (
	DefaultChatModelFile  = "smollm2-135m-instruct-q4_1.gguf"
	DefaultEmbedModelFile = "all-minilm-l6-v2-f16.gguf"
)

// Config configures the inference service. Zero values take defaults; every
// field can be set from the environment (see FromEnv).
type Config struct {
	// LlamaServer is the llama-server binary (default: the CUDA build in the
	// cache when present, else the CPU build).
	LlamaServer string
	// ChatModel and EmbedModel are GGUF files.
	ChatModel  string
	EmbedModel string
	// ChatCtx is the chat engine's total context, split over ChatSlots slots.
	ChatCtx   int
	ChatSlots int
	// Threads per engine (default: CPU count).
	Threads int
	// MaxConcurrent generations admitted at once, MaxQueue waiting behind them.
	MaxConcurrent int
	MaxQueue      int
	// OpenAIBaseURL switches to an OpenAI-compatible upstream (vLLM, Ollama,
	// a hosted API) instead of local engines; OpenAIKey is sent as a bearer token.
	OpenAIBaseURL    string
	OpenAIKey        string
	OpenAIChatModel  string
	OpenAIEmbedModel string
	OpenAIVision     bool
	// NoStatic turns off the static embedding model distilled from
	// EmbedModel (served as "<model>-static" and "static").
	NoStatic bool
	// AdapterRoot is the one directory LoadAdapter reads adapter files
	// from (paths relative to it) and stores uploaded ones in (default
	// <data>/adapters); nothing outside it is opened (os.Root).
	AdapterRoot string
}

// FromEnv reads PDFQA_* variables over defaults derived from the cache dir.
func FromEnv(cache string) Config { return Read(config.Environment(), cache) }

// Read reads the inference settings through r over defaults derived from
// the cache dir: the one place they are read (and documented).
func Read(r *config.Reader, cache string) Config {
	set := config.Section("inference").Setting
	const openai = "OpenAI-compatible upstream (vLLM, Ollama, a hosted API) used instead of the local engines, behind its own breaker"
	return Config{
		LlamaServer:      r.String(set("PDFQA_LLAMA_SERVER", "llama-server binary", "cached build (CUDA when built, else CPU)"), FindLlamaServer(cache)),
		ChatModel:        r.String(set("PDFQA_CHAT_MODEL", "chat model GGUF (any GGUF works)", "cached `"+DefaultChatModelFile+"`"), filepath.Join(cache, "models", DefaultChatModelFile)),
		EmbedModel:       r.String(set("PDFQA_EMBED_MODEL", "embedding model GGUF (any GGUF works)", "cached `"+DefaultEmbedModelFile+"`"), filepath.Join(cache, "models", DefaultEmbedModelFile)),
		ChatCtx:          r.Int(set("PDFQA_CHAT_CTX", "chat engine context, split over the parallel slots", ""), 16384),
		ChatSlots:        r.Int(set("PDFQA_CHAT_SLOTS", "chat engine parallel slots", ""), 4),
		Threads:          r.Int(set("PDFQA_THREADS", "engine threads", "CPU count"), runtime.NumCPU()),
		MaxConcurrent:    r.Int(set("PDFQA_MAX_CONCURRENT", "generations admitted at once (admission control: ResourceExhausted beyond the queue)", ""), 4),
		MaxQueue:         r.Int(set("PDFQA_MAX_QUEUE", "generations waiting behind them", ""), 64),
		OpenAIBaseURL:    r.String(set("PDFQA_OPENAI_BASE_URL", "base URL of an "+openai, ""), ""),
		OpenAIKey:        r.String(config.Setting{Section: "inference", Env: "PDFQA_OPENAI_API_KEY", Doc: "bearer token sent to the upstream", Secret: true}, ""),
		OpenAIChatModel:  r.String(set("PDFQA_OPENAI_CHAT_MODEL", "the upstream's chat model", ""), ""),
		OpenAIEmbedModel: r.String(set("PDFQA_OPENAI_EMBED_MODEL", "the upstream's embedding model", ""), ""),
		OpenAIVision:     r.Bool(set("PDFQA_OPENAI_VISION", "`1`: the upstream's chat model reads page images", "")),
		NoStatic:         r.Bool(set("PDFQA_NO_STATIC_EMBEDDINGS", "`1`: do not serve (or distill) the static embedding model", "")),
		AdapterRoot: r.String(set("PDFQA_ADAPTER_ROOT",
			"the one directory LoadAdapter opens adapters in: a path is relative to it (absolute, `..` and symlinks out are refused); uploaded adapters are stored in it by SHA-256", "`<data>/adapters`"), ""),
	}
}

// FindLlamaServer returns the cached engine build: CUDA when built (the
// setup builds it only where nvcc exists), else CPU.
func FindLlamaServer(cache string) string {
	for _, variant := range []string{"cuda", "cpu"} {
		p := filepath.Join(cache, "engine", EngineVersion+"-"+variant, "bin", "llama-server")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join(cache, "engine", EngineVersion+"-cpu", "bin", "llama-server")
}

// check reports missing files with the command that provides them.
func (c Config) check() error {
	if c.OpenAIBaseURL != "" {
		return nil
	}
	for _, p := range []string{c.LlamaServer, c.ChatModel, c.EmbedModel} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s is missing: run `make setup` (scripts/setup/all.sh) to build the engine and fetch the models", p)
		}
	}
	return nil
}
