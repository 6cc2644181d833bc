// Command ttftbench measures time to first token of the same question
// through the native Ask stream (the Go SDK) and through the gateway's
// OpenAI-compatible /openai/v1/chat/completions (SSE), alternating the two,
// and prints each one's p50 and p90 and the overhead of the OpenAI path.
//
//	go run ./bench/cmd/ttftbench --data .data --http 127.0.0.1:8080 --collection demo --n 10 "question"
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pdfqa/pdfqa/bench/internal/benchutil"
	"github.com/pdfqa/pdfqa/internal/mesh"
	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
)

func main() {
	data := flag.String("data", ".data", "data directory of a running `pdfqa up`")
	httpAddr := flag.String("http", "127.0.0.1:8080", "gateway REST address")
	coll := flag.String("collection", "demo", "collection")
	key := flag.String("key", os.Getenv("PDFQA_API_KEY"), "API key of the OpenAI API")
	n := flag.Int("n", 10, "runs of each path")
	flag.Parse()
	q := strings.Join(flag.Args(), " ")
	if q == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: ttftbench [flags] \"question\"")
		os.Exit(2)
	}
	ctx := context.Background()
	c, err := pdfqa.Dial(ctx, "etcd://"+mesh.FindEtcd("", *data), pdfqa.WithRegistry(mesh.Registry()))
	if err != nil {
		fail(err)
	}
	defer c.Close()
	var native, compat []time.Duration
	for i := 0; i < *n; i++ {
		d, err := nativeTTFT(ctx, c, *coll, q)
		if err != nil {
			fail(err)
		}
		native = append(native, d)
		d, err = openaiTTFT(ctx, *httpAddr, *key, *coll, q)
		if err != nil {
			fail(err)
		}
		compat = append(compat, d)
	}
	p := func(ds []time.Duration, f float64) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[int(f*float64(len(s)-1)+0.5)]
	}
	fmt.Printf("runs %d each, question %q\n", *n, q)
	fmt.Printf("native Ask stream      TTFT p50 %7.1f ms  p90 %7.1f ms\n", ms(p(native, .5)), ms(p(native, .9)))
	fmt.Printf("/openai/v1 chat (SSE)  TTFT p50 %7.1f ms  p90 %7.1f ms\n", ms(p(compat, .5)), ms(p(compat, .9)))
	diffs := make([]time.Duration, len(native))
	for i := range native {
		diffs[i] = compat[i] - native[i]
	}
	fmt.Printf("overhead (paired)      p50 %7.1f ms\n", ms(p(diffs, .5)))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fail(err error) { benchutil.Fail("ttftbench", err) }

// nativeTTFT is the time to the first answer delta of an Ask.
func nativeTTFT(ctx context.Context, c *pdfqa.Client, coll, q string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	t0 := time.Now()
	var first time.Duration
	for ev, err := range c.Ask(ctx, coll, q) {
		if err != nil {
			return 0, err
		}
		if d, ok := ev.(pdfqa.AnswerDelta); ok && d.Text != "" && first == 0 {
			first = time.Since(t0)
		}
	}
	if first == 0 {
		return 0, fmt.Errorf("native: no answer text")
	}
	return first, nil
}

// openaiTTFT is the time to the first chunk with content of a streamed chat completion.
func openaiTTFT(ctx context.Context, addr, key, coll, q string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	body, _ := json.Marshal(map[string]any{"model": "pdfqa/" + coll, "stream": true,
		"messages": []map[string]string{{"role": "user", "content": q}}})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/openai/v1/chat/completions", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("openai: HTTP %d", resp.StatusCode)
	}
	var first time.Duration
	err = benchutil.ChatDeltas(resp.Body, func(string) {
		if first == 0 {
			first = time.Since(t0)
		}
	})
	if err != nil {
		return 0, fmt.Errorf("openai: %w", err)
	}
	if first == 0 {
		return 0, fmt.Errorf("openai: no answer text")
	}
	return first, nil
}
