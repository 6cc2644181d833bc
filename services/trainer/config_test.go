package trainer

import (
	"path/filepath"
	"testing"

	"github.com/pdfqa/pdfqa/platform/config"
)

// TestReadConfig: the base directory follows the chat model it is made from.
func TestReadConfig(t *testing.T) {
	cache := t.TempDir()
	c := Read(config.NewReader(config.MapEnv(nil)), cache)
	if c.BaseGGUF != filepath.Join(cache, "models", DefaultBaseModelFile) || c.Python != "python3" || c.WorkerDir != "" || c.Cache != cache {
		t.Errorf("defaults %+v", c)
	}
	c = Read(config.NewReader(config.MapEnv(map[string]string{"PDFQA_CHAT_MODEL": "/m/other.gguf", "PDFQA_TRAINER_PYTHON": "/py"})), cache)
	if c.BaseGGUF != "/m/other.gguf" || c.BaseDir != filepath.Join(cache, "trainer", "base", "other") || c.Python != "/py" {
		t.Errorf("from the environment %+v", c)
	}
}
