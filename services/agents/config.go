package agents

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/services/agents/ask"
	"github.com/pdfqa/pdfqa/services/agents/prompts"
)

// Config is the agents service's settings.
type Config struct {
	// MaxImages is how many page images of table/OCR evidence go to a
	// vision model per answer (0: the engine's default, 2; negative: none).
	MaxImages int
	// Prompts is the service's prompt set.
	Prompts *prompts.Set
	// RunRetention is how long runs are kept before they are purged (0:
	// forever); see Service.RetainRuns.
	RunRetention time.Duration
}

// DefaultRunRetention is PDFQA_RUN_RETENTION's default: 30 days.
const DefaultRunRetention = 30 * 24 * time.Hour

// ReadConfig reads the agents settings through r: the one place they are
// read (and documented). A malformed value is an error.
func ReadConfig(r *config.Reader) (Config, error) {
	set := config.Section("agents").Setting
	var c Config
	name := r.String(set("PDFQA_PROMPT_SET",
		"prompt set (one folder each in `services/agents/prompts`: "+"`"+strings.Join(prompts.Sets(), "`, `")+"`"+"); a call may pick another with gRPC metadata `"+PromptSetHeader+
			"`, and `pdfqa eval --prompt-set A,B` compares sets side by side (one results file each)", ""), prompts.Version)
	ps, err := prompts.Lookup(name)
	if err != nil {
		return Config{}, fmt.Errorf("PDFQA_PROMPT_SET: %w", err)
	}
	c.Prompts = ps
	if v := r.String(set("PDFQA_VISION_MAX_IMAGES",
		"page images of table/OCR evidence sent to a vision model (OpenAI-compatible upstream with `PDFQA_OPENAI_VISION=1`); 0 or negative: never", "`2`"), ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return Config{}, fmt.Errorf("PDFQA_VISION_MAX_IMAGES=%q: want a number", v)
		}
		c.MaxImages = n
		if n <= 0 {
			c.MaxImages = -1
		}
	}
	keep := r.String(set("PDFQA_RUN_RETENTION",
		"how long runs (questions, answers and the evidence text they quote) are kept before they are purged, a Go duration (`720h` is 30 days); `0`: forever", "`720h`"), "")
	c.RunRetention = DefaultRunRetention
	if keep != "" {
		d, err := time.ParseDuration(keep)
		if err != nil || d < 0 {
			return Config{}, fmt.Errorf("PDFQA_RUN_RETENTION=%q: want a duration such as 720h, or 0 to keep runs forever", keep)
		}
		c.RunRetention = d
	}
	return c, nil
}

// Apply gives engine the settings it leaves unset.
func (c Config) Apply(engine *ask.Engine) {
	if engine.MaxImages == 0 {
		engine.MaxImages = c.MaxImages
	}
	if engine.Prompts == nil {
		engine.Prompts = c.Prompts
	}
}
