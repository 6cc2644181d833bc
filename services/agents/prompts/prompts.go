// Package prompts holds the agents' versioned prompt templates, embedded in
// the binary, and renders them with text/template.
package prompts

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
)

// Version is the prompt set in use; a new set goes in a new directory so
// that runs can be compared across prompt versions.
const Version = "v1"

//go:embed v1/*.tmpl
var files embed.FS

var set = template.Must(template.New("prompts").Funcs(template.FuncMap{"join": strings.Join}).ParseFS(files, Version+"/*.tmpl"))

// Render renders the named template (e.g. "planner.tmpl") with data. The
// leading {{/* ... */}} comment block of each file documents it and renders
// to nothing.
func Render(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := set.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("prompts: %s: %w", name, err)
	}
	return strings.TrimSpace(b.String()), nil
}

// Names lists the embedded templates.
func Names() []string {
	var out []string
	for _, t := range set.Templates() {
		if strings.HasSuffix(t.Name(), ".tmpl") {
			out = append(out, t.Name())
		}
	}
	return out
}
