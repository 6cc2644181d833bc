package prompts

import (
	"os"
	"path"
	"strings"
	"testing"
)

var data = map[string]any{"Max": 3, "Error": "e", "Question": "q", "Evidence": []struct{ Label, Text string }{{"[a.pdf p.1]", "t"}}, "Missing": []string{"m"}}

func TestTemplatesDocumentedAndRender(t *testing.T) {
	for _, set := range Sets() {
		s, err := Lookup(set)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"planner.tmpl", "repair.tmpl", "answerer.tmpl"} {
			out, err := s.Render(name, data)
			if err != nil || out == "" || strings.Contains(out, "Purpose:") {
				t.Errorf("%s/%s: %q, %v", set, name, out, err)
			}
		}
		files := s.Overrides()
		if set == Version {
			files = Names()
		} else if len(files) == 0 {
			t.Errorf("set %s changes no template", set)
		}
		for _, name := range files {
			raw, err := os.ReadFile(path.Join(set, name))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(raw), "{{- /*") || !strings.Contains(string(raw), "Output:") {
				t.Errorf("%s/%s: no leading comment block stating its output", set, name)
			}
		}
	}
}

// A variant set changes only its own templates; the rest are the default's.
func TestPromptSetSelection(t *testing.T) {
	if got := Sets(); len(got) < 2 || got[0] != Version {
		t.Fatalf("sets %v: want the default first and at least one variant", got)
	}
	def, err := Lookup("")
	if err != nil || def.Name() != Version || def != Default() {
		t.Fatalf("default: %v, %v", def.Name(), err)
	}
	few, err := Lookup("v1-fewshot")
	if err != nil {
		t.Fatal(err)
	}
	a1, _ := def.Render("answerer.tmpl", data)
	a2, _ := few.Render("answerer.tmpl", data)
	p1, _ := def.Render("planner.tmpl", data)
	p2, _ := few.Render("planner.tmpl", data)
	if a1 == a2 || p1 != p2 || !strings.Contains(a2, "skip guidance and targets for other periods") {
		t.Errorf("answerer differs %v, planner same %v", a1 != a2, p1 == p2)
	}
	if r, _ := Render("answerer.tmpl", data); r != a1 {
		t.Error("Render is the default set's")
	}
	var nilSet *Set
	if r, _ := nilSet.Render("answerer.tmpl", data); r != a1 {
		t.Error("a nil set renders the default")
	}
	if _, err := Lookup("v9-nope"); err == nil || !strings.Contains(err.Error(), "v1-fewshot") {
		t.Errorf("unknown set: %v (want an error listing the sets)", err)
	}
}
