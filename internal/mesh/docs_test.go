package mesh

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/testenv"
)

// The docs' examples run here, so none rots. In docs/*.md a fenced block
// whose info string is "sh doctest" runs in bash (-euo pipefail) from the
// repository root, against a whole mesh started by Up, with
//
//	PDFQA_URL      the gateway's REST base URL
//	PDFQA_DATA     the mesh's data directory (admin.key, etcd.endpoint)
//	PATH           a freshly built pdfqa first
//
// Variables a block exports are seen by the blocks after it, in document
// order. A "go doctest" block is a whole main package, run with go run in
// the workspace (so it imports sdk/go and gen/ as a user's program would),
// with the same environment. A "text output" block right after either kind
// lists what its output must hold: each non-empty line must occur in the
// output, in order; "…" inside a line matches anything within the line.
var docsWithExamples = []string{"docs/api.md", "docs/getting-started.md"}

type docExample struct {
	file   string
	line   int
	lang   string // sh or go
	code   string
	output []string // expected lines, nil when none
}

// docExamples returns the tagged blocks of one Markdown file.
func docExamples(file string, md []byte) ([]docExample, error) {
	var out []docExample
	sc := bufio.NewScanner(bytes.NewReader(md))
	n := 0
	var cur *docExample
	var body []string
	var info string
	start := 0
	last := -1 // index in out of the example an output block may follow
	for sc.Scan() {
		n++
		l := sc.Text()
		if cur == nil && info == "" {
			if rest, ok := strings.CutPrefix(l, "```"); ok && strings.TrimSpace(rest) != "" {
				info, start, body = strings.TrimSpace(rest), n, nil
				continue
			}
			if rest, ok := strings.CutPrefix(l, "```"); ok && strings.TrimSpace(rest) == "" {
				info, start, body = "plain", n, nil
				continue
			}
			if strings.TrimSpace(l) != "" {
				last = -1
			}
			continue
		}
		if strings.TrimSpace(l) != "```" {
			body = append(body, l)
			continue
		}
		switch f := strings.Fields(info); {
		case len(f) == 2 && f[1] == "doctest" && (f[0] == "sh" || f[0] == "go"):
			out = append(out, docExample{file: file, line: start, lang: f[0], code: strings.Join(body, "\n") + "\n"})
			last = len(out) - 1
		case len(f) == 2 && f[0] == "text" && f[1] == "output":
			if last < 0 {
				return nil, fmt.Errorf("%s:%d: an output block must follow a doctest block", file, start)
			}
			for _, b := range body {
				if strings.TrimSpace(b) != "" {
					out[last].output = append(out[last].output, strings.TrimSpace(b))
				}
			}
			last = -1
		default:
			if strings.Contains(info, "doctest") || strings.Contains(info, "output") {
				return nil, fmt.Errorf("%s:%d: unknown tag %q (want sh doctest, go doctest or text output)", file, start, info)
			}
			last = -1
		}
		info = ""
	}
	return out, sc.Err()
}

// matchOutput reports the first expected line missing from got (in order).
func matchOutput(got string, want []string) error {
	lines := strings.Split(got, "\n")
	i := 0
	for _, w := range want {
		frags := strings.Split(w, "…")
		found := false
		for ; i < len(lines) && !found; i++ {
			rest := lines[i]
			ok := true
			for _, f := range frags {
				f = strings.TrimSpace(f)
				j := strings.Index(rest, f)
				if j < 0 {
					ok = false
					break
				}
				rest = rest[j+len(f):]
			}
			found = ok
		}
		if !found {
			return fmt.Errorf("output lacks %q (in order)", w)
		}
	}
	return nil
}

func TestDocExamplesParse(t *testing.T) {
	md := "x\n```sh doctest\necho hi\n```\n\n```text output\nhi\n```\n```go doctest\npackage main\n```\n```sh\nnot run\n```\n"
	ex, err := docExamples("t.md", []byte(md))
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 2 || ex[0].lang != "sh" || ex[0].code != "echo hi\n" || len(ex[0].output) != 1 || ex[1].lang != "go" || ex[1].output != nil {
		t.Fatalf("%+v", ex)
	}
	if _, err := docExamples("t.md", []byte("```text output\nx\n```\n")); err == nil {
		t.Error("an output block after no example is accepted")
	}
	if err := matchOutput("a 1\nb 2 c\n", []string{"a 1", "b … c"}); err != nil {
		t.Error(err)
	}
	if err := matchOutput("b 2\na 1\n", []string{"a 1", "b 2"}); err == nil {
		t.Error("out-of-order output matched")
	}
}

// TestDocsExamples runs every tagged example of the docs against one mesh.
func TestDocsExamples(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var examples []docExample
	for _, f := range docsWithExamples {
		md, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		ex, err := docExamples(f, md)
		if err != nil {
			t.Fatal(err)
		}
		if len(ex) == 0 {
			t.Fatalf("%s has no doctest blocks", f)
		}
		examples = append(examples, ex...)
	}
	if _, err := exec.LookPath("jq"); err != nil {
		testenv.Missing(t, "jq is not installed (Debian: jq); the docs' examples use it")
	}
	bin := buildBinary(t)
	binDir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(binDir, "pdfqa")); err != nil {
		t.Fatal(err)
	}

	data := t.TempDir()
	m := StartForTest(t, UpOptions{Data: data, HTTPAddr: "127.0.0.1:0", LogLevel: "error"})
	base := "http://" + m.Gateway().HTTPAddr
	if err := testenv.WaitHTTP(base+"/healthz", 2*time.Minute); err != nil {
		t.Fatal(err)
	}

	// The environment every block starts from; blocks add their exports.
	state := filepath.Join(t.TempDir(), "env.sh")
	initial := fmt.Sprintf("export PDFQA_URL=%q PDFQA_DATA=%q PATH=%q\nunset PDFQA_API_KEY\n", base, data, binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	if err := os.WriteFile(state, []byte(initial), 0o644); err != nil {
		t.Fatal(err)
	}
	// Go examples are built inside the workspace (testdata: never part of ./...).
	td := filepath.Join(root, "internal", "mesh", "testdata")
	if err := os.MkdirAll(td, 0o755); err != nil {
		t.Fatal(err)
	}
	goDir, err := os.MkdirTemp(td, "doctest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(goDir); os.Remove(td) })
	rel, _ := filepath.Rel(root, goDir)

	for i, ex := range examples {
		name := fmt.Sprintf("%s:%d", ex.file, ex.line)
		script := ex.code
		if ex.lang == "go" {
			dir := filepath.Join(goDir, fmt.Sprint(i))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(ex.code), 0o644); err != nil {
				t.Fatal(err)
			}
			script = fmt.Sprintf("go run ./%s\n", filepath.ToSlash(filepath.Join(rel, fmt.Sprint(i))))
		}
		full := fmt.Sprintf("set -euo pipefail\nset -a\n. %q\nset +a\n%s\nexport -p | grep -v -E '^declare -[a-zA-Z]*r' > %q.next\n", state, script, state)
		ectx, ecancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ectx, "bash", "-c", full)
		cmd.Dir = root
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		began := time.Now()
		err := cmd.Run()
		ecancel()
		if err != nil {
			t.Fatalf("%s: %v\n--- code\n%s--- stdout\n%s--- stderr\n%s", name, err, ex.code, stdout.String(), stderr.String())
		}
		if err := os.Rename(state+".next", state); err != nil {
			t.Fatal(err)
		}
		if err := matchOutput(stdout.String(), ex.output); err != nil {
			t.Fatalf("%s: %v\n--- code\n%s--- stdout\n%s--- stderr\n%s", name, err, ex.code, stdout.String(), stderr.String())
		}
		t.Logf("%s: ok (%s, %.1fs)", name, ex.lang, time.Since(began).Seconds())
	}
}
