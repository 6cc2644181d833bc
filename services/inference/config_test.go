package inference

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pdfqa/pdfqa/platform/config"
)

// TestReadConfig: Read takes every PDFQA_* variable over the cache's
// defaults, and a malformed number falls back to its default, as FromEnv
// always has.
func TestReadConfig(t *testing.T) {
	cache := t.TempDir()
	c := Read(config.NewReader(config.MapEnv(nil)), cache)
	if c.ChatModel != filepath.Join(cache, "models", DefaultChatModelFile) || c.ChatCtx != 16384 || c.ChatSlots != 4 ||
		c.Threads != runtime.NumCPU() || c.MaxConcurrent != 4 || c.MaxQueue != 64 || c.LlamaServer != FindLlamaServer(cache) || c.NoStatic || c.OpenAIVision {
		t.Errorf("defaults %+v", c)
	}
	r := config.NewReader(config.MapEnv(map[string]string{
		"PDFQA_CHAT_CTX": "2048", "PDFQA_MAX_QUEUE": "lots", "PDFQA_LLAMA_SERVER": "/bin/ls",
		"PDFQA_OPENAI_BASE_URL": "http://up", "PDFQA_OPENAI_VISION": "1", "PDFQA_NO_STATIC_EMBEDDINGS": "1",
	}))
	c = Read(r, cache)
	if c.ChatCtx != 2048 || c.MaxQueue != 64 || c.LlamaServer != "/bin/ls" || c.OpenAIBaseURL != "http://up" || !c.OpenAIVision || !c.NoStatic {
		t.Errorf("from the environment %+v", c)
	}
	if r.Err() == nil {
		t.Error("the malformed PDFQA_MAX_QUEUE went unreported")
	}
}
