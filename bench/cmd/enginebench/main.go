// Command enginebench compares the inference service with the bare engine it
// supervises, side by side in one run on the same GGUF: generation tokens/s
// and time to first token at 1 and 4 concurrent streams (through gRPC vs
// llama-server's own HTTP API), embeddings/s for 256-token chunks at batch 1
// and 32, and the engines' RSS.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pdfqa/pdfqa/bench/internal/benchutil"
	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/inference"
)

var prompts = []string{
	"Explain in a few sentences why the sky is blue.",
	"Write a short paragraph about the history of paper.",
	"Describe how a bicycle works for a child.",
	"Summarise the benefits of regular exercise.",
}

func main() {
	tokens := flag.Int("tokens", 128, "tokens generated per request")
	rounds := flag.Int("rounds", 3, "rounds per configuration")
	noRepack := flag.Bool("no-repack", true, "start the bare llama-server with --no-repack, as the service's engine runs after a startup fault (AMX repack kernels on virtualised CPUs); false on machines where the engine starts with repacking")
	flag.Parse()
	benchutil.Main("enginebench", func() error { return run(*tokens, *rounds, *noRepack) })
}

type result struct {
	tps  []float64 // per-stream decode tokens/s
	ttft []float64 // ms
	agg  float64   // total generated tokens / wall time
}

func run(tokens, rounds int, noRepack bool) error {
	cache := config.DefaultCache()
	cfg := inference.FromEnv(cache)
	cfg.ChatCtx, cfg.ChatSlots = 8192, 4
	threads := cfg.Threads

	// Bare engine: the same binary, model and settings, driven over HTTP.
	port, err := testenv.FreePort()
	if err != nil {
		return err
	}
	bare := exec.Command(cfg.LlamaServer, "-m", cfg.ChatModel, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"-c", "8192", "-np", "4", "-t", strconv.Itoa(threads), "-tb", strconv.Itoa(threads), "--no-webui")
	if noRepack {
		bare.Args = append(bare.Args, "--no-repack")
	}
	bare.Stderr = io.Discard
	if err := bare.Start(); err != nil {
		return err
	}
	defer func() { _ = bare.Process.Kill(); _ = bare.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := testenv.WaitHTTP(base+"/health", 2*time.Minute); err != nil {
		return err
	}

	dir, _ := os.MkdirTemp("", "enginebench")
	defer os.RemoveAll(dir)
	svc, err := inference.New(inference.Options{Config: cfg, DataDir: dir})
	if err != nil {
		return err
	}
	defer svc.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	g := grpc.NewServer()
	svc.Register(g)
	go func() { _ = g.Serve(lis) }()
	defer g.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ic := inferencev1.NewInferenceServiceClient(conn)
	if err := waitReady(ic, 2*time.Minute); err != nil {
		return err
	}

	fmt.Printf("model %s, engine %s, %d threads, %d tokens per request, %d rounds\n\n",
		filepath.Base(cfg.ChatModel), cfg.LlamaServer, threads, tokens, rounds)
	fmt.Println("| path | streams | decode tokens/s per stream (median) | aggregate tokens/s | TTFT p50 | TTFT max |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, streams := range []int{1, 4} {
		// Interleave the two paths round by round so noise hits both alike.
		var rb, rs result
		for r := 0; r < rounds; r++ {
			b, err := concurrent(streams, func(i int) (float64, float64, int, error) { return bareGen(base, prompts[i%len(prompts)], tokens) })
			if err != nil {
				return err
			}
			s, err := concurrent(streams, func(i int) (float64, float64, int, error) { return svcGen(ic, prompts[i%len(prompts)], tokens) })
			if err != nil {
				return err
			}
			rb.merge(b, rounds)
			rs.merge(s, rounds)
		}
		rb.print("bare llama-server (HTTP SSE)", streams)
		rs.print("inference service (gRPC stream)", streams)
	}

	// Embeddings: 256-token chunks (the retrieval chunk budget is smaller).
	chunk := strings.Repeat("revenue grew strongly in the quarter while margins improved ", 26)
	fmt.Println("\n| embeddings (inference service → engine) | texts/s |")
	fmt.Println("|---|---|")
	for _, batch := range []int{1, 32} {
		texts := make([]string, batch)
		for i := range texts {
			texts[i] = fmt.Sprintf("%d %s", i, chunk)
		}
		n, t0 := 0, time.Now()
		for time.Since(t0) < 10*time.Second {
			if _, err := ic.Embed(context.Background(), &inferencev1.EmbedRequest{Texts: texts}); err != nil {
				return err
			}
			n += batch
		}
		fmt.Printf("| batch %d, ~256 tokens each | %.1f |\n", batch, float64(n)/time.Since(t0).Seconds())
	}
	fmt.Printf("\nRSS: bare llama-server (chat) %.0f MiB\n", benchutil.RSSMiB(bare.Process.Pid))
	return nil
}

func (r *result) merge(o result, rounds int) {
	r.tps = append(r.tps, o.tps...)
	r.ttft = append(r.ttft, o.ttft...)
	r.agg += o.agg / float64(rounds)
}

func (r result) print(name string, streams int) {
	fmt.Printf("| %s | %d | %.1f | %.1f | %.0f ms | %.0f ms |\n", name, streams, median(r.tps), r.agg, median(r.ttft), maxf(r.ttft))
}

func concurrent(n int, f func(i int) (tps, ttft float64, toks int, err error)) (result, error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var res result
	var first error
	total := 0
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tps, ttft, toks, err := f(i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			res.tps = append(res.tps, tps)
			res.ttft = append(res.ttft, ttft)
			total += toks
		}()
	}
	wg.Wait()
	res.agg = float64(total) / time.Since(t0).Seconds()
	return res, first
}

// bareGen streams one completion from llama-server's OpenAI-compatible API.
func bareGen(base, prompt string, tokens int) (float64, float64, int, error) {
	body, _ := json.Marshal(map[string]any{
		"messages": []map[string]string{{"role": "user", "content": prompt}}, "stream": true,
		"max_tokens": tokens, "temperature": 0.7, "seed": 1,
	})
	t0 := time.Now()
	resp, err := http.Post(base+"/v1/chat/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	var first time.Time
	n := 0
	err = benchutil.ChatDeltas(resp.Body, func(string) {
		if first.IsZero() {
			first = time.Now()
		}
		n++
	})
	end := time.Now()
	return float64(n-1) / end.Sub(first).Seconds(), float64(first.Sub(t0).Microseconds()) / 1000, n, err
}

// svcGen streams one completion through the inference service.
func svcGen(ic inferencev1.InferenceServiceClient, prompt string, tokens int) (float64, float64, int, error) {
	temp, seed := float32(0.7), int64(1)
	t0 := time.Now()
	st, err := ic.Generate(context.Background(), &inferencev1.GenerateRequest{
		Messages:  []*inferencev1.ChatMessage{{Role: inferencev1.Role_ROLE_USER, Content: prompt}},
		MaxTokens: int32(tokens), Temperature: &temp, Seed: &seed,
	})
	if err != nil {
		return 0, 0, 0, err
	}
	var first time.Time
	n := 0
	for {
		r, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, 0, err
		}
		if r.GetDelta() != "" {
			if first.IsZero() {
				first = time.Now()
			}
			n++
		}
	}
	end := time.Now()
	return float64(n-1) / end.Sub(first).Seconds(), float64(first.Sub(t0).Microseconds()) / 1000, n, nil
}

func waitReady(ic inferencev1.InferenceServiceClient, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if r, err := ic.ListModels(context.Background(), &inferencev1.ListModelsRequest{}); err == nil {
			ready := true
			for _, m := range r.Models {
				ready = ready && m.Ready
			}
			if ready {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("inference service not ready")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func maxf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
