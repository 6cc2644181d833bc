package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/inference/internal/vectest"
)

// These tests run the REAL llama-server and REAL models provisioned by
// scripts/setup/all.sh into $PDFQA_CACHE (default ~/.cache/pdfqa). When the
// cache is not populated they skip with a message naming the missing file.

var (
	envOnce                  sync.Once
	envBin, envLLM, envEmbed string
	envSkip                  string
)

func cacheDir() string {
	if d := os.Getenv("PDFQA_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "pdfqa")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "pdfqa")
}

func testEnv(t *testing.T) (bin, llm, embed string) {
	t.Helper()
	envOnce.Do(func() {
		c := cacheDir()
		envBin = os.Getenv("PDFQA_LLAMA_SERVER")
		if envBin == "" {
			for _, v := range []string{"cuda", "cpu"} {
				matches, _ := filepath.Glob(filepath.Join(c, "engine", "*-"+v, "bin", "llama-server"))
				if len(matches) > 0 {
					envBin = matches[len(matches)-1]
					break
				}
			}
		}
		envLLM = filepath.Join(c, "models", "smollm2-135m-instruct-q4_1.gguf")
		envEmbed = filepath.Join(c, "models", "all-minilm-l6-v2-f16.gguf")
		var missing []string
		if envBin == "" {
			missing = append(missing, filepath.Join(c, "engine/<ver>-<cpu|cuda>/bin/llama-server"))
		}
		for _, p := range []string{envLLM, envEmbed} {
			if _, err := os.Stat(p); err != nil {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			envSkip = "engine cache not populated (run scripts/setup/all.sh); missing: " + strings.Join(missing, ", ")
		}
	})
	if envSkip != "" {
		testenv.Missing(t, "%s", envSkip)
	}
	return envBin, envLLM, envEmbed
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("PDFQA_ENGINE_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startEngine starts an engine for one test (stopped at its cleanup).
func startEngine(t *testing.T, cfg Config) *Supervisor {
	t.Helper()
	return launch(t, cfg, true)
}

// launch starts an engine on the cached binary and models with the test
// defaults for what cfg leaves zero (2048 context, 2 threads, 2 slots) and
// waits until it is ready. With stop, its Stop is registered at the test's
// cleanup before the wait, so an engine that never gets ready stops too.
func launch(t *testing.T, cfg Config, stop bool) *Supervisor {
	t.Helper()
	bin, llm, embed := testEnv(t)
	cfg.Binary = bin
	if cfg.Model == "" {
		cfg.Model = llm
		if cfg.Embedding {
			cfg.Model = embed
		}
	}
	if cfg.CtxSize == 0 {
		cfg.CtxSize = 2048
	}
	if cfg.Threads == 0 {
		cfg.Threads = 2
	}
	if cfg.Parallel == 0 {
		cfg.Parallel = 2
	}
	cfg.Logger = testLogger(t)
	s, err := NewSupervisor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if stop {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := s.Stop(ctx); err != nil {
				t.Errorf("stop: %v", err)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatalf("engine not ready: %v", err)
	}
	return s
}

var (
	sharedMu  sync.Mutex
	sharedLLM *Supervisor
	sharedEmb *Supervisor
)

// llmClient returns a client for a generation engine shared by the read-only tests.
func llmClient(t *testing.T) *Client {
	t.Helper()
	return sharedClient(t, &sharedLLM, Config{Name: "llm"})
}

func embedClient(t *testing.T) *Client {
	t.Helper()
	return sharedClient(t, &sharedEmb, Config{Name: "embed", Embedding: true, Pooling: "mean"})
}

// sharedClient is a client of the shared engine *s, which the first test
// that needs it starts with cfg (TestMain stops it).
func sharedClient(t *testing.T, s **Supervisor, cfg Config) *Client {
	t.Helper()
	testEnv(t)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if *s == nil {
		*s = launch(t, cfg, false)
	}
	return NewClient(*s, nil)
}

func TestMain(m *testing.M) {
	code := m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	for _, s := range []*Supervisor{sharedLLM, sharedEmb} {
		if s != nil {
			_ = s.Stop(ctx)
		}
	}
	cancel()
	os.Exit(code)
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

var question = []Message{
	{Role: "system", Content: "You are a concise assistant."},
	{Role: "user", Content: "What is the capital of France?"},
}

func TestChatDeterministic(t *testing.T) {
	c := llmClient(t)
	req := ChatRequest{Messages: question, Temperature: Ptr(0.0), Seed: Ptr[int64](42), MaxTokens: 16}
	a, err := c.Chat(ctxT(t, time.Minute), req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Chat(ctxT(t, time.Minute), req)
	if err != nil {
		t.Fatal(err)
	}
	if a.Text == "" || a.Text != b.Text {
		t.Fatalf("not deterministic: %q vs %q", a.Text, b.Text)
	}
	if a.Usage.PromptTokens == 0 || a.Usage.CompletionTokens == 0 || a.Usage.CompletionTokens > 16 {
		t.Errorf("usage %+v", a.Usage)
	}
	if a.Timings == nil || a.Timings.PredictedN == 0 {
		t.Errorf("timings %+v", a.Timings)
	}
	if a.FinishReason == "" {
		t.Errorf("no finish reason")
	}
	t.Logf("answer=%q usage=%+v finish=%s tok/s=%.1f", a.Text, a.Usage, a.FinishReason, a.Timings.PredictedPerSecond)
}

func TestChatJSONSchema(t *testing.T) {
	c := llmClient(t)
	schema := json.RawMessage(`{"type":"object","properties":{"city":{"type":"string","maxLength":24},"confident":{"type":"boolean"}},"required":["city","confident"],"additionalProperties":false}`)
	for _, tc := range []struct {
		name string
		req  ChatRequest
	}{
		{"json_schema", ChatRequest{JSONSchema: schema}},
		{"response_format", ChatRequest{ResponseFormat: &ResponseFormat{Type: "json_schema", Schema: schema}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.Messages = []Message{{Role: "user", Content: "Answer in JSON: what is the capital of France?"}}
			req.Temperature, req.Seed, req.MaxTokens = Ptr(0.0), Ptr[int64](1), 64
			res, err := c.Chat(ctxT(t, time.Minute), req)
			if err != nil {
				t.Fatal(err)
			}
			var v struct {
				City      *string `json:"city"`
				Confident *bool   `json:"confident"`
			}
			if err := json.Unmarshal([]byte(res.Text), &v); err != nil || v.City == nil || v.Confident == nil {
				t.Fatalf("output %q does not satisfy schema: %v (finish=%s)", res.Text, err, res.FinishReason)
			}
			t.Logf("json=%s", res.Text)
		})
	}
}

func TestChatStreaming(t *testing.T) {
	c := llmClient(t)
	var deltas []string
	var firstAt time.Time
	res, err := c.ChatStream(ctxT(t, time.Minute), ChatRequest{
		Messages: []Message{{Role: "user", Content: "Count from one to ten in words."}}, Temperature: Ptr(0.0), MaxTokens: 24,
	}, func(d string) error {
		if firstAt.IsZero() {
			firstAt = time.Now()
		}
		deltas = append(deltas, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	done := time.Now()
	if len(deltas) < 2 {
		t.Fatalf("want >1 deltas, got %d (%q)", len(deltas), deltas)
	}
	if strings.Join(deltas, "") != res.Text || res.Deltas != len(deltas) {
		t.Errorf("deltas %q do not add up to %q", deltas, res.Text)
	}
	if !firstAt.Before(done) {
		t.Errorf("first delta not before completion")
	}
	t.Logf("%d deltas, first after %v before done", len(deltas), done.Sub(firstAt))
}

func TestChatCancel(t *testing.T) {
	c := llmClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	_, err := c.ChatStream(ctx, ChatRequest{
		Messages: []Message{{Role: "user", Content: "Write a long story about a dragon."}}, MaxTokens: 512,
	}, func(string) error {
		n++
		if n == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	// The engine must keep serving (and the slot must be freed).
	if _, err := c.Chat(ctxT(t, time.Minute), ChatRequest{Messages: question, Temperature: Ptr(0.0), MaxTokens: 4}); err != nil {
		t.Fatalf("after cancel: %v", err)
	}
}

func TestEmbeddings(t *testing.T) {
	c := embedClient(t)
	c.EmbedBatch = 2 // exercise batching
	texts := []string{
		"The company's revenue grew by ten percent last quarter.",
		"Sales increased 10% in the previous three months.",
		"My cat likes to sleep on the warm windowsill.",
	}
	v, err := c.Embed(ctxT(t, time.Minute), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 3 || len(v[0]) != 384 {
		t.Fatalf("got %d vectors of dim %d, want 3 x 384", len(v), len(v[0]))
	}
	for i, e := range v {
		if n := math.Sqrt(vectest.Dot(e, e)); math.Abs(n-1) > 1e-3 {
			t.Errorf("vector %d norm %f", i, n)
		}
	}
	para, unrel := vectest.Cosine(v[0], v[1]), vectest.Cosine(v[0], v[2])
	t.Logf("cos(paraphrase)=%.3f cos(unrelated)=%.3f", para, unrel)
	if para <= unrel+0.2 {
		t.Fatalf("paraphrases (%.3f) not clearly closer than unrelated (%.3f)", para, unrel)
	}
}

func TestEmbeddingOnGenerationEngineFailsTyped(t *testing.T) {
	c := llmClient(t)
	_, err := c.Embed(ctxT(t, time.Minute), []string{"x"})
	if err == nil || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInternal) {
		t.Fatalf("want a typed client-side error (not supported / bad request), got %v", err)
	}
	t.Logf("err=%v", err)
}

func TestTokenizeAndTemplate(t *testing.T) {
	c := llmClient(t)
	ctx := ctxT(t, time.Minute)
	n, err := c.CountTokens(ctx, "Hello world")
	if err != nil {
		t.Fatal(err)
	}
	if n < 1 || n > 4 {
		t.Errorf("CountTokens(Hello world) = %d", n)
	}
	text := strings.Repeat("The quarterly revenue of the company increased. ", 20)
	m, err := c.CountTokens(ctx, text)
	if err != nil {
		t.Fatal(err)
	}
	words := len(strings.Fields(text))
	if m < words/2 || m > words*3 {
		t.Errorf("CountTokens(%d words) = %d", words, m)
	}
	p, err := c.ApplyTemplate(ctx, question)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p, "What is the capital of France?") || !strings.Contains(p, "<|im_start|>assistant") {
		t.Errorf("template output %q", p)
	}
	t.Logf("hello world=%d tokens, %d words=%d tokens", n, words, m)
}

func TestKillMidRequestRestarts(t *testing.T) {
	s := startEngine(t, Config{Name: "kill", HealthInterval: 200 * time.Millisecond, BackoffMin: 100 * time.Millisecond})
	c := NewClient(s, nil)
	pid := s.PID()
	n := 0
	_, err := c.ChatStream(ctxT(t, time.Minute), ChatRequest{
		Messages: []Message{{Role: "user", Content: "Write a long story about a dragon."}}, MaxTokens: 512,
	}, func(string) error {
		n++
		if n == 2 {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Errorf("kill: %v", err)
			}
		}
		return nil
	})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("want ErrUnavailable after kill, got %v", err)
	}
	// The supervisor notices the death, reports Down/Starting (requests fail
	// fast with ErrUnavailable), and restarts the engine on a new process.
	deadline := time.Now().Add(time.Minute)
	for s.Restarts() < 1 || s.PID() == pid || s.State() != StateReady {
		if time.Now().After(deadline) {
			t.Fatalf("engine not restarted: pid %d -> %d, restarts %d, state %s, last %v", pid, s.PID(), s.Restarts(), s.State(), s.LastError())
		}
		if s.State() != StateReady {
			if _, rel, err := s.Acquire(); err == nil {
				rel() // became Ready in between
			} else if !errors.Is(err, ErrUnavailable) {
				t.Errorf("Acquire while not ready: want ErrUnavailable, got %v", err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	res, err := c.Chat(ctxT(t, time.Minute), ChatRequest{Messages: question, Temperature: Ptr(0.0), MaxTokens: 8})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	t.Logf("restarted pid %d -> %d; answer %q", pid, s.PID(), res.Text)
}

func TestUnavailableWhileStopped(t *testing.T) {
	bin, llm, _ := testEnv(t)
	s, err := NewSupervisor(Config{Binary: bin, Model: llm, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewClient(s, nil).Chat(context.Background(), ChatRequest{Messages: question})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("want ErrUnavailable, got %v", err)
	}
}

func TestBadLoRAKeepsBaseServing(t *testing.T) {
	s := startEngine(t, Config{Name: "lora"})
	c := NewClient(s, nil)
	pid := s.PID()
	dir := t.TempDir()

	// 1. Not a GGUF file: rejected before anything is launched.
	junk := filepath.Join(dir, "junk.gguf")
	if err := os.WriteFile(junk, []byte("not a gguf file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLoRAs(ctxT(t, time.Minute), []string{junk}); !errors.Is(err, ErrBadAdapter) {
		t.Fatalf("junk adapter: want ErrBadAdapter, got %v", err)
	}
	// 2. Missing file.
	if err := s.SetLoRAs(ctxT(t, time.Minute), []string{filepath.Join(dir, "missing.gguf")}); !errors.Is(err, ErrBadAdapter) {
		t.Fatalf("missing adapter: want ErrBadAdapter, got %v", err)
	}
	// 3. A GGUF that is not an adapter (the embedding model): the candidate
	// engine fails to load it; the running one is untouched.
	_, _, embed := testEnv(t)
	err := s.SetLoRAs(ctxT(t, 2*time.Minute), []string{embed})
	if !errors.Is(err, ErrBadAdapter) {
		t.Fatalf("non-adapter GGUF: want ErrBadAdapter, got %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "general.type") && !strings.Contains(msg, "lora") {
		t.Errorf("rejection does not say why: %s", msg)
	}
	t.Logf("rejected: ...%s", msg[max(0, len(msg)-400):])
	// 4. Truncated GGUF header.
	trunc := filepath.Join(dir, "trunc.gguf")
	if err := os.WriteFile(trunc, []byte("GGUF\x03\x00\x00\x00garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLoRAs(ctxT(t, 2*time.Minute), []string{trunc}); !errors.Is(err, ErrBadAdapter) {
		t.Fatalf("truncated adapter: want ErrBadAdapter, got %v", err)
	}
	if s.PID() != pid || s.State() != StateReady || len(s.LoRAs()) != 0 {
		t.Fatalf("base engine disturbed: pid %d -> %d, state %s, loras %v", pid, s.PID(), s.State(), s.LoRAs())
	}
	if _, err := c.Chat(ctxT(t, time.Minute), ChatRequest{Messages: question, Temperature: Ptr(0.0), MaxTokens: 4}); err != nil {
		t.Fatalf("base not serving: %v", err)
	}
	ads, err := c.LoRAAdapters(ctxT(t, time.Minute))
	if err != nil || len(ads) != 0 {
		t.Fatalf("lora-adapters: %v %v", ads, err)
	}
	// A request naming an adapter id that does not exist is a bad request.
	_, err = c.Chat(ctxT(t, time.Minute), ChatRequest{Messages: question, MaxTokens: 2, LoRA: []LoRA{{ID: 3, Scale: 1}}})
	if !errors.Is(err, ErrBadRequest) {
		t.Errorf("unknown adapter id: want ErrBadRequest, got %v", err)
	}
}

// ---- engine-free unit tests ----------------------------------------------------

func TestReadSSE(t *testing.T) {
	in := ": ping\n\ndata: {\"a\":1}\n\ndata: {\"a\":2}\r\n\r\ndata: [DONE]\n\n"
	var got []string
	err := readSSE(strings.NewReader(in), func(b []byte) (bool, error) {
		got = append(got, string(b))
		return string(b) == "[DONE]", nil
	})
	if err != nil || fmt.Sprint(got) != `[{"a":1} {"a":2} [DONE]]` {
		t.Fatalf("got %q %v", got, err)
	}
	err = readSSE(strings.NewReader("error: {\"code\":400,\"message\":\"bad\",\"type\":\"invalid_request_error\"}\n\n"),
		func([]byte) (bool, error) { return false, nil })
	if !errors.Is(err, ErrBadRequest) {
		t.Fatalf("want ErrBadRequest, got %v", err)
	}
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   error
	}{
		{400, `{"error":{"code":400,"message":"x","type":"invalid_request_error"}}`, ErrBadRequest},
		{400, `{"error":{"code":400,"message":"x","type":"exceed_context_size_error"}}`, ErrContextSize},
		{503, `{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}`, ErrUnavailable},
		{501, `{"error":{"code":501,"message":"x","type":"not_supported_error"}}`, ErrNotSupported},
		{404, `File Not Found`, ErrNotFound},
		{500, `{"error":{"code":500,"message":"x","type":"server_error"}}`, ErrInternal},
	} {
		if err := decodeHTTPError(tc.status, []byte(tc.body)); !errors.Is(err, tc.want) {
			t.Errorf("%d %s: got %v want %v", tc.status, tc.body, err, tc.want)
		}
	}
}

func TestMultiLoRA(t *testing.T) {
	s := startEngine(t, Config{Name: "multilora"})
	c := NewClient(s, nil)
	dir := t.TempDir()
	// SmolLM2-135M: llama arch, 30 blocks, n_embd 576.
	a, b := filepath.Join(dir, "a.gguf"), filepath.Join(dir, "b.gguf")
	if err := writeTestLoRA(a, "llama", 30, 576, 4, 0.5, 1); err != nil {
		t.Fatal(err)
	}
	if err := writeTestLoRA(b, "llama", 30, 576, 4, 0.5, 2); err != nil {
		t.Fatal(err)
	}
	req := ChatRequest{Messages: question, Temperature: Ptr(0.0), Seed: Ptr[int64](7), MaxTokens: 12, CachePrompt: Ptr(false)}
	base, err := c.Chat(ctxT(t, time.Minute), req)
	if err != nil {
		t.Fatal(err)
	}
	oldPID := s.PID()
	if err := s.SetLoRAs(ctxT(t, 2*time.Minute), []string{a, b}); err != nil {
		t.Fatalf("SetLoRAs: %v", err)
	}
	if s.PID() == oldPID || s.State() != StateReady {
		t.Fatalf("engine not replaced: pid %d -> %d state %s", oldPID, s.PID(), s.State())
	}
	ads, err := c.LoRAAdapters(ctxT(t, time.Minute))
	if err != nil || len(ads) != 2 || ads[0].Path != a || ads[0].Scale != 0 || ads[1].Scale != 0 {
		t.Fatalf("lora-adapters after swap: %+v %v", ads, err)
	}
	// Adapters are loaded without being applied: output equals the base model's.
	same, err := c.Chat(ctxT(t, time.Minute), req)
	if err != nil {
		t.Fatal(err)
	}
	if same.Text != base.Text {
		t.Errorf("unapplied adapters changed output: %q vs %q", same.Text, base.Text)
	}
	// Per-request adapter selection changes the output.
	withA := req
	withA.LoRA = []LoRA{{ID: 0, Scale: 1}}
	ra, err := c.Chat(ctxT(t, time.Minute), withA)
	if err != nil {
		t.Fatal(err)
	}
	if ra.Text == base.Text {
		t.Errorf("adapter 0 at scale 1 did not change output %q", ra.Text)
	}
	// Global scales via POST /lora-adapters, overridden per request.
	if err := c.SetLoRAScales(ctxT(t, time.Minute), []LoRA{{ID: 1, Scale: 0.5}}); err != nil {
		t.Fatal(err)
	}
	ads, err = c.LoRAAdapters(ctxT(t, time.Minute))
	if err != nil || len(ads) != 2 || ads[1].Scale != 0.5 {
		t.Fatalf("lora-adapters after POST: %+v %v", ads, err)
	}
	t.Logf("base=%q adapterA=%q", base.Text, ra.Text)
}

// TestCrashAtStartupDisablesRepack checks that an engine that faults during
// startup (as llama.cpp's AMX repack kernels do on CPUs that advertise AMX
// without granting it) is relaunched with --no-repack and then serves.
func TestCrashAtStartupDisablesRepack(t *testing.T) {
	bin, llm, _ := testEnv(t)
	script := filepath.Join(t.TempDir(), "engine.sh")
	body := "#!/bin/sh\ncase \" $* \" in *' --no-repack '*) exec " + bin + " \"$@\";; esac\nkill -SEGV $$\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := NewSupervisor(Config{Name: "crashy", Binary: script, Model: llm, CtxSize: 1024, Threads: 2, Parallel: 1, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	if err := s.WaitReady(ctxT(t, 2*time.Minute)); err != nil {
		t.Fatalf("not ready after a startup crash: %v", err)
	}
	if a := strings.Join(s.args(1, nil), " "); !strings.Contains(a, "--no-repack") {
		t.Fatalf("args %q", a)
	}
}
