// Package prompts holds the agents' prompt templates, embedded in the
// binary, and renders them with text/template.
//
// Templates come in named sets, one directory each. The default set, v1,
// holds every template; another set (a variant to measure against it, e.g.
// v1-fewshot) holds only the templates it changes and takes the others
// from v1. `pdfqa eval --prompt-set NAME` runs an evaluation with a set, so
// that variants are chosen by measurement.
package prompts

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"text/template"
)

// Version is the default prompt set.
const Version = "v1"

//go:embed */*.tmpl
var files embed.FS

// Set is one named set of templates.
type Set struct {
	name string
	t    *template.Template
}

var sets = mustLoad()

func mustLoad() map[string]*Set {
	funcs := template.FuncMap{"join": strings.Join}
	base := template.Must(template.New("prompts").Funcs(funcs).ParseFS(files, Version+"/*.tmpl"))
	out := map[string]*Set{Version: {name: Version, t: base}}
	dirs, err := fs.ReadDir(files, ".")
	if err != nil {
		panic(err)
	}
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == Version {
			continue
		}
		t := template.Must(template.Must(base.Clone()).ParseFS(files, path.Join(d.Name(), "*.tmpl")))
		out[d.Name()] = &Set{name: d.Name(), t: t}
	}
	return out
}

// Lookup returns the named set; "" is the default set.
func Lookup(name string) (*Set, error) {
	if strings.TrimSpace(name) == "" {
		name = Version
	}
	s, ok := sets[name]
	if !ok {
		return nil, fmt.Errorf("prompts: no prompt set %q (sets: %s)", name, strings.Join(Sets(), ", "))
	}
	return s, nil
}

// Default is the default set.
func Default() *Set { return sets[Version] }

// Sets lists the set names, the default first.
func Sets() []string {
	out := []string{Version}
	for n := range sets {
		if n != Version {
			out = append(out, n)
		}
	}
	sort.Strings(out[1:])
	return out
}

// Name is the set's name.
func (s *Set) Name() string {
	if s == nil {
		return Version
	}
	return s.name
}

// Overrides lists the templates the set changes from the default set.
func (s *Set) Overrides() []string {
	if s == nil || s.name == Version {
		return nil
	}
	ms, _ := fs.Glob(files, path.Join(s.name, "*.tmpl"))
	var out []string
	for _, m := range ms {
		out = append(out, path.Base(m))
	}
	return out
}

// Render renders the named template (e.g. "planner.tmpl") of the set with
// data; a nil set is the default. The leading {{/* ... */}} comment block
// of each file documents it and renders to nothing.
func (s *Set) Render(name string, data any) (string, error) {
	if s == nil {
		s = Default()
	}
	var b bytes.Buffer
	if err := s.t.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("prompts %s: %s: %w", s.name, name, err)
	}
	return strings.TrimSpace(b.String()), nil
}

// Render renders a template of the default set.
func Render(name string, data any) (string, error) { return Default().Render(name, data) }

// Names lists the templates (every set has them all).
func Names() []string {
	var out []string
	for _, t := range Default().t.Templates() {
		if strings.HasSuffix(t.Name(), ".tmpl") {
			out = append(out, t.Name())
		}
	}
	sort.Strings(out)
	return out
}
