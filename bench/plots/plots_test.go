package plots

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
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
