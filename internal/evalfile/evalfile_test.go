package evalfile

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pdfqa/pdfqa/platform/testenv"
)

// The lines are byte for byte what searcheval and `pdfqa eval` wrote
// before they shared this type (their own structs, same field order).
func TestResultLineFormat(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	search := NewResult("What was revenue?")
	search.LatencyMs = 12.5
	search.Passages = append(search.Passages, Passage{Document: "a.pdf", Page: 3, Text: "revenue 48.2", Score: 0.0312})
	if err := w.Write(search); err != nil {
		t.Fatal(err)
	}
	ask := NewResult("Q?")
	ask.Answer, ask.RunID, ask.Degraded, ask.Support, ask.Plan, ask.PromptSet = "48.2", "run-1", true, 0.75, 2, "v1"
	ask.Citations = append(ask.Citations, Citation{Document: "a.pdf", Page: 3})
	ask.Passages = append(ask.Passages, Passage{Document: "a.pdf", Page: 3, Text: "t", Score: Score32(0.8123)})
	ask.Timings = map[string]float64{"plan": 1.5}
	if err := w.Write(ask); err != nil {
		t.Fatal(err)
	}
	want := `{"question":"What was revenue?","answer":"","citations":[],"passages":[{"document":"a.pdf","page":3,"text":"revenue 48.2","score":0.0312}],"latency_ms":12.5,"degraded":false}
{"question":"Q?","answer":"48.2","citations":[{"document":"a.pdf","page":3}],"passages":[{"document":"a.pdf","page":3,"text":"t","score":0.8123}],"latency_ms":0,"degraded":true,"run_id":"run-1","support_score":0.75,"sub_questions":2,"timings_ms":{"plan":1.5},"prompt_set":"v1"}
`
	if buf.String() != want {
		t.Errorf("lines\n%s\nwant\n%s", buf.String(), want)
	}
	var back Result
	if err := json.Unmarshal([]byte(strings.Split(want, "\n")[1]), &back); err != nil || back.Passages[0].Score != Score32(0.8123) || back.Timings["plan"] != 1.5 {
		t.Errorf("read back %+v, %v", back, err)
	}
}

func TestScore32(t *testing.T) {
	for _, s := range []float32{0.8123, 1, 0, 0.1, 3.4028235e38, 1e-7} {
		b, _ := json.Marshal(Score32(s))
		b32, _ := json.Marshal(s)
		if string(b) != string(b32) {
			t.Errorf("%v: %s as a float64, %s as the float32", s, b, b32)
		}
	}
}

func TestReadQuestions(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A byte-order mark, a lower-case header with spaces, a ragged row,
	// quoted commas and new lines, an empty question.
	qs, err := ReadQuestions(write("ok.csv", "\ufeffId, question ,Answer\n1,\" How much, in total? \",12\n2\n3,\"Two\nlines\"\n4,,x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(qs, "|"); got != "How much, in total?|Two\nlines" {
		t.Errorf("questions %q", got)
	}
	for _, c := range []struct{ name, body, want string }{
		{"empty.csv", "", "empty.csv: empty"},
		{"nocol.csv", "Id,Answer\n1,2\n", `empty.csv: no Question column`},
		{"quote.csv", "Question\n\"unclosed\n", "quote.csv: parse error on line 2"},
	} {
		_, err := ReadQuestions(write(c.name, c.body))
		want := strings.Replace(c.want, "empty.csv", c.name, 1)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, want)
		}
	}
	if _, err := ReadQuestions(filepath.Join(dir, "absent.csv")); !os.IsNotExist(err) {
		t.Errorf("a missing file: %v", err)
	}
}

// The shared data set's scorer reads what Writer writes.
func TestScoreQAReadsTheResults(t *testing.T) {
	shared, err := testenv.SharedDir()
	if err != nil {
		testenv.Missing(t, "%v", err)
	}
	score := filepath.Join(shared, "tools", "score_qa.py")
	if _, err := os.Stat(score); err != nil {
		testenv.Missing(t, "the shared scorer: %v", err)
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		testenv.Missing(t, "python3: %v", err)
	}
	dir := t.TempDir()
	qpath := filepath.Join(dir, "q.csv")
	if err := os.WriteFile(qpath, []byte("Question,Answer,Source Docs\nWhat was revenue in 2025?,Revenue was 48.2 million in 2025,*ferry*\nAnd costs?,Costs were 31.5 million,*ferry*\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	qs, err := ReadQuestions(qpath)
	if err != nil || len(qs) != 2 {
		t.Fatalf("%q, %v", qs, err)
	}
	rpath := filepath.Join(dir, "r.jsonl")
	f, err := os.Create(rpath)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWriter(f)
	hit := NewResult(qs[0])
	hit.Answer, hit.LatencyMs = "48.2 million", 100
	hit.Citations = append(hit.Citations, Citation{Document: "ferry.pdf", Page: 1})
	hit.Passages = append(hit.Passages, Passage{Document: "ferry.pdf", Page: 1, Text: "revenue was 48.2 million in 2025", Score: 1})
	miss := NewResult(qs[1]) // nothing found
	miss.LatencyMs = 300
	for _, r := range []Result{hit, miss} {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, score, qpath, rpath, "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("score_qa.py: %v\n%s", err, out)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// 2025 and 48.2 of the first reference are found, nothing of the
	// second: recall (1 + 0) / 2; one of two answers cites; one of two
	// passage lists hits the document.
	for k, want := range map[string]float64{"questions": 2, "missing": 0, "evidence_fact_recall@10": 0.5, "answer_fact_recall": 0.25,
		"doc_hit@10": 0.5, "cited_share": 0.5, "latency_ms_p50": 200} {
		if got, ok := m[k].(float64); !ok || got != want {
			t.Errorf("%s = %v, want %v (%s)", k, m[k], want, out)
		}
	}
}
