package prompts

import (
	"os"
	"strings"
	"testing"
)

func TestTemplatesDocumentedAndRender(t *testing.T) {
	data := map[string]any{"Max": 3, "Error": "e", "Question": "q", "Claim": "c", "Evidence": []struct{ Label, Text string }{{"[a.pdf p.1]", "t"}}, "Missing": []string{"m"}, "Passages": nil}
	for _, name := range []string{"planner.tmpl", "repair.tmpl", "researcher.tmpl", "answerer.tmpl", "verifier.tmpl"} {
		raw, err := os.ReadFile(Version + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(raw), "{{- /*") || !strings.Contains(string(raw), "Output:") {
			t.Errorf("%s: no leading comment block stating its output", name)
		}
		out, err := Render(name, data)
		if err != nil || out == "" || strings.Contains(out, "Purpose:") {
			t.Errorf("%s: %q, %v", name, out, err)
		}
	}
}
