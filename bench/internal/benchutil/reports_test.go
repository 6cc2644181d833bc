package benchutil

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
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
