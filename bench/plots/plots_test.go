package plots

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestCommittedPlotsAreFresh draws every chart from bench/recorded and fails
// when docs/perf differs (run go run ./bench/plots/gen and commit).
func TestCommittedPlotsAreFresh(t *testing.T) {
	r, err := Load("../recorded")
	if err != nil {
		t.Fatal(err)
	}
	figs, err := Figures(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(figs) < 6 {
		t.Fatalf("%d figures", len(figs))
	}
	doc, err := os.ReadFile("../../docs/performance.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range figs {
		// Well-formed XML, so browsers and GitHub render it.
		d := xml.NewDecoder(bytes.NewReader(want))
		for {
			if _, err := d.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		got, err := os.ReadFile(filepath.Join("../../docs/perf", name))
		if err != nil {
			t.Errorf("%v (run: go run ./bench/plots/gen)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("docs/perf/%s is stale: run go run ./bench/plots/gen and commit", name)
		}
		if !strings.Contains(string(doc), "perf/"+name) {
			t.Errorf("docs/performance.md does not show perf/%s", name)
		}
	}
	committed, _ := filepath.Glob("../../docs/perf/*.svg")
	for _, c := range committed {
		if _, ok := figs[filepath.Base(c)]; !ok {
			t.Errorf("docs/perf/%s is drawn by nothing: remove it", filepath.Base(c))
		}
	}
}

func TestAxesAndLabels(t *testing.T) {
	a := axis{lo: 1, hi: 1000, log: true, p0: 0, p1: 300}
	if got := a.px(10); got < 99.9 || got > 100.1 {
		t.Errorf("log axis: 10 at %.1f, want 100", got)
	}
	if ts := a.ticks(); len(ts) != 4 || ts[0] != 1 || ts[3] != 1000 {
		t.Errorf("log ticks %v", ts)
	}
	for v, want := range map[float64]string{0.064: "0.06", 1.3: "1.3", 81: "81", 1000: "1000", 10000: "10k", 100000: "100k", 2.0: "2"} {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%g) = %q, want %q", v, got, want)
		}
	}
	if linearTop(112.1) <= 112.1 {
		t.Error("linearTop below its maximum")
	}
}

// TestSearchScaleChart: one colour per store, p99 dashed, points in size
// order whatever the rows' order, and the pending 1M note only while no
// 1M-chunk row is recorded.
func TestSearchScaleChart(t *testing.T) {
	var ss searchScale
	ss.Date, ss.CPUs, ss.Queries = "2026-12-01T15:27:50Z", 2, 300
	for _, r := range []struct {
		store    string
		chunks   float64
		p50, p99 float64
	}{{"a", 100000, 20, 70}, {"b", 10000, 9, 35}, {"a", 10000, 6, 24}, {"b", 100000, 30, 150}} {
		ss.Rows = append(ss.Rows, struct {
			Store  string  `json:"store"`
			Chunks float64 `json:"chunks"`
			P50    float64 `json:"p50_ms"`
			P99    float64 `json:"p99_ms"`
		}{r.store, r.chunks, r.p50, r.p99})
	}
	svg := string(searchScaleChart(ss))
	lines := regexp.MustCompile(`<polyline points="([^"]*)" fill="none" stroke="([^"]*)" stroke-width="2.5"( stroke-dasharray="6 4")?/>`).FindAllStringSubmatch(svg, -1)
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4 (2 stores x p50, p99)", len(lines))
	}
	for i, l := range lines {
		if dashed := l[3] != ""; dashed != (i%2 == 1) {
			t.Errorf("line %d: dashed %v, want p99 (odd lines) only", i, dashed)
		}
		var xs []float64
		for _, p := range strings.Fields(l[1]) {
			x, _ := strconv.ParseFloat(strings.Split(p, ",")[0], 64)
			xs = append(xs, x)
		}
		if len(xs) != 2 || xs[0] >= xs[1] {
			t.Errorf("line %d: points %q not in size order", i, l[1])
		}
	}
	if lines[0][2] != lines[1][2] || lines[2][2] != lines[3][2] || lines[0][2] == lines[2][2] {
		t.Errorf("colours %s %s %s %s: want one per store", lines[0][2], lines[1][2], lines[2][2], lines[3][2])
	}
	if !strings.Contains(svg, "1M chunks: pending") {
		t.Error("no pending note without a 1M row")
	}
	ss.Rows = append(ss.Rows, ss.Rows[0])
	ss.Rows[len(ss.Rows)-1].Chunks = 1e6
	if svg := string(searchScaleChart(ss)); strings.Contains(svg, "pending") || !strings.Contains(svg, ">1M</text>") {
		t.Error("a 1M row: the note still says pending, or no 1M tick")
	}
}

// Load adds the rows of search-scale-1m-*.json (runs of one store each) to
// search-scale.json's, and the chart says so; other search-scale-*.json
// files are not drawn.
func TestLoadAddsSeparateSearchRuns(t *testing.T) {
	dir := t.TempDir()
	files, _ := filepath.Glob("../recorded/*.json")
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "search-scale-") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	one := `{"date": "2026-12-01T20:00:00Z", "rows": [{"store": "x", "chunks": 1000000, "p50_ms": 50, "p99_ms": 90}]}`
	if err := os.WriteFile(filepath.Join(dir, "search-scale-1m-x.json"), []byte(one), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	rows := r.Search.Rows
	if len(rows) != len(base.Search.Rows)+1 || rows[len(rows)-1].Chunks != 1e6 || rows[len(rows)-1].P99 != 90 {
		t.Fatalf("rows %+v", rows)
	}
	if svg := string(searchScaleChart(r.Search)); !strings.Contains(svg, "1 more runs of one store each") || !strings.Contains(svg, ">1M</text>") {
		t.Error("the chart does not draw or name the separate run")
	}
	if err := os.WriteFile(filepath.Join(dir, "search-scale-300k-y.json"), []byte(one), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := Load(dir); err != nil || len(r.Search.Rows) != len(rows) {
		t.Fatalf("a search-scale-300k file was drawn (%v)", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "search-scale-1m-bad.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "search-scale-1m-bad.json") {
		t.Errorf("a malformed file: %v", err)
	}
}
