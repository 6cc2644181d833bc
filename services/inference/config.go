package inference

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

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
}

// FromEnv reads PDFQA_* variables over defaults derived from the cache dir.
func FromEnv(cache string) Config {
	c := Config{
		LlamaServer:      os.Getenv("PDFQA_LLAMA_SERVER"),
		ChatModel:        config.Env("PDFQA_CHAT_MODEL", filepath.Join(cache, "models", DefaultChatModelFile)),
		EmbedModel:       config.Env("PDFQA_EMBED_MODEL", filepath.Join(cache, "models", DefaultEmbedModelFile)),
		ChatCtx:          envInt("PDFQA_CHAT_CTX", 16384),
		ChatSlots:        envInt("PDFQA_CHAT_SLOTS", 4),
		Threads:          envInt("PDFQA_THREADS", runtime.NumCPU()),
		MaxConcurrent:    envInt("PDFQA_MAX_CONCURRENT", 4),
		MaxQueue:         envInt("PDFQA_MAX_QUEUE", 64),
		OpenAIBaseURL:    os.Getenv("PDFQA_OPENAI_BASE_URL"),
		OpenAIKey:        os.Getenv("PDFQA_OPENAI_API_KEY"),
		OpenAIChatModel:  os.Getenv("PDFQA_OPENAI_CHAT_MODEL"),
		OpenAIEmbedModel: os.Getenv("PDFQA_OPENAI_EMBED_MODEL"),
		OpenAIVision:     os.Getenv("PDFQA_OPENAI_VISION") == "1",
		NoStatic:         os.Getenv("PDFQA_NO_STATIC_EMBEDDINGS") == "1",
	}
	if c.LlamaServer == "" {
		c.LlamaServer = FindLlamaServer(cache)
	}
	return c
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

func envInt(key string, def int) int {
	if v := os.Getenv(key); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
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
