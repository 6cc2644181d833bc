package retrieval

import (
	"testing"

	"github.com/pdfqa/pdfqa/platform/config"
)

func readSettings(env map[string]string) Settings {
	return ReadSettings(config.NewReader(config.MapEnv(env)))
}

func TestSettingsDefaults(t *testing.T) {
	s := readSettings(nil)
	if s.EmbedModel != DefaultEmbedModel || s.RefineModel != "" || s.VectorWeight != 0.5 || s.TableShare != 0.4 || s.InProcessParse {
		t.Errorf("defaults %+v", s)
	}
	if ref, ok := s.Refines(); !ok || ref != "" {
		t.Errorf("by default documents are refined with the contextual engine: %q %v", ref, ok)
	}
}

func TestSettingsRefines(t *testing.T) {
	for _, c := range []struct {
		embed, refine string
		ok            bool
	}{{"static", "none", false}, {"static", "static", false}, {"other", "other", false}, {"static", "other", true}, {"static", "", true}} {
		env := map[string]string{"PDFQA_RETRIEVAL_EMBED_MODEL": c.embed, "PDFQA_RETRIEVAL_REFINE_MODEL": c.refine}
		s := readSettings(env)
		if _, ok := s.Refines(); ok != c.ok {
			t.Errorf("embed %q refine %q: refines %v, want %v", c.embed, c.refine, ok, c.ok)
		}
	}
}

// TestSettingsApply keeps the rules the engine had when it read the
// environment itself: a Config value wins; a non-positive weight and a zero
// share fall back to the engine's defaults.
func TestSettingsApply(t *testing.T) {
	s := readSettings(map[string]string{"PDFQA_VECTOR_WEIGHT": "0.8", "PDFQA_TABLE_SHARE": "-1", "PDFQA_PARSE_INPROCESS": "1"})
	var c Config
	s.Apply(&c)
	if c.VectorWeight != 0.8 || c.TableShare != -1 || !c.InProcessParse {
		t.Errorf("applied %+v", c)
	}
	c = Config{VectorWeight: 0.2, TableShare: 0.1}
	s.Apply(&c)
	if c.VectorWeight != 0.2 || c.TableShare != 0.1 {
		t.Errorf("Config values overridden: %+v", c)
	}
	c = Config{}
	readSettings(map[string]string{"PDFQA_VECTOR_WEIGHT": "-3", "PDFQA_TABLE_SHARE": "0"}).Apply(&c)
	if c.VectorWeight != 0 || c.TableShare != 0 {
		t.Errorf("ignored values applied: %+v (Open then takes 0.5 and 0.3)", c)
	}
}
