package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/services/inference"
)

func init() {
	flagCommand("models", "prepare derived models in the cache (the static embedding table distilled from MiniLM): pdfqa models [--cache DIR]", modelsCommand)
}

func modelsCommand(fs *flag.FlagSet) body {
	cache := fs.String("cache", config.Env("PDFQA_CACHE", config.DefaultCache()), "model and engine cache directory (env PDFQA_CACHE)")
	return func(ctx context.Context, c *call) error {
		cfg := inference.FromEnv(*cache)
		start := time.Now()
		last := time.Time{}
		m, err := inference.DistillStatic(ctx, cfg, nil, func(done, total int) {
			if time.Since(last) >= 2*time.Second || done == total {
				last = time.Now()
				fmt.Fprintf(c.stderr, "\rdistilling static embeddings: %d/%d tokens (%s)", done, total, time.Since(start).Round(time.Second))
				if done == total {
					fmt.Fprintln(c.stderr)
				}
			}
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "static embeddings ready: %s (%d dimensions) in %s, %s\n", m.Name, m.Dim(), inference.StaticTablePath(cfg.EmbedModel), time.Since(start).Round(time.Millisecond))
		return nil
	}
}
