// Command ttftbench measures time to first token of the same question
// through the native Ask stream (the Go SDK straight to the agents, gRPC)
// and through the gateway's OpenAI-compatible /openai/v1/chat/completions
// (SSE), on the same running mesh: pairs interleaved, the order within a
// pair alternating so that neither path always runs on the warmer engine,
// after one unmeasured warm-up pair. It prints each path's p50 and p95 and
// the paired difference (OpenAI minus native).
//
//	go run ./bench/cmd/ttftbench --data .data --http 127.0.0.1:8080 --collection demo --n 20 "question"
//
// With the embedded model on a shared CPU the time to first token is the
// model's (tens of seconds, varying by seconds), which hides a difference of
// milliseconds. --upstream ADDR serves an instant OpenAI-compatible chat
// upstream instead (a stand-in for the model only: it answers every chat
// completion at once with one cited sentence); a mesh started with
// PDFQA_OPENAI_BASE_URL=http://ADDR/v1 then runs every real hop (gateway,
// agents, retrieval's search, inference, the SSE framing) with the model's
// time taken out.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
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
	key := flag.String("key", os.Getenv("PDFQA_API_KEY"), "API key for both paths (default: the admin key of --data)")
	n := flag.Int("n", 20, "measured pairs")
	out := flag.String("json", "", "also write the samples and percentiles as JSON to this file")
	upstream := flag.String("upstream", "", "serve an instant OpenAI-compatible chat upstream on this address and block (see the package doc)")
	answer := flag.String("answer", "Total revenue was 48,200 thousand euros [northwind-annual-report-2025.pdf p.1].", "with --upstream: the answer it gives")
	flag.Parse()
	if *upstream != "" {
		fail(serveUpstream(*upstream, *answer))
	}
	q := strings.Join(flag.Args(), " ")
	if q == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: ttftbench [flags] \"question\"")
		os.Exit(2)
	}
	if *key == "" {
		*key = mesh.ReadKeyFile(*data)
	}
	ctx := context.Background()
	c, err := pdfqa.Dial(ctx, "etcd://"+mesh.FindEtcd("", *data), pdfqa.WithRegistry(mesh.Registry()), pdfqa.WithAPIKey(*key))
	if err != nil {
		fail(err)
	}
	defer c.Close()
	native := func() (time.Duration, error) { return nativeTTFT(ctx, c, *coll, q) }
	compat := func() (time.Duration, error) { return openaiTTFT(ctx, *httpAddr, *key, *coll, q) }
	var ns, os_ []time.Duration
	for i := -1; i < *n; i++ { // pair -1 warms up
		var dn, do time.Duration
		var errN, errO error
		if i%2 == 0 {
			dn, errN = native()
			do, errO = compat()
		} else {
			do, errO = compat()
			dn, errN = native()
		}
		if err := errorsJoin(errN, errO); err != nil {
			fail(err)
		}
		if i >= 0 {
			ns, os_ = append(ns, dn), append(os_, do)
			fmt.Fprintf(os.Stderr, "pair %2d: native %8.1f ms  openai %8.1f ms\n", i+1, ms(dn), ms(do))
		}
	}
	diffs := make([]time.Duration, len(ns))
	for i := range ns {
		diffs[i] = os_[i] - ns[i]
	}
	fmt.Printf("pairs %d (interleaved, order alternating), question %q\n", *n, q)
	fmt.Printf("native Ask stream (gRPC)    TTFT p50 %8.1f ms  p95 %8.1f ms\n", ms(benchutil.Percentile(ns, .5)), ms(benchutil.Percentile(ns, .95)))
	fmt.Printf("/openai/v1 chat (SSE)       TTFT p50 %8.1f ms  p95 %8.1f ms\n", ms(benchutil.Percentile(os_, .5)), ms(benchutil.Percentile(os_, .95)))
	fmt.Printf("paired difference (openai - native)  p50 %8.1f ms  p95 %8.1f ms\n", ms(benchutil.Percentile(diffs, .5)), ms(benchutil.Percentile(diffs, .95)))
	if *out != "" {
		rep := map[string]any{"question": q, "pairs": *n, "native_ms": msAll(ns), "openai_ms": msAll(os_), "diff_ms": msAll(diffs),
			"native_p50_ms": ms(benchutil.Percentile(ns, .5)), "native_p95_ms": ms(benchutil.Percentile(ns, .95)), "openai_p50_ms": ms(benchutil.Percentile(os_, .5)),
			"openai_p95_ms": ms(benchutil.Percentile(os_, .95)), "diff_p50_ms": ms(benchutil.Percentile(diffs, .5)), "diff_p95_ms": ms(benchutil.Percentile(diffs, .95))}
		if err := benchutil.WriteJSON(*out, rep); err != nil {
			fail(err)
		}
	}
}

func msAll(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = ms(d)
	}
	return out
}

func errorsJoin(a, b error) error {
	switch {
	case a != nil && b != nil:
		return fmt.Errorf("native: %v; openai: %v", a, b)
	case a != nil:
		return fmt.Errorf("native: %w", a)
	}
	return b
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

// serveUpstream answers every /v1/chat/completions at once with answer:
// streamed as OpenAI's SSE (two content chunks, a usage chunk, [DONE]) or
// as one JSON completion.
func serveUpstream(addr, answer string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		usage := map[string]int{"prompt_tokens": 100, "completion_tokens": 12, "total_tokens": 112}
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"id": "up", "object": "chat.completion", "model": req.Model, "usage": usage,
				"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]string{"role": "assistant", "content": answer}}}})
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		send := func(v any) {
			b, _ := json.Marshal(v)
			fmt.Fprintf(w, "data: %s\n\n", b)
			_ = rc.Flush()
		}
		half := len(answer) / 2
		for _, part := range []string{answer[:half], answer[half:]} {
			send(map[string]any{"id": "up", "object": "chat.completion.chunk", "model": req.Model,
				"choices": []any{map[string]any{"index": 0, "delta": map[string]string{"content": part}, "finish_reason": nil}}})
		}
		send(map[string]any{"id": "up", "object": "chat.completion.chunk", "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": map[string]string{}, "finish_reason": "stop"}}})
		send(map[string]any{"id": "up", "object": "chat.completion.chunk", "model": req.Model, "choices": []any{}, "usage": usage})
		fmt.Fprint(w, "data: [DONE]\n\n")
		_ = rc.Flush()
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprint(w, `{"object":"list","data":[{"id":"instant","object":"model"}]}`)
	})
	fmt.Fprintf(os.Stderr, "ttftbench: instant upstream on http://%s/v1\n", addr)
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 10 * time.Second}
	srv.Handler = mux
	return srv.ListenAndServe()
}
