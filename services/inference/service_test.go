package inference

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/inference/engine"
	"github.com/pdfqa/pdfqa/services/inference/internal/vectest"
)

var (
	shared    *Service
	sharedCli inferencev1.InferenceServiceClient
)

// TestMain starts one service on the real engine and the real models from
// the cache (make setup provides them; CI runs it first).
func TestMain(m *testing.M) {
	cfg := FromEnv(config.DefaultCache())
	cfg.ChatCtx, cfg.ChatSlots, cfg.Threads = 8192, 4, 2
	if err := cfg.check(); err != nil {
		if os.Getenv("CI") != "" {
			panic(err)
		}
		println("inference tests skipped:", err.Error())
		os.Exit(0)
	}
	dir, _ := os.MkdirTemp("", "inference-test")
	svc, err := New(Options{Config: cfg, DataDir: dir})
	if err != nil {
		panic(err)
	}
	lb := svc.core.backend.(*llamaBackend)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	if err := lb.chatSup.WaitReady(ctx); err != nil {
		panic(err)
	}
	if err := lb.embedSup.WaitReady(ctx); err != nil {
		panic(err)
	}
	cancel()
	shared = svc
	cli, stop := serve(svc)
	sharedCli = cli
	code := m.Run()
	stop()
	_ = svc.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serve starts svc on an in-memory gRPC server; for TestMain, which has
// no test to clean up after (a test uses testenv.GRPC).
func serve(svc *Service) (inferencev1.InferenceServiceClient, func()) {
	lis, stop := testenv.StartGRPC(svc.Register)
	conn, err := testenv.DialBuf(lis)
	if err != nil {
		panic(err)
	}
	return inferencev1.NewInferenceServiceClient(conn), func() { conn.Close(); stop() }
}

func user(s string) []*inferencev1.ChatMessage {
	return []*inferencev1.ChatMessage{{Role: inferencev1.Role_ROLE_USER, Content: s}}
}

// generate collects a whole completion and the number of streamed deltas.
func generate(t *testing.T, req *inferencev1.GenerateRequest) (string, int, *inferencev1.GenerateResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := sharedCli.Generate(ctx, req)
	if err != nil {
		return "", 0, nil, err
	}
	text, deltas := "", 0
	for {
		r, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return text, deltas, nil, errors.New("stream ended without a final response")
		}
		if err != nil {
			return text, deltas, nil, err
		}
		if r.GetFinishReason() != inferencev1.FinishReason_FINISH_REASON_UNSPECIFIED {
			return text, deltas, r, nil
		}
		text += r.GetDelta()
		deltas++
	}
}

func f32(v float32) *float32 { return &v }
func i64(v int64) *int64     { return &v }

func TestGenerateDeterministicAndStreamed(t *testing.T) {
	req := &inferencev1.GenerateRequest{Messages: user("Name three colors of the rainbow."), MaxTokens: 24, Temperature: f32(0), Seed: i64(42)}
	a, deltas, final, err := generate(t, req)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _, err := generate(t, req)
	if err != nil {
		t.Fatal(err)
	}
	if a == "" || a != b {
		t.Fatalf("temperature 0 with a seed: got %q then %q, want the same non-empty text", a, b)
	}
	if deltas < 2 {
		t.Errorf("streaming: got %d deltas before the final response, want several", deltas)
	}
	if final.GetUsage().GetCompletionTokens() == 0 || final.GetTimings().GetTotalMs() <= 0 || final.GetTimings().GetTimeToFirstTokenMs() <= 0 {
		t.Errorf("final response lacks usage/timings: %v", final)
	}
}

func TestGenerateJSONSchema(t *testing.T) {
	schema := `{"type":"object","properties":{"city":{"type":"string"},"population":{"type":"integer"}},"required":["city","population"]}`
	text, _, _, err := generate(t, &inferencev1.GenerateRequest{
		Messages: user("Give the largest city of France and its population as JSON."), MaxTokens: 64,
		Temperature: f32(0), Seed: i64(1), JsonSchema: schema,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		City       *string `json:"city"`
		Population *int64  `json:"population"`
	}
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		t.Fatalf("output %q is not JSON: %v", text, err)
	}
	if out.City == nil || out.Population == nil {
		t.Fatalf("output %q misses required fields", text)
	}
}

func TestInvalidRequests(t *testing.T) {
	cases := []struct {
		req  *inferencev1.GenerateRequest
		code codes.Code
	}{
		{&inferencev1.GenerateRequest{}, codes.InvalidArgument},
		{&inferencev1.GenerateRequest{Messages: user("hi"), JsonSchema: "{not json"}, codes.InvalidArgument},
		{&inferencev1.GenerateRequest{Messages: user("hi"), Adapter: "nope"}, codes.NotFound},
		// The local engine's model is text-only.
		{&inferencev1.GenerateRequest{Messages: []*inferencev1.ChatMessage{{Role: inferencev1.Role_ROLE_USER, Content: "chart?",
			Images: []*inferencev1.Image{{Data: []byte("\x89PNG\r\n\x1a\n"), MimeType: "image/png"}}}}}, codes.InvalidArgument},
	}
	for i, c := range cases {
		_, _, _, err := generate(t, c.req)
		if status.Code(err) != c.code {
			t.Errorf("#%d: got %v, want %v", i, err, c.code)
		}
	}
}

func TestEmbedParaphrasesCloser(t *testing.T) {
	r, err := sharedCli.Embed(context.Background(), &inferencev1.EmbedRequest{Texts: []string{
		"Product revenue grew 84% year over year.",
		"Year-on-year, revenue from products increased by 84 percent.",
		"The cat sat quietly on the warm windowsill.",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetDimension() != 384 || len(r.GetEmbeddings()) != 3 {
		t.Fatalf("got %d vectors of dimension %d, want 3 of 384", len(r.GetEmbeddings()), r.GetDimension())
	}
	v := r.GetEmbeddings()
	var norm float64
	for _, x := range v[0].Values {
		norm += float64(x) * float64(x)
	}
	if math.Abs(norm-1) > 1e-3 {
		t.Errorf("vector norm² %.4f, want 1", norm)
	}
	para, unrel := vectest.Cosine(v[0].Values, v[1].Values), vectest.Cosine(v[0].Values, v[2].Values)
	if para <= unrel+0.2 {
		t.Errorf("cosine paraphrase %.3f vs unrelated %.3f: paraphrase should be clearly closer", para, unrel)
	}
}

// The static model distilled from the real MiniLM engine keeps its sense of
// topic: a paraphrase lands closer than an unrelated sentence. (make test
// runs `pdfqa models` first, so the table loads from the cache; without it
// the service distills it here, which takes minutes.)
func TestStaticEmbeddingsFromTheRealEngine(t *testing.T) {
	texts := []string{
		"Product revenue grew 84% year over year.",
		"Year-on-year, revenue from products increased by 84 percent.",
		"The cat sat quietly on the warm windowsill.",
	}
	var r *inferencev1.EmbedResponse
	var err error
	deadline := time.Now().Add(15 * time.Minute)
	for {
		r, err = sharedCli.Embed(context.Background(), &inferencev1.EmbedRequest{Texts: texts, Model: StaticAlias})
		if status.Code(err) != codes.Unavailable || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.GetDimension() != 384 || !strings.HasSuffix(r.GetModel(), "-static") {
		t.Fatalf("model %q dimension %d", r.GetModel(), r.GetDimension())
	}
	v := r.GetEmbeddings()
	para, unrel := vectest.Cosine(v[0].Values, v[1].Values), vectest.Cosine(v[0].Values, v[2].Values)
	if para <= unrel+0.2 {
		t.Errorf("static cosine paraphrase %.3f vs unrelated %.3f: paraphrase should be clearly closer", para, unrel)
	}
}

func TestCountTokensAndTemplate(t *testing.T) {
	ct, err := sharedCli.CountTokens(context.Background(), &inferencev1.CountTokensRequest{Text: "Snowflake product revenue grew 84% year over year."})
	if err != nil {
		t.Fatal(err)
	}
	if ct.GetCount() < 8 || ct.GetCount() > 30 || ct.GetContextWindow() != 2048 {
		t.Errorf("count %d (window %d): want 8..30 tokens and a 2048-token slot", ct.GetCount(), ct.GetContextWindow())
	}
	tp, err := sharedCli.ApplyChatTemplate(context.Background(), &inferencev1.ApplyChatTemplateRequest{Messages: user("hello there")})
	if err != nil {
		t.Fatal(err)
	}
	if !contains(tp.GetPrompt(), "hello there") || tp.GetTokenCount() <= 2 {
		t.Errorf("template %q (%d tokens) does not hold the message", tp.GetPrompt(), tp.GetTokenCount())
	}
	cm, err := sharedCli.CountTokens(context.Background(), &inferencev1.CountTokensRequest{Messages: user("hello there")})
	if err != nil || cm.GetCount() != tp.GetTokenCount() {
		t.Errorf("CountTokens(messages) = %d, %v; want %d (template token count)", cm.GetCount(), err, tp.GetTokenCount())
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestBadAdapterKeepsBaseServing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := sharedCli.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "bad", Content: []byte("GGUF but not really an adapter")})
	if c := status.Code(err); c != codes.FailedPrecondition {
		t.Fatalf("loading a corrupt adapter: got %v, want FailedPrecondition", err)
	}
	if _, err := sharedCli.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "missing", Path: "nonexistent.gguf"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("missing adapter file: got %v, want InvalidArgument", err)
	}
	la, err := sharedCli.ListAdapters(ctx, &inferencev1.ListAdaptersRequest{})
	if err != nil || len(la.GetAdapters()) != 0 {
		t.Errorf("adapters after failed loads: %v, %v; want none", la.GetAdapters(), err)
	}
	if text, _, _, err := generate(t, &inferencev1.GenerateRequest{Messages: user("Say hi."), MaxTokens: 8, Temperature: f32(0)}); err != nil || text == "" {
		t.Fatalf("base model after a bad adapter: %q, %v", text, err)
	}
}

// The engine process dies mid-request: the caller gets Unavailable, and the
// supervisor's restart makes the next request succeed.
func TestEngineKilledMidRequest(t *testing.T) {
	lb := shared.core.backend.(*llamaBackend)
	pid := lb.chatSup.PID()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := sharedCli.Generate(ctx, &inferencev1.GenerateRequest{Messages: user("Write a long story about a lighthouse keeper."), MaxTokens: 400, Temperature: f32(0.7)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatalf("first delta: %v", err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for {
		_, err = st.Recv()
		if err != nil {
			break
		}
	}
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("after killing the engine: got %v, want Unavailable", err)
	}
	// The supervisor notices the death, restarts with backoff, and serves again.
	for lb.chatSup.PID() == pid || lb.chatSup.State() != engine.StateReady {
		if ctx.Err() != nil {
			t.Fatalf("engine did not restart: state %v, pid %d", lb.chatSup.State(), lb.chatSup.PID())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if text, _, _, err := generate(t, &inferencev1.GenerateRequest{Messages: user("Say hi."), MaxTokens: 8, Temperature: f32(0)}); err != nil || text == "" {
		t.Fatalf("after restart: %q, %v", text, err)
	}
}

// fakeBackend stands in for the engine only in the admission test, where a
// generation must block on demand (the real engine cannot be paused).
type fakeBackend struct {
	Backend
	gate chan struct{}
}

func (f *fakeBackend) Chat(ctx context.Context, _ engine.ChatRequest, onDelta func(string) error) (*engine.ChatResult, error) {
	select {
	case <-f.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	_ = onDelta("x")
	return &engine.ChatResult{FinishReason: "stop"}, nil
}

func (f *fakeBackend) Models() []*inferencev1.Model {
	return []*inferencev1.Model{{Name: "fake", Kind: inferencev1.ModelKind_MODEL_KIND_CHAT, ContextWindow: 2048, Ready: true}}
}

func TestAdmissionQueueFull(t *testing.T) {
	fb := &fakeBackend{gate: make(chan struct{})}
	svc := newService(fb, &adapters{}, Options{Config: Config{MaxConcurrent: 1, MaxQueue: 1}}, nil)
	cli := inferencev1.NewInferenceServiceClient(testenv.GRPC(t, svc.Register))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := func() (inferencev1.InferenceService_GenerateClient, error) {
		return cli.Generate(ctx, &inferencev1.GenerateRequest{Messages: user("hi")})
	}
	s1, _ := start() // takes the slot
	s2, _ := start() // waits in the queue
	time.Sleep(200 * time.Millisecond)
	s3, _ := start() // finds the queue full
	if _, err := s3.Recv(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("third request: got %v, want ResourceExhausted", err)
	}
	close(fb.gate)
	for i, s := range []inferencev1.InferenceService_GenerateClient{s1, s2} {
		if _, err := s.Recv(); err != nil {
			t.Errorf("#%d: %v", i, err)
		}
	}
}
