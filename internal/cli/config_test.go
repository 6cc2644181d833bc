package cli

import (
	"bytes"
	"context"
	"flag"
	"regexp"
	"strings"
	"testing"

	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/config"
)

var update = flag.Bool("update", false, "rewrite README.md's generated configuration tables")

const (
	readmePath  = "../../README.md"
	configBegin = "<!-- pdfqa config: begin -->\n"
	configEnd   = "<!-- pdfqa config: end -->"
)

// TestREADMEConfigTables: README's configuration tables are `pdfqa config
// --markdown`, so a setting added, removed or redocumented in code shows
// up there (run with -update to rewrite them).
func TestREADMEConfigTables(t *testing.T) {
	var want bytes.Buffer
	if err := writeConfigDocs(&want); err != nil {
		t.Fatal(err)
	}
	checkGenerated(t, readmePath, configBegin, configEnd, want.String(), "go test ./internal/cli -run TestREADMEConfig -update")
}

// TestConfigCommandSources: `pdfqa config` lists every setting with the
// source of its value, and never prints a secret.
func TestConfigCommandSources(t *testing.T) {
	t.Setenv("PDFQA_CHAT_CTX", "999")
	t.Setenv("PDFQA_OPENAI_API_KEY", "sk-very-secret")
	t.Setenv("PDFQA_VECTOR_WEIGHT", "0.7")
	t.Setenv("PDFQA_PROMPT_SET", "v1-terse")
	t.Setenv("PDFQA_LOG_LEVEL", "warn")
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"config", "--cache", "/tmp/pdfqa-cfg-test", "--log-level", "debug"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	rows := map[string][]string{}
	for _, l := range strings.Split(out.String(), "\n")[1:] {
		if f := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(l), -1); len(f) >= 5 {
			rows[f[0]+" "+f[1]] = f
		}
	}
	for key, want := range map[string][2]string{
		"inference PDFQA_CHAT_CTX":       {"999", "env"},
		"inference PDFQA_MAX_QUEUE":      {"64", "default"},
		"inference PDFQA_OPENAI_API_KEY": {"(set)", "env"},
		"retrieval PDFQA_VECTOR_WEIGHT":  {"0.7", "env"},
		"agents PDFQA_PROMPT_SET":        {"v1-terse", "env"},
		"common PDFQA_CACHE":             {"/tmp/pdfqa-cfg-test", "flag"},
		"common PDFQA_LOG_LEVEL":         {"debug", "flag"},
		"trainer PDFQA_CHAT_MODEL":       {"/tmp/pdfqa-cfg-test/models/" + "smollm2-135m-instruct-q4_1.gguf", "default"},
		"serve PDFQA_ADDR":               {"127.0.0.1:0", "default"},
	} {
		f, ok := rows[key]
		if !ok {
			t.Errorf("%s: not listed\n%s", key, out.String())
			continue
		}
		if val, src := f[len(f)-3], f[len(f)-1]; val != want[0] || src != want[1] {
			t.Errorf("%s: value %q from %s, want %q from %s (row %q)", key, val, src, want[0], want[1], f)
		}
	}
	if strings.Contains(out.String(), "sk-very-secret") {
		t.Error("pdfqa config printed a secret")
	}
}

// TestConfigCommandRejectsMalformed: a value a service would refuse makes
// `pdfqa config` fail too, after listing everything.
func TestConfigCommandRejectsMalformed(t *testing.T) {
	t.Setenv("PDFQA_PROMPT_SET", "no-such-set")
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"config"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "PDFQA_PROMPT_SET") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
	if !strings.Contains(out.String(), "PDFQA_CHAT_CTX") {
		t.Error("nothing listed before the error")
	}
}

// TestEveryServiceSettingIsListed: the documented settings are exactly the
// ones the services read (nothing read behind the Reader's back would show
// here, but a service's Settings entry missing from the mesh table would).
func TestEveryServiceSettingIsListed(t *testing.T) {
	r := config.NewReader(config.MapEnv(nil))
	if err := readAllSettings(r, "<cache>"); err != nil {
		t.Fatal(err)
	}
	// The gateway reads no settings of its own (its API keys are the mesh's).
	want := []string{"common", "up", "serve", "inference", "retrieval", "agents", "trainer", "limits"}
	if got := config.Sections(r.Values()); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("sections %v, want %v", got, want)
	}
	for _, v := range r.Values() {
		if !strings.HasPrefix(v.Env, "PDFQA_") || v.Doc == "" {
			t.Errorf("%s %s: undocumented or not a PDFQA_ variable", v.Section, v.Env)
		}
		if _, err := mesh.Lookup(v.Section); err != nil && sectionTitles[v.Section] == "" {
			t.Errorf("section %q is neither a service nor titled", v.Section)
		}
	}
}
