package inference

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/config"
)

// An OpenAI-compatible upstream: here llama.cpp's own server, started bare,
// stands in for vLLM/Ollama/a hosted API (the protocol is the same).
func TestOpenAIUpstream(t *testing.T) {
	cfg := FromEnv(config.DefaultCache())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	up := exec.Command(cfg.LlamaServer, "-m", cfg.ChatModel, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "-c", "2048", "-t", "2", "--no-webui")
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = up.Process.Kill(); _ = up.Wait() }()

	b, err := newOpenAIBackend(Config{OpenAIBaseURL: "http://127.0.0.1:" + strconv.Itoa(port) + "/v1", OpenAIKey: "test-key", OpenAIChatModel: "smollm2"})
	if err != nil {
		t.Fatal(err)
	}
	svc := newService(b, &adapters{}, Options{Config: Config{MaxConcurrent: 2, MaxQueue: 4}}, nil)
	cli, stop := serve(svc)
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var text string
	for text == "" && ctx.Err() == nil { // the upstream needs a moment to load its model
		st, err := cli.Generate(ctx, &inferencev1.GenerateRequest{Messages: user("Say hello."), MaxTokens: 8, Temperature: f32(0)})
		if err != nil {
			t.Fatal(err)
		}
		for {
			r, err := st.Recv()
			if err != nil {
				break
			}
			text += r.GetDelta()
		}
		if text == "" {
			time.Sleep(500 * time.Millisecond)
		}
	}
	if text == "" {
		t.Fatal("no text from the OpenAI-compatible upstream")
	}
	// No embedding model configured: a clear Unimplemented, not a crash.
	if _, err := cli.Embed(ctx, &inferencev1.EmbedRequest{Texts: []string{"x"}}); status.Code(err) != codes.Unimplemented {
		t.Errorf("Embed without an upstream embedding model: got %v, want Unimplemented", err)
	}
	// Adapters need the local engine.
	if _, err := cli.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "a", Path: cfg.ChatModel}); status.Code(err) != codes.Unimplemented {
		t.Errorf("LoadAdapter on an upstream: got %v, want Unimplemented", err)
	}
}
