package engine

import (
	"log/slog"
	"time"

	"github.com/pdfqa/pdfqa/platform/config"
)

// Config describes one llama-server engine process.
type Config struct {
	// Name identifies the engine in logs and errors ("llm", "embed", ...).
	Name string
	// Binary is the llama-server executable.
	Binary string
	// Model is the GGUF model file (-m).
	Model string
	// CtxSize is the total KV context (-c); 0 lets llama-server use the model's.
	CtxSize int
	// Threads is the CPU thread count (-t); 0 lets llama-server decide.
	Threads int
	// Parallel is the number of server slots (-np); 0 lets llama-server decide.
	// Each slot gets CtxSize/Parallel tokens of context.
	Parallel int
	// Embedding starts an embedding-only engine (--embedding); Pooling picks the
	// pooling (mean, cls, last, ...; empty = model default).
	Embedding bool
	Pooling   string
	// LoRAs are adapter GGUF files loaded at startup with
	// --lora-init-without-apply: all scales start at 0 and each request picks
	// adapters by index (position in this list) with a scale. Replace the set at
	// run time with SetLoRAs.
	LoRAs []string
	// ExtraArgs are appended verbatim to the llama-server command line.
	ExtraArgs []string
	// Env is appended to the inherited environment of the process.
	Env []string
	// Host is the loopback address to bind (default 127.0.0.1). The port is
	// picked by the supervisor.
	Host string

	StartTimeout   time.Duration // launch until /health is 200 (default 2m)
	HealthInterval time.Duration // periodic health check (default 2s)
	HealthTimeout  time.Duration // per check (default 3s)
	HealthFailures int           // consecutive failed checks before a kill+restart (default 3)
	BackoffMin     time.Duration // first restart delay (default 250ms)
	BackoffMax     time.Duration // cap (default 30s)
	StableAfter    time.Duration // uptime after which the backoff resets (default 30s)
	StopGrace      time.Duration // SIGTERM -> SIGKILL delay (default 5s)
	DrainTimeout   time.Duration // wait for in-flight requests on a replaced process (default 60s)

	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Name == "" {
		c.Name = "engine"
	}
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	config.Default(&c.StartTimeout, 2*time.Minute)
	config.Default(&c.HealthInterval, 2*time.Second)
	config.Default(&c.HealthTimeout, 3*time.Second)
	config.Default(&c.BackoffMin, 250*time.Millisecond)
	config.Default(&c.BackoffMax, 30*time.Second)
	config.Default(&c.StableAfter, 30*time.Second)
	config.Default(&c.StopGrace, 5*time.Second)
	config.Default(&c.DrainTimeout, time.Minute)
	if c.HealthFailures <= 0 {
		c.HealthFailures = 3
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}
