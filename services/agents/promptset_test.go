package agents

import (
	"context"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/services/agents/ask"
	"github.com/pdfqa/pdfqa/services/agents/prompts"
)

// recInference is upInference that records the system messages it is sent.
type recInference struct {
	upInference
	mu     *sync.Mutex
	system *[]string
}

func (r recInference) Generate(req *inferencev1.GenerateRequest, s grpc.ServerStreamingServer[inferencev1.GenerateResponse]) error {
	r.mu.Lock()
	for _, m := range req.GetMessages() {
		if m.GetRole() == inferencev1.Role_ROLE_SYSTEM {
			*r.system = append(*r.system, m.GetContent())
		}
	}
	r.mu.Unlock()
	return r.upInference.Generate(req, s)
}

func (r recInference) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(*r.system) == 0 {
		return ""
	}
	return (*r.system)[len(*r.system)-1]
}

// The prompt set is chosen per call (metadata, as `pdfqa eval --prompt-set`
// sends it) or per service (PDFQA_PROMPT_SET); unknown sets are refused.
func TestPromptSetSelection(t *testing.T) {
	inf := recInference{mu: &sync.Mutex{}, system: &[]string{}}
	cl, _ := mesh(t, inf, t.TempDir())
	ask := func(set string, kv ...string) (*agentsv1.Run, error) {
		ctx := metadata.AppendToOutgoingContext(context.Background(), kv...)
		if set != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, PromptSetHeader, set)
		}
		run, _, err := askCtx(ctx, t, cl, &agentsv1.AskRequest{Collection: "c", Question: "What was free cash flow?", IncludeScratchpad: true})
		return run, err
	}
	run, err := ask("")
	if err != nil || !strings.Contains(run.GetScratchpad(), "prompts: set v1\n") || strings.Contains(inf.last(), "skip guidance") {
		t.Fatalf("default: %v %q", err, run.GetScratchpad())
	}
	run, err = ask("v1-fewshot")
	if err != nil || !strings.Contains(run.GetScratchpad(), "prompts: set v1-fewshot") || !strings.Contains(inf.last(), "skip guidance and targets for other periods") {
		t.Fatalf("v1-fewshot: %v %q\n%s", err, run.GetScratchpad(), inf.last())
	}
	if _, err := ask("nope"); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "v1-fewshot") {
		t.Fatalf("unknown set: %v", err)
	}
	// steps turned off by metadata (pdfqa eval --ablate), with a prompt set
	run, err = ask("v1-terse", AblateHeader, "facts")
	if err != nil || !strings.Contains(run.GetScratchpad(), "prompts: set v1-terse") || !strings.Contains(run.GetScratchpad(), "facts: off") {
		t.Fatalf("ablate facts: %v %q", err, run.GetScratchpad())
	}
	if _, err := ask("", AblateHeader, "fanout,nope"); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "facts") {
		t.Fatalf("unknown step: %v", err)
	}
}

func TestPromptSetFromEnvironment(t *testing.T) {
	env := func(kv ...string) *config.Reader {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return config.NewReader(config.MapEnv(m))
	}
	if _, err := ReadConfig(env("PDFQA_PROMPT_SET", "nope")); err == nil || !strings.Contains(err.Error(), "PDFQA_PROMPT_SET") {
		t.Fatalf("err %v", err)
	}
	cfg, err := ReadConfig(env("PDFQA_PROMPT_SET", "v1-terse"))
	if err != nil {
		t.Fatal(err)
	}
	e := &ask.Engine{}
	cfg.Apply(e)
	s, err := New(nil, e, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if e.Prompts.Name() != "v1-terse" {
		t.Errorf("engine prompt set %q", e.Prompts.Name())
	}
	// Without the setting (or Apply) the engine gets the default set.
	cfg, err = ReadConfig(env())
	if err != nil {
		t.Fatal(err)
	}
	e = &ask.Engine{}
	cfg.Apply(e)
	if e.Prompts.Name() != prompts.Version || e.MaxImages != 0 {
		t.Errorf("defaults: prompt set %q, max images %d", e.Prompts.Name(), e.MaxImages)
	}
	e = &ask.Engine{}
	if s, err := New(nil, e, t.TempDir()); err != nil {
		t.Fatal(err)
	} else {
		s.Close()
	}
	if e.Prompts.Name() != prompts.Version {
		t.Errorf("New without a set: %q", e.Prompts.Name())
	}
}

func TestVisionMaxImagesFromEnvironment(t *testing.T) {
	for v, want := range map[string]int{"": 0, "3": 3, "0": -1, "-2": -1} {
		cfg, err := ReadConfig(config.NewReader(config.MapEnv(map[string]string{"PDFQA_VISION_MAX_IMAGES": v})))
		if err != nil || cfg.MaxImages != want {
			t.Errorf("PDFQA_VISION_MAX_IMAGES=%q: %d, %v; want %d", v, cfg.MaxImages, err, want)
		}
		e := &ask.Engine{MaxImages: 5}
		cfg.Apply(e)
		if e.MaxImages != 5 {
			t.Errorf("Apply overrode the engine's own MaxImages: %d", e.MaxImages)
		}
	}
	if _, err := ReadConfig(config.NewReader(config.MapEnv(map[string]string{"PDFQA_VISION_MAX_IMAGES": "many"}))); err == nil || !strings.Contains(err.Error(), "want a number") {
		t.Errorf("malformed: %v", err)
	}
}
