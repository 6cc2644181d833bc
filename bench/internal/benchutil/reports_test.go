package benchutil

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestRecordedReportsMatchTheirTypes: every field of the committed reports
// is a field of its type (nothing is dropped when bench/plots reads them),
// and writing one back with WriteJSON gives the committed bytes.
func TestRecordedReportsMatchTheirTypes(t *testing.T) {
	for name, v := range map[string]any{"ingest-pagetype.json": &IngestReport{}, "memory.json": &MemoryReport{}} {
		b, err := os.ReadFile(filepath.Join("..", "..", "recorded", name))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		out := filepath.Join(t.TempDir(), name)
		if err := WriteJSON(out, v); err != nil {
			t.Fatal(err)
		}
		again, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, b) {
			t.Errorf("%s written back differs from the committed file:\n%s", name, again)
		}
	}
}

// NewRun fills every field a report says about its run; a Run without a
// commit or a load (memory.json's first runs) writes neither.
func TestNewRun(t *testing.T) {
	r := NewRun("scale", "searchbench")
	if r.Bench != "scale" || !strings.HasPrefix(r.Command, "go run ./bench/cmd/searchbench") || r.CPUs != runtime.NumCPU() {
		t.Errorf("NewRun = %+v", r)
	}
	if _, err := time.Parse(time.RFC3339, r.Date); err != nil {
		t.Errorf("date %q: %v", r.Date, err)
	}
	b, err := json.Marshal(Run{Bench: "memory", Date: "d", Command: "c", CPUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"bench":"memory","date":"d","command":"c","cpus":2}`; string(b) != want {
		t.Errorf("%s, want %s", b, want)
	}
}
