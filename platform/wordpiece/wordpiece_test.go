package wordpiece

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pdfqa/pdfqa/platform/testenv"
)

// Expected tokens computed with transformers.BertTokenizer(vocab.txt of
// all-MiniLM-L6-v2, do_lower_case=True).tokenize.
var cases = []struct {
	in   string
	want string
}{
	{"Product revenue grew 84% year-on-year to $394 million.", "product revenue grew 84 % year - on - year to $ 39 ##4 million ."},
	{"Snowflake's FY23 guidance: $1.9B–$2.0B", "snow ##fl ##ake ' s f ##y ##23 guidance : $ 1 . 9 ##b – $ 2 . 0 ##b"},
	{"Café naïve résumé unbelievably tokenization", "cafe naive resume un ##bel ##ie ##va ##bly token ##ization"},
	{"hello   world!!", "hello world ! !"},
	{"Remaining performance obligations were $2.6 billion, up 82% YoY.", "remaining performance obligations were $ 2 . 6 billion , up 82 % yo ##y ."},
	{"北京 Zürich ﬁnance\tcontrol\u200bchars", "北 京 zurich ﬁ ##nan ##ce control ##cha ##rs"},
	{"supercalifragilisticexpialidocious", "super ##cal ##if ##rag ##ilis ##tic ##ex ##pia ##lid ##oc ##ious"},
}

func cache() string {
	if c := os.Getenv("PDFQA_CACHE"); c != "" {
		return c
	}
	h, _ := os.UserHomeDir()
	return filepath.Join(h, ".cache", "pdfqa")
}

func TestTokenizeMatchesTransformers(t *testing.T) {
	path := Find(cache())
	if path == "" {
		testenv.Missing(t, "no all-MiniLM-L6-v2 vocabulary in the pdfqa cache %s (make setup)", cache())
	}
	tok, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		got := strings.Join(tok.Tokenize(c.in), " ")
		if got != c.want {
			t.Errorf("#%d %q: got %q, want %q", i, c.in, got, c.want)
		}
		if n := tok.Count(c.in); n != len(strings.Fields(c.want)) {
			t.Errorf("#%d: count %d, want %d", i, n, len(strings.Fields(c.want)))
		}
	}
}

func TestGreedyLongestMatch(t *testing.T) {
	tok, err := New([]string{"[UNK]", "un", "##aff", "##able", "aff", "##a"})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct{ in, want string }{
		{"unaffable", "un ##aff ##able"},
		{"UNAFFABLE!", "un ##aff ##able [UNK]"},
		{"xyz", "[UNK]"},
	} {
		if got := strings.Join(tok.Tokenize(c.in), " "); got != c.want {
			t.Errorf("#%d: got %q, want %q", i, got, c.want)
		}
	}
}
