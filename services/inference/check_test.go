package inference

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/services/inference/engine"
)

func png1() *inferencev1.Image {
	return &inferencev1.Image{Data: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), MimeType: "image/png"}
}

func withImgs(ims ...*inferencev1.Image) []*inferencev1.ChatMessage {
	return []*inferencev1.ChatMessage{{Role: inferencev1.Role_ROLE_USER, Content: "chart?", Images: ims}}
}

// check wants err nil when want is "", else ErrInvalid mentioning want.
func check(t *testing.T, name string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: got %v, want no error", name, err)
	case want != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want)):
		t.Errorf("%s: got %v, want ErrInvalid mentioning %q", name, err, want)
	}
}

func TestCheckGenerateRequest(t *testing.T) {
	five := make([]*inferencev1.Image, maxImages+1)
	for i := range five {
		five[i] = png1()
	}
	cases := []struct {
		name   string
		req    *inferencev1.GenerateRequest
		vision bool
		want   string
	}{
		{"plain", &inferencev1.GenerateRequest{Messages: user("hi")}, false, ""},
		{"no messages", &inferencev1.GenerateRequest{}, true, "messages are required"},
		{"schema", &inferencev1.GenerateRequest{Messages: user("hi"), JsonSchema: `{"type":"object"}`}, false, ""},
		{"blank schema", &inferencev1.GenerateRequest{Messages: user("hi"), JsonSchema: "  "}, false, ""},
		{"bad schema", &inferencev1.GenerateRequest{Messages: user("hi"), JsonSchema: "{not json"}, false, "json_schema"},
		// An unknown adapter is the domain's to refuse (NotFound), not the check's.
		{"adapter", &inferencev1.GenerateRequest{Messages: user("hi"), Adapter: "nope"}, false, ""},
		{"image, vision", &inferencev1.GenerateRequest{Messages: withImgs(png1())}, true, ""},
		{"image, no vision", &inferencev1.GenerateRequest{Messages: withImgs(png1())}, false, "does not accept images"},
		{"too many images", &inferencev1.GenerateRequest{Messages: withImgs(five...)}, true, fmt.Sprintf("more than %d images", maxImages)},
		{"empty image", &inferencev1.GenerateRequest{Messages: withImgs(&inferencev1.Image{MimeType: "image/png"})}, true, "is empty"},
		{"big image", &inferencev1.GenerateRequest{Messages: withImgs(&inferencev1.Image{Data: make([]byte, maxImageBytes+1), MimeType: "image/png"})}, true, "max"},
		{"pdf image", &inferencev1.GenerateRequest{Messages: withImgs(&inferencev1.Image{Data: []byte("%PDF-1.7"), MimeType: "application/pdf"})}, true, "application/pdf"},
		{"sniffed pdf", &inferencev1.GenerateRequest{Messages: withImgs(&inferencev1.Image{Data: []byte("%PDF-1.7")})}, true, "application/pdf"},
		{"upper-case MIME", &inferencev1.GenerateRequest{Messages: withImgs(&inferencev1.Image{Data: []byte{1}, MimeType: " IMAGE/JPEG "})}, true, ""},
	}
	for _, c := range cases {
		check(t, c.name, checkGenerateRequest(c.req, c.vision), c.want)
	}
}

func TestToGeneration(t *testing.T) {
	g := toGeneration(&inferencev1.GenerateRequest{
		Messages: []*inferencev1.ChatMessage{{Role: inferencev1.Role_ROLE_SYSTEM, Content: "s"}, {Role: inferencev1.Role_ROLE_ASSISTANT, Content: "a"},
			{Content: "u", Images: []*inferencev1.Image{{Data: png1().Data}}}},
		Temperature: f32(0.5), Seed: i64(7), JsonSchema: ` {"type":"object"} `, Adapter: "a1", AdapterScale: 0.25, Stop: []string{"\n"},
	})
	c := g.chat
	if c.MaxTokens != defaultMaxTokens || *c.Temperature != 0.5 || *c.Seed != 7 || c.TopP != nil || string(c.JSONSchema) != `{"type":"object"}` ||
		len(c.Stop) != 1 || g.adapter != "a1" || g.adapterScale != 0.25 || c.LoRA != nil {
		t.Errorf("toGeneration: %+v", g)
	}
	roles := []string{c.Messages[0].Role, c.Messages[1].Role, c.Messages[2].Role}
	if strings.Join(roles, ",") != "system,assistant,user" || c.Messages[2].Images[0].MIMEType != "image/png" {
		t.Errorf("messages: %+v", c.Messages)
	}
	if g := toGeneration(&inferencev1.GenerateRequest{Messages: user("x"), MaxTokens: 9}); g.chat.MaxTokens != 9 || g.chat.Temperature != nil || g.chat.JSONSchema != nil {
		t.Errorf("explicit max_tokens: %+v", g.chat)
	}
}

func TestFinalResponse(t *testing.T) {
	for reason, want := range map[string]inferencev1.FinishReason{
		"length": inferencev1.FinishReason_FINISH_REASON_LENGTH, "stop": inferencev1.FinishReason_FINISH_REASON_STOP,
		"": inferencev1.FinishReason_FINISH_REASON_STOP, "tool_calls": inferencev1.FinishReason_FINISH_REASON_STOP,
	} {
		if got := finishReason(reason); got != want {
			t.Errorf("finishReason(%q) = %v, want %v", reason, got, want)
		}
	}
	r := finalResponse(&generated{ChatResult: &engine.ChatResult{FinishReason: "length", Model: "m",
		Usage: engine.Usage{PromptTokens: 3, CompletionTokens: 5}}, queue: 1500, total: 2_000_000, ttft: 1_000_000, tokensPerSecond: 4})
	if r.GetFinishReason() != inferencev1.FinishReason_FINISH_REASON_LENGTH || r.GetModel() != "m" || r.GetUsage().GetPromptTokens() != 3 ||
		r.GetUsage().GetCompletionTokens() != 5 || r.GetTimings().GetQueueMs() != 0.001 || r.GetTimings().GetTotalMs() != 2 ||
		r.GetTimings().GetTimeToFirstTokenMs() != 1 || r.GetTimings().GetTokensPerSecond() != 4 || r.GetDelta() != "" {
		t.Errorf("finalResponse: %v", r)
	}
}

func TestCheckEmbedRequest(t *testing.T) {
	check(t, "one", checkEmbedRequest(&inferencev1.EmbedRequest{Texts: []string{"a"}}), "")
	check(t, "empty text", checkEmbedRequest(&inferencev1.EmbedRequest{Texts: []string{""}}), "")
	check(t, "none", checkEmbedRequest(&inferencev1.EmbedRequest{}), "texts are required")
	check(t, "too many", checkEmbedRequest(&inferencev1.EmbedRequest{Texts: make([]string, maxEmbedTexts+1)}), "max 1024")
	check(t, "at the limit", checkEmbedRequest(&inferencev1.EmbedRequest{Texts: make([]string, maxEmbedTexts)}), "")
	check(t, "too long", checkEmbedRequest(&inferencev1.EmbedRequest{Texts: []string{"a", strings.Repeat("x", maxTextBytes+1)}}), "text 1 is")
}

func TestCheckCountTokensAndTemplateRequests(t *testing.T) {
	check(t, "text", checkCountTokensRequest(&inferencev1.CountTokensRequest{Text: "hi"}, false), "")
	check(t, "nothing", checkCountTokensRequest(&inferencev1.CountTokensRequest{}, false), "")
	check(t, "messages", checkCountTokensRequest(&inferencev1.CountTokensRequest{Messages: user("hi")}, false), "")
	check(t, "image, no vision", checkCountTokensRequest(&inferencev1.CountTokensRequest{Messages: withImgs(png1())}, false), "does not accept images")
	check(t, "template", checkApplyChatTemplateRequest(&inferencev1.ApplyChatTemplateRequest{Messages: user("hi")}, false), "")
	check(t, "template, none", checkApplyChatTemplateRequest(&inferencev1.ApplyChatTemplateRequest{}, false), "messages are required")
	check(t, "template, image", checkApplyChatTemplateRequest(&inferencev1.ApplyChatTemplateRequest{Messages: withImgs(png1())}, false), "does not accept images")
}

func TestCheckLoadAdapterRequest(t *testing.T) {
	check(t, "ok", checkLoadAdapterRequest(&inferencev1.LoadAdapterRequest{Name: "fin-qa_v1.2", Path: "a.gguf"}), "")
	// The file's existence is the domain's to check; a path that cannot
	// lie under the adapter root is refused here.
	check(t, "missing file", checkLoadAdapterRequest(&inferencev1.LoadAdapterRequest{Name: "a", Path: "jobs/nonexistent.gguf"}), "")
	for _, p := range []string{"/etc/shadow", "/nonexistent.gguf", "../../etc/shadow", "a/../../b.gguf", "..", `..\x.gguf`, "a\x00.gguf"} {
		check(t, "path "+p, checkLoadAdapterRequest(&inferencev1.LoadAdapterRequest{Name: "a", Path: p}), "adapter path")
	}
	check(t, "content", checkLoadAdapterRequest(&inferencev1.LoadAdapterRequest{Name: "a", Content: []byte("GGUF\x03")}), "")
	check(t, "content not GGUF", checkLoadAdapterRequest(&inferencev1.LoadAdapterRequest{Name: "a", Content: []byte("root:x:0:0")}), "not a GGUF file")
	check(t, "path and content", checkLoadAdapterRequest(&inferencev1.LoadAdapterRequest{Name: "a", Path: "a.gguf", Content: []byte("GGUF")}), "not both")
	for _, name := range []string{"", "-lead", "has space", "a/b", strings.Repeat("x", 65)} {
		check(t, "name "+name, checkLoadAdapterRequest(&inferencev1.LoadAdapterRequest{Name: name, Path: "a.gguf"}), "adapter name")
	}
	check(t, "no path", checkLoadAdapterRequest(&inferencev1.LoadAdapterRequest{Name: "a"}), "path is required")
}

// Every domain error has its code, wrapped or not; the rest keep theirs.
func TestErrorTable(t *testing.T) {
	cases := []struct {
		err  error
		code codes.Code
	}{
		{nil, codes.OK},
		{ErrInvalid, codes.InvalidArgument},
		{fmt.Errorf("%w: messages are required", ErrInvalid), codes.InvalidArgument},
		{fmt.Errorf("%w: %q", ErrAdapterNotFound, "x"), codes.NotFound},
		{ErrOverloaded, codes.ResourceExhausted},
		{fmt.Errorf("chat: %w", engine.ErrUnavailable), codes.Unavailable},
		{errNoVision, codes.InvalidArgument},
		{engine.ErrBadRequest, codes.InvalidArgument},
		{engine.ErrContextSize, codes.OutOfRange},
		{engine.ErrNotFound, codes.NotFound},
		{fmt.Errorf("%w: no embed model", engine.ErrNotSupported), codes.Unimplemented},
		{engine.ErrBadAdapter, codes.FailedPrecondition},
		{engine.ErrInternal, codes.Internal},
		{context.Canceled, codes.Canceled},
		{fmt.Errorf("wait: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{status.Error(codes.Aborted, "already a status"), codes.Aborted},
		{errors.New("disk full"), codes.Internal},
	}
	for _, c := range cases {
		got := errs.Status(c.err)
		if status.Code(got) != c.code {
			t.Errorf("%v: got %v, want %v", c.err, status.Code(got), c.code)
		}
		if c.err != nil {
			if s, _ := status.FromError(got); s.Message() != c.err.Error() && c.code != codes.Aborted {
				t.Errorf("%v: message %q, want the error's own", c.err, s.Message())
			}
		}
	}
	// Each sentinel is listed once.
	seen := map[error]bool{}
	for _, e := range errs {
		if seen[e.Err] {
			t.Errorf("%v listed twice", e.Err)
		}
		seen[e.Err] = true
	}
}

// untouchable fails the test if a handler reaches the backend.
type untouchable struct {
	Backend
	t      *testing.T
	vision bool
}

func (u *untouchable) Models() []*inferencev1.Model {
	return []*inferencev1.Model{{Name: "m", Kind: inferencev1.ModelKind_MODEL_KIND_CHAT, Vision: u.vision}}
}
func (u *untouchable) Chat(context.Context, engine.ChatRequest, func(string) error) (*engine.ChatResult, error) {
	u.t.Error("Chat reached by an invalid request")
	return nil, engine.ErrInternal
}
func (u *untouchable) Embed(context.Context, []string) ([][]float32, error) {
	u.t.Error("Embed reached by an invalid request")
	return nil, engine.ErrInternal
}
func (u *untouchable) CountTokens(context.Context, string) (int, error) {
	u.t.Error("CountTokens reached by an invalid request")
	return 0, engine.ErrInternal
}
func (u *untouchable) ApplyTemplate(context.Context, []engine.Message) (string, error) {
	u.t.Error("ApplyTemplate reached by an invalid request")
	return "", engine.ErrInternal
}
func (u *untouchable) SetAdapters(context.Context, []string) error {
	u.t.Error("SetAdapters reached by an invalid request")
	return engine.ErrInternal
}

// Each handler refuses an invalid request with its code before the domain
// runs (an unknown adapter is refused by the domain, still before the engine).
func TestHandlersCheckFirst(t *testing.T) {
	svc := newService(&untouchable{t: t}, &adapters{file: filepath.Join(t.TempDir(), "a.json")}, Options{Config: Config{MaxConcurrent: 1}}, nil)
	cli, stop := serve(svc)
	defer stop()
	ctx := context.Background()
	codeOf := func(err error) codes.Code { return status.Code(err) }
	genCode := func(req *inferencev1.GenerateRequest) codes.Code {
		st, err := cli.Generate(ctx, req)
		if err != nil {
			return codeOf(err)
		}
		_, err = st.Recv()
		return codeOf(err)
	}
	_, embedErr := cli.Embed(ctx, &inferencev1.EmbedRequest{})
	_, countErr := cli.CountTokens(ctx, &inferencev1.CountTokensRequest{Messages: withImgs(png1())})
	_, tmplErr := cli.ApplyChatTemplate(ctx, &inferencev1.ApplyChatTemplateRequest{})
	_, loadErr := cli.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "bad name", Path: "x"})
	_, absErr := cli.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: "a", Path: "/etc/shadow"})
	_, unloadErr := cli.UnloadAdapter(ctx, &inferencev1.UnloadAdapterRequest{Name: "never-loaded"})
	for name, got := range map[string][2]codes.Code{
		"Generate, no messages":         {genCode(&inferencev1.GenerateRequest{}), codes.InvalidArgument},
		"Generate, bad schema":          {genCode(&inferencev1.GenerateRequest{Messages: user("hi"), JsonSchema: "{"}), codes.InvalidArgument},
		"Generate, image without sight": {genCode(&inferencev1.GenerateRequest{Messages: withImgs(png1())}), codes.InvalidArgument},
		"Generate, unknown adapter":     {genCode(&inferencev1.GenerateRequest{Messages: user("hi"), Adapter: "nope"}), codes.NotFound},
		"Embed, no texts":               {codeOf(embedErr), codes.InvalidArgument},
		"CountTokens, image":            {codeOf(countErr), codes.InvalidArgument},
		"ApplyChatTemplate, none":       {codeOf(tmplErr), codes.InvalidArgument},
		"LoadAdapter, bad name":         {codeOf(loadErr), codes.InvalidArgument},
		"LoadAdapter, absolute path":    {codeOf(absErr), codes.InvalidArgument},
		"UnloadAdapter, unknown":        {codeOf(unloadErr), codes.NotFound},
	} {
		if got[0] != got[1] {
			t.Errorf("%s: got %v, want %v", name, got[0], got[1])
		}
	}
}

// The metric names are the service's contract with dashboards.
func TestMetricNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	fb := &fakeBackend{gate: make(chan struct{})}
	close(fb.gate)
	c := newCore(fb, &adapters{}, Config{MaxConcurrent: 1}, reg, nil)
	if _, err := c.generate(context.Background(), generation{chat: engine.ChatRequest{Messages: toMessages(user("hi"))}}, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fams {
		names = append(names, f.GetName())
	}
	sort.Strings(names)
	want := "pdfqa_inference_embedded_texts_total pdfqa_inference_generated_tokens_total pdfqa_inference_queue_depth " +
		"pdfqa_inference_time_to_first_token_seconds pdfqa_inference_tokens_per_second"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("metrics:\n got %s\nwant %s", got, want)
	}
}

// The registry tells the engine before it commits: a refused set changes
// nothing, an accepted one is persisted.
func TestAdapterRegistryAppliesThenCommits(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sub", "adapters.json")
	a := &adapters{file: file}
	ctx := context.Background()
	var told [][]string
	ok := func(_ context.Context, p []string) error { told = append(told, p); return nil }
	refuse := func(context.Context, []string) error { return engine.ErrBadAdapter }

	if err := a.put(ctx, &inferencev1.Adapter{Name: "x", Path: "/x"}, ok); err != nil {
		t.Fatal(err)
	}
	if err := a.put(ctx, &inferencev1.Adapter{Name: "y", Path: "/y"}, ok); err != nil {
		t.Fatal(err)
	}
	if err := a.put(ctx, &inferencev1.Adapter{Name: "z", Path: "/z"}, refuse); !errors.Is(err, engine.ErrBadAdapter) {
		t.Fatalf("refused put: %v", err)
	}
	if err := a.put(ctx, &inferencev1.Adapter{Name: "x", Path: "/x2", Scale: 2}, ok); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(a.paths(), ","); got != "/x2,/y" {
		t.Errorf("paths after a replace and a refusal: %s", got)
	}
	if id, scale, err := a.lookup("x"); id != 0 || scale != 2 || err != nil {
		t.Errorf("lookup x: %d %v %v", id, scale, err)
	}
	if err := a.remove(ctx, "nope", "", ok); !errors.Is(err, ErrAdapterNotFound) {
		t.Errorf("remove unknown: %v", err)
	}
	if err := a.remove(ctx, "x", "", refuse); !errors.Is(err, engine.ErrBadAdapter) || len(a.snapshot()) != 2 {
		t.Errorf("refused remove: %v, %d left", err, len(a.snapshot()))
	}
	if err := a.remove(ctx, "x", "", ok); err != nil {
		t.Fatal(err)
	}
	if len(told) != 4 || strings.Join(told[3], ",") != "/y" {
		t.Errorf("engine told %v", told)
	}
	again, err := loadAdapters(file)
	if err != nil || len(again.list) != 1 || again.list[0].Name != "y" {
		t.Fatalf("reloaded registry: %v, %v", again.list, err)
	}
}
