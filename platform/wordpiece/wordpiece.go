// Package wordpiece counts and splits text with BERT's WordPiece tokenizer
// (uncased), the tokenizer of the all-MiniLM-L6-v2 embedding model, so that
// chunk budgets are measured in the model's own tokens.
package wordpiece

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// maxWordChars is BERT's max_input_chars_per_word: longer words become [UNK].
const maxWordChars = 100

// Tokenizer is an uncased BERT WordPiece tokenizer. Safe for concurrent use.
type Tokenizer struct {
	vocab map[string]int
}

// New builds a tokenizer from the vocabulary, one token per entry in id order.
func New(tokens []string) (*Tokenizer, error) {
	if len(tokens) == 0 {
		return nil, errors.New("wordpiece: empty vocabulary")
	}
	v := make(map[string]int, len(tokens))
	for i, t := range tokens {
		if _, dup := v[t]; !dup {
			v[t] = i
		}
	}
	if _, ok := v["[UNK]"]; !ok {
		return nil, errors.New("wordpiece: vocabulary has no [UNK] token")
	}
	return &Tokenizer{vocab: v}, nil
}

// Load reads a vocabulary from a vocab.txt file (one token per line) or from
// the tokenizer.ggml.tokens array of a GGUF model file.
func Load(path string) (*Tokenizer, error) {
	toks, err := LoadVocab(path)
	if err != nil {
		return nil, err
	}
	return New(toks)
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		out = append(out, strings.TrimRight(sc.Text(), "\r"))
	}
	return out, sc.Err()
}

// Find looks for the MiniLM vocabulary under cache (the pdfqa cache):
// a vocab.txt of the all-MiniLM-L6-v2 files, else the GGUF model the
// inference service serves. It returns "" when neither exists.
func Find(cache string) string {
	if cache == "" {
		return ""
	}
	var vocab string
	_ = filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
		if err != nil || vocab != "" {
			return filepath.SkipDir
		}
		if d.IsDir() && (d.Name() == "src" || d.Name() == "engine" || d.Name() == "wazero" || d.Name() == "downloads") {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "vocab.txt" && strings.Contains(strings.ToLower(strings.ReplaceAll(p, "-", "_")), "minilm_l6_v2") {
			vocab = p
		}
		return nil
	})
	if vocab != "" {
		return vocab
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "models", "all-minilm-l6-v2*.gguf")); len(m) > 0 {
		return m[0]
	}
	return ""
}

// Tokenize returns the WordPiece tokens of text (without [CLS]/[SEP]).
func (t *Tokenizer) Tokenize(text string) []string {
	var out []string
	for _, w := range basic(text) {
		out = t.wordpiece(w, out)
	}
	return out
}

// Count returns the number of WordPiece tokens of text (without [CLS]/[SEP]).
func (t *Tokenizer) Count(text string) int {
	n := 0
	for _, w := range basic(text) {
		n += len(t.wordpiece(w, nil))
	}
	return n
}

func (t *Tokenizer) wordpiece(word string, out []string) []string {
	rs := []rune(word)
	if len(rs) > maxWordChars {
		return append(out, "[UNK]")
	}
	start := len(out)
	for i := 0; i < len(rs); {
		j := len(rs)
		found := ""
		for ; j > i; j-- {
			s := string(rs[i:j])
			if i > 0 {
				s = "##" + s
			}
			if _, ok := t.vocab[s]; ok {
				found = s
				break
			}
		}
		if found == "" {
			return append(out[:start], "[UNK]")
		}
		out = append(out, found)
		i = j
	}
	return out
}

// basic is BERT's BasicTokenizer with do_lower_case: clean control chars,
// split CJK characters, lowercase, strip accents, split on whitespace and
// punctuation.
func basic(text string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	for _, r := range norm.NFD.String(strings.ToLower(text)) {
		switch {
		case r == 0 || r == 0xfffd || (isControl(r)):
			continue
		case unicode.Is(unicode.Mn, r):
			continue // accent stripped
		case unicode.IsSpace(r):
			flush()
		case isPunct(r) || isCJK(r):
			flush()
			words = append(words, string(r))
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return words
}

func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf)
}

// isPunct follows BERT: ASCII non-alphanumeric symbols plus Unicode P*.
func isPunct(r rune) bool {
	if (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126) {
		return true
	}
	return unicode.IsPunct(r)
}

func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) || (r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) || (r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

// LoadVocab reads the vocabulary (tokens in id order) from a vocab.txt or a
// GGUF model file, as Load does.
func LoadVocab(path string) ([]string, error) {
	var toks []string
	var err error
	if strings.HasSuffix(path, ".gguf") {
		toks, err = ggufTokens(path)
	} else {
		toks, err = readLines(path)
	}
	if err != nil {
		return nil, fmt.Errorf("wordpiece: %s: %w", path, err)
	}
	return toks, nil
}

// IDs returns the vocabulary ids of text's WordPiece tokens (without
// [CLS]/[SEP]), appended to out.
func (t *Tokenizer) IDs(text string, out []int) []int {
	var buf []string
	for _, w := range basic(text) {
		buf = t.wordpiece(w, buf[:0])
		for _, tok := range buf {
			out = append(out, t.vocab[tok])
		}
	}
	return out
}
