package inference

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/services/inference/engine"
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
	// The upstream stands in for any OpenAI-compatible server; --no-repack
	// keeps llama.cpp off its AMX kernels, which fault on the project's
	// virtualised CPUs (the supervisor falls back the same way).
	up := exec.Command(cfg.LlamaServer, "-m", cfg.ChatModel, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "-c", "2048", "-t", "2", "--no-webui", "--no-repack")
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
	if _, err := cli.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "a", Path: "a.gguf"}); status.Code(err) != codes.Unimplemented {
		t.Errorf("LoadAdapter on an upstream: got %v, want Unimplemented", err)
	}
}

// visionUpstream plays an OpenAI-compatible vision endpoint. A mock is the
// only way to test this here: no vision model can run on the test machines
// (the cached llama.cpp model is text-only). It records each request body
// and streams a fixed answer.
type visionUpstream struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (u *visionUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		http.NotFound(w, r)
		return
	}
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.bodies = append(u.bodies, b)
	u.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	_, _ = io.WriteString(w, `data: {"id":"c1","model":"vision-model","choices":[{"delta":{"content":"The bar chart shows 42."}}]}`+"\n\n"+
		`data: {"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":900,"completion_tokens":7,"total_tokens":907}}`+"\n\n"+
		"data: [DONE]\n\n")
}

func (u *visionUpstream) requests() [][]byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([][]byte(nil), u.bodies...)
}

// testPNG encodes a small, non-uniform PNG.
func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 4))
	for x := range 8 {
		img.Set(x, x%4, color.RGBA{R: uint8(30 * x), G: 200, A: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func visionService(t *testing.T, vision bool) (inferencev1.InferenceServiceClient, *visionUpstream) {
	t.Helper()
	up := &visionUpstream{}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	b, err := newOpenAIBackend(Config{OpenAIBaseURL: srv.URL + "/v1", OpenAIChatModel: "vision-model", OpenAIVision: vision})
	if err != nil {
		t.Fatal(err)
	}
	svc := newService(b, &adapters{}, Options{Config: Config{MaxConcurrent: 2, MaxQueue: 4}}, nil)
	cli, stop := serve(svc)
	t.Cleanup(stop)
	return cli, up
}

func collect(ctx context.Context, cli inferencev1.InferenceServiceClient, req *inferencev1.GenerateRequest) (string, error) {
	st, err := cli.Generate(ctx, req)
	if err != nil {
		return "", err
	}
	var text string
	for {
		r, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return text, nil
		}
		if err != nil {
			return text, err
		}
		text += r.GetDelta()
	}
}

// A message with an image reaches a vision upstream as OpenAI content parts
// (text, then image_url with a base64 data URL); messages without images
// stay plain strings.
func TestOpenAIVisionContentParts(t *testing.T) {
	cli, up := visionService(t, true)
	pic := testPNG(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	text, err := collect(ctx, cli, &inferencev1.GenerateRequest{MaxTokens: 16, Messages: []*inferencev1.ChatMessage{
		{Role: inferencev1.Role_ROLE_SYSTEM, Content: "Answer from the evidence."},
		{Role: inferencev1.Role_ROLE_USER, Content: "What does the chart show?", Images: []*inferencev1.Image{{Data: pic, MimeType: "image/png"}}},
	}})
	if err != nil || text != "The bar chart shows 42." {
		t.Fatalf("Generate = %q, %v", text, err)
	}
	reqs := up.requests()
	if len(reqs) != 1 {
		t.Fatalf("upstream got %d requests, want 1", len(reqs))
	}
	var body struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(reqs[0], &body); err != nil {
		t.Fatalf("request body %s: %v", reqs[0], err)
	}
	if body.Model != "vision-model" || len(body.Messages) != 2 {
		t.Fatalf("request body %s", reqs[0])
	}
	var sys string
	if err := json.Unmarshal(body.Messages[0].Content, &sys); err != nil || sys != "Answer from the evidence." {
		t.Errorf("system message content %s: want a plain string", body.Messages[0].Content)
	}
	var parts []struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		ImageURL *struct {
			URL string `json:"url"`
		} `json:"image_url"`
	}
	if err := json.Unmarshal(body.Messages[1].Content, &parts); err != nil {
		t.Fatalf("user message content %s: want content parts: %v", body.Messages[1].Content, err)
	}
	if len(parts) != 2 || parts[0].Type != "text" || parts[0].Text != "What does the chart show?" ||
		parts[1].Type != "image_url" || parts[1].ImageURL == nil {
		t.Fatalf("content parts = %s", body.Messages[1].Content)
	}
	const prefix = "data:image/png;base64,"
	url := parts[1].ImageURL.URL
	if !strings.HasPrefix(url, prefix) {
		t.Fatalf("image url %.40q..., want prefix %q", url, prefix)
	}
	got, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(url, prefix))
	if err != nil || !bytes.Equal(got, pic) {
		t.Fatalf("image url does not carry the PNG sent (%d bytes decoded, err %v; want %d bytes)", len(got), err, len(pic))
	}

	// A text-only request stays plain strings end to end.
	if _, err := collect(ctx, cli, &inferencev1.GenerateRequest{Messages: user("hi")}); err != nil {
		t.Fatal(err)
	}
	if reqs = up.requests(); len(reqs) != 2 || !bytes.Contains(reqs[1], []byte(`"content":"hi"`)) {
		t.Fatalf("text-only request body %s", reqs[len(reqs)-1])
	}
}

// Images are refused before reaching the upstream when the model has no
// vision, and beyond the per-request limits.
func TestOpenAIVisionRejections(t *testing.T) {
	pic := testPNG(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	withImages := func(n int) *inferencev1.GenerateRequest {
		m := &inferencev1.ChatMessage{Role: inferencev1.Role_ROLE_USER, Content: "chart?"}
		for range n {
			m.Images = append(m.Images, &inferencev1.Image{Data: pic, MimeType: "image/png"})
		}
		return &inferencev1.GenerateRequest{Messages: []*inferencev1.ChatMessage{m}}
	}

	cli, up := visionService(t, false)
	_, err := collect(ctx, cli, withImages(1))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "does not accept images") {
		t.Errorf("image to a text-only upstream model: got %v, want InvalidArgument", err)
	}
	cli, up2 := visionService(t, true)
	if _, err := collect(ctx, cli, withImages(maxImages+1)); status.Code(err) != codes.InvalidArgument {
		t.Errorf("%d images: got %v, want InvalidArgument", maxImages+1, err)
	}
	bad := withImages(1)
	bad.Messages[0].Images[0].MimeType = "application/pdf"
	if _, err := collect(ctx, cli, bad); status.Code(err) != codes.InvalidArgument {
		t.Errorf("application/pdf image: got %v, want InvalidArgument", err)
	}
	if n := len(up.requests()) + len(up2.requests()); n != 0 {
		t.Errorf("upstream reached %d times by rejected requests", n)
	}

	// Size and sniffing, at the conversion (an 8 MiB message exceeds the
	// test server's gRPC message limit before it reaches the handler).
	big := make([]byte, maxImageBytes+1)
	copy(big, pic)
	msg := func(im *inferencev1.Image) []*inferencev1.ChatMessage {
		return []*inferencev1.ChatMessage{{Role: inferencev1.Role_ROLE_USER, Content: "x", Images: []*inferencev1.Image{im}}}
	}
	if err := checkMessages(msg(&inferencev1.Image{Data: big, MimeType: "image/png"}), true); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "max") {
		t.Errorf("oversized image: got %v, want ErrInvalid naming the limit", err)
	}
	if err := checkMessages(msg(&inferencev1.Image{}), true); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty image: got %v, want ErrInvalid", err)
	}
	err = checkMessages(msg(&inferencev1.Image{Data: pic}), true)
	out := toMessages(msg(&inferencev1.Image{Data: pic}))
	if err != nil || out[0].Images[0].MIMEType != "image/png" {
		t.Errorf("image without a MIME type: got %v, %v; want it sniffed as image/png", out, err)
	}
}

// The local llama.cpp backend refuses images itself, whatever reaches it.
func TestLlamaBackendRejectsVision(t *testing.T) {
	b := &llamaBackend{}
	msgs := []engine.Message{{Role: "user", Content: "x", Images: []engine.Image{{Data: []byte{1}, MIMEType: "image/png"}}}}
	if _, err := b.Chat(context.Background(), engine.ChatRequest{Messages: msgs}, nil); !errors.Is(err, engine.ErrBadRequest) {
		t.Errorf("Chat with images: got %v, want ErrBadRequest", err)
	}
	if _, err := b.ApplyTemplate(context.Background(), msgs); !errors.Is(err, engine.ErrBadRequest) {
		t.Errorf("ApplyTemplate with images: got %v, want ErrBadRequest", err)
	}
}
