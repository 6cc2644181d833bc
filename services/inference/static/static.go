// Package static serves static token embeddings distilled from the
// contextual embedding model (the Model2Vec recipe: every vocabulary token is
// embedded once by the real model; a text's vector is the weighted mean of
// its tokens' vectors). Embedding is a table lookup per token, thousands of
// times cheaper than running the transformer, at some loss of quality: the
// retrieval service uses it to index documents quickly, next to BM25.
//
// Distillation runs once per machine and model file (about a minute through
// the llama.cpp embedding engine) and is cached next to the model.
package static

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/pdfqa/pdfqa/platform/vec"
	"github.com/pdfqa/pdfqa/platform/wordpiece"
)

// Version identifies the distillation recipe; a table of another version is
// rebuilt.
const Version = 1

// magic opens a table file.
const magic = "PDFQASE\x00"

// firstWordID is the id of the first whole word ("the") in BERT's uncased
// vocabulary: ids below are padding, unused slots and single characters;
// from here on the vocabulary is ordered by frequency, so an id stands for
// the token's frequency rank.
const firstWordID = 1996

// Model is a loaded static embedding table.
type Model struct {
	Name string
	dim  int
	tok  *wordpiece.Tokenizer
	vecs []float32 // len(vocab) x dim, weighted and centred
}

// Dim is the vector dimension.
func (m *Model) Dim() int { return m.dim }

// Embed returns one L2-normalised vector per text: the sum of its tokens'
// vectors (a text without known tokens gets a zero vector).
func (m *Model) Embed(texts []string) [][]float32 {
	out := make([][]float32, len(texts))
	var ids []int
	vocab := len(m.vecs) / m.dim
	for i, t := range texts {
		v := make([]float32, m.dim)
		ids = m.tok.IDs(t, ids[:0])
		for _, id := range ids {
			if id < 0 || id >= vocab {
				continue
			}
			row := m.vecs[id*m.dim : (id+1)*m.dim]
			for k, x := range row {
				v[k] += x
			}
		}
		vec.Normalize(v)
		out[i] = v
	}
	return out
}

// special reports tokens that get no vector: [PAD], [UNK], [CLS], [SEP],
// [MASK] and the [unusedN] slots.
func special(tok string) bool {
	return strings.HasPrefix(tok, "[") && strings.HasSuffix(tok, "]")
}

// EmbedFunc embeds texts with the contextual model (L2-normalised or not).
type EmbedFunc func(ctx context.Context, texts []string) ([][]float32, error)

// Distill embeds every vocabulary token with the contextual model and
// returns the table: each token's vector, centred on the mean token vector
// (removing the direction every token shares) and weighted by
// log(1 + frequency rank) so that frequent tokens count less (Zipf
// weighting). A continuation piece "##ing" is embedded as "ing". progress,
// if set, is called after each batch.
func Distill(ctx context.Context, vocab []string, embed EmbedFunc, batch int, progress func(done, total int)) (dim int, table []float32, err error) {
	if batch <= 0 {
		batch = 64
	}
	var texts []string
	var ids []int
	for id, tok := range vocab {
		if special(tok) || strings.TrimSpace(tok) == "" {
			continue
		}
		texts = append(texts, strings.TrimPrefix(tok, "##"))
		ids = append(ids, id)
	}
	if len(texts) == 0 {
		return 0, nil, errors.New("static: empty vocabulary")
	}
	var sum []float64
	for start := 0; start < len(texts); start += batch {
		end := min(start+batch, len(texts))
		vs, err := embed(ctx, texts[start:end])
		if err != nil {
			return 0, nil, fmt.Errorf("static: embedding vocabulary tokens %d-%d: %w", start, end, err)
		}
		if len(vs) != end-start {
			return 0, nil, fmt.Errorf("static: %d vectors for %d tokens", len(vs), end-start)
		}
		for j, v := range vs {
			if dim == 0 {
				dim = len(v)
				if dim == 0 {
					return 0, nil, errors.New("static: empty vectors")
				}
				table = make([]float32, len(vocab)*dim)
				sum = make([]float64, dim)
			}
			if len(v) != dim {
				return 0, nil, fmt.Errorf("static: vector of %d dimensions, want %d", len(v), dim)
			}
			v = append([]float32(nil), v...)
			vec.Normalize(v)
			copy(table[ids[start+j]*dim:], v)
			for k, x := range v {
				sum[k] += float64(x)
			}
		}
		if progress != nil {
			progress(end, len(texts))
		}
	}
	mean := make([]float32, dim)
	for k := range mean {
		mean[k] = float32(sum[k] / float64(len(texts)))
	}
	for _, id := range ids {
		row := table[id*dim : (id+1)*dim]
		rank := max(1, id-firstWordID+1)
		w := float32(math.Log1p(float64(rank)))
		for k := range row {
			row[k] = (row[k] - mean[k]) * w
		}
	}
	return dim, table, nil
}

// header is the table file's metadata.
type header struct {
	Version uint32
	Dim     uint32
	Vocab   uint32
	Source  [32]byte // sha256 of the vocabulary the table was built for
}

// vocabHash identifies a vocabulary.
func vocabHash(vocab []string) [32]byte {
	h := sha256.New()
	for _, t := range vocab {
		io.WriteString(h, t)
		h.Write([]byte{0})
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// Save writes the table atomically.
func Save(path string, vocab []string, dim int, table []float32) error {
	if dim <= 0 || len(table) != len(vocab)*dim {
		return fmt.Errorf("static: table of %d values for %d tokens x %d", len(table), len(vocab), dim)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".static-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriter(f)
	w.WriteString(magic)
	hdr := header{Version: Version, Dim: uint32(dim), Vocab: uint32(len(vocab)), Source: vocabHash(vocab)}
	if err := binary.Write(w, binary.LittleEndian, hdr); err != nil {
		f.Close()
		return err
	}
	if err := binary.Write(w, binary.LittleEndian, table); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// ErrStale: the table file is missing, of another recipe version, or was
// built for another vocabulary.
var ErrStale = errors.New("static embedding table missing or stale")

// Load reads a table built for vocab.
func Load(path, name string, vocab []string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrStale, path)
		}
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	m := make([]byte, len(magic))
	if _, err := io.ReadFull(r, m); err != nil || string(m) != magic {
		return nil, fmt.Errorf("%w: %s is not a static embedding table", ErrStale, path)
	}
	var hdr header
	if err := binary.Read(r, binary.LittleEndian, &hdr); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrStale, path, err)
	}
	if hdr.Version != Version || int(hdr.Vocab) != len(vocab) || hdr.Source != vocabHash(vocab) || hdr.Dim == 0 || hdr.Dim > 8192 {
		return nil, fmt.Errorf("%w: %s (version %d, %d tokens, vocabulary %s)", ErrStale, path, hdr.Version, hdr.Vocab, hex.EncodeToString(hdr.Source[:4]))
	}
	table := make([]float32, int(hdr.Vocab)*int(hdr.Dim))
	if err := binary.Read(r, binary.LittleEndian, table); err != nil {
		return nil, fmt.Errorf("%w: %s: truncated table: %v", ErrStale, path, err)
	}
	tok, err := wordpiece.New(vocab)
	if err != nil {
		return nil, err
	}
	return &Model{Name: name, dim: int(hdr.Dim), tok: tok, vecs: table}, nil
}
