package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const (
	configDocPath = "../../docs/configuration.md"
	commandsBegin = "<!-- pdfqa commands: begin -->\n"
	commandsEnd   = "<!-- pdfqa commands: end -->"
)

// checkGenerated compares the text of path between begin and end with want
// (and rewrites it with -update).
func checkGenerated(t *testing.T, path, begin, end, want, how string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %q … %q markers", path, strings.TrimSpace(begin), end)
	}
	got := doc[i+len(begin) : j]
	if got == want {
		return
	}
	if *update {
		doc = doc[:i+len(begin)] + want + doc[j:]
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is stale; run %s\n--- file\n%s\n--- generated\n%s", path, how, got, want)
}

// clearPDFQAEnv unsets every PDFQA_* variable for the test: flag defaults
// read from the environment must show their documented defaults.
func clearPDFQAEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PDFQA_") {
			os.Unsetenv(k)
			t.Cleanup(func() { os.Setenv(k, v) })
		}
	}
}

// TestDocsConfigurationReference: docs/configuration.md holds the same
// settings tables as README (`pdfqa config --markdown`) and every command's
// flags as `pdfqa <command> -h` prints them.
func TestDocsConfigurationReference(t *testing.T) {
	clearPDFQAEnv(t)
	const how = "go test ./internal/cli -run TestDocsConfigurationReference -update"
	var settings, cmds bytes.Buffer
	if err := writeConfigDocs(&settings); err != nil {
		t.Fatal(err)
	}
	if err := writeCommandDocs(&cmds); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### `pdfqa ask`", "-collection string", "$ pdfqa keys create -h", "$ pdfqa serve agents -h", "~/.cache/pdfqa"} {
		if !strings.Contains(cmds.String(), want) {
			t.Errorf("command reference lacks %q", want)
		}
	}
	if dir, err := os.UserCacheDir(); err == nil && strings.Contains(cmds.String(), dir) {
		t.Errorf("command reference names this machine's cache directory %s", dir)
	}
	checkGenerated(t, configDocPath, configBegin, configEnd, settings.String(), how)
	checkGenerated(t, configDocPath, commandsBegin, commandsEnd, cmds.String(), how)
}

// TestDocsRunbookCoversEveryAlert: docs/operations.md has a runbook
// section for every alert the chart's rules define, and none for an alert
// that no longer exists.
func TestDocsRunbookCoversEveryAlert(t *testing.T) {
	rules, err := os.ReadFile("../../deploy/helm/pdfqa/files/pdfqa.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	alerts := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*- alert:\s*(\S+)`).FindAllStringSubmatch(string(rules), -1) {
		alerts[m[1]] = true
	}
	if len(alerts) < 5 {
		t.Fatalf("found %d alerts in the rules file", len(alerts))
	}
	sections := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^### (Pdfqa\S+)\s*$`).FindAllStringSubmatch(string(doc), -1) {
		sections[m[1]] = true
	}
	for a := range alerts {
		if !sections[a] {
			t.Errorf("docs/operations.md has no runbook section \"### %s\"", a)
		}
	}
	for s := range sections {
		if !alerts[s] {
			t.Errorf("docs/operations.md has a runbook for %s, which the rules do not define", s)
		}
	}
}

// TestDocsLinksResolve: every relative link of README.md and docs/*.md
// names a file or folder of the repository (anchors are not checked).
func TestDocsLinksResolve(t *testing.T) {
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md", "../../BENCHMARKS.md")
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			if _, err := os.Stat(filepath.Join(filepath.Dir(f), target)); err != nil {
				t.Errorf("%s: link %q: %v", filepath.Base(f), m[1], err)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d links checked", checked)
	}
}
