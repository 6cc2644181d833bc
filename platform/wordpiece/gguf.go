package wordpiece

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ggufTokens reads the tokenizer.ggml.tokens array from a GGUF file header
// (the vocabulary llama.cpp uses for the same model), skipping every other
// metadata value.
func ggufTokens(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &ggufReader{r: bufio.NewReaderSize(f, 1<<20)}
	if magic := r.u32(); magic != 0x46554747 { // "GGUF"
		return nil, errors.New("not a GGUF file")
	}
	if v := r.u32(); v < 2 {
		return nil, fmt.Errorf("GGUF version %d unsupported", v)
	}
	_ = r.u64() // tensor count
	kvs := r.u64()
	for i := uint64(0); i < kvs && r.err == nil; i++ {
		key := r.str()
		typ := r.u32()
		if key == "tokenizer.ggml.tokens" && typ == ggufArray {
			et, n := r.u32(), r.u64()
			if et != ggufString || n > 10_000_000 {
				return nil, errors.New("tokenizer.ggml.tokens is not a string array")
			}
			toks := make([]string, 0, n)
			for j := uint64(0); j < n && r.err == nil; j++ {
				toks = append(toks, fromGGUF(r.str()))
			}
			return toks, r.err
		}
		r.skip(typ)
	}
	if r.err != nil {
		return nil, r.err
	}
	return nil, errors.New("no tokenizer.ggml.tokens in GGUF metadata")
}

const (
	ggufString = 8
	ggufArray  = 9
)

var ggufSizes = map[uint32]int{0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

type ggufReader struct {
	r   *bufio.Reader
	err error
	buf [8]byte
}

func (g *ggufReader) read(n int) []byte {
	if g.err != nil {
		return g.buf[:n]
	}
	_, g.err = io.ReadFull(g.r, g.buf[:n])
	return g.buf[:n]
}

func (g *ggufReader) u32() uint32 { return binary.LittleEndian.Uint32(g.read(4)) }
func (g *ggufReader) u64() uint64 { return binary.LittleEndian.Uint64(g.read(8)) }

func (g *ggufReader) str() string {
	n := g.u64()
	if g.err != nil || n > 1<<20 {
		if g.err == nil {
			g.err = errors.New("GGUF string too long")
		}
		return ""
	}
	b := make([]byte, n)
	_, g.err = io.ReadFull(g.r, b)
	return string(b)
}

func (g *ggufReader) skip(typ uint32) {
	if g.err != nil {
		return
	}
	switch typ {
	case ggufString:
		n := g.u64()
		_, g.err = g.r.Discard(int(n))
	case ggufArray:
		et, n := g.u32(), g.u64()
		for i := uint64(0); i < n && g.err == nil; i++ {
			g.skip(et)
		}
	default:
		sz, ok := ggufSizes[typ]
		if !ok {
			g.err = fmt.Errorf("GGUF value type %d unknown", typ)
			return
		}
		_, g.err = g.r.Discard(sz)
	}
}

// fromGGUF undoes llama.cpp's BERT vocabulary conversion: word-initial pieces
// carry a "▁" prefix and continuation pieces lose their "##".
func fromGGUF(t string) string {
	if rest, ok := strings.CutPrefix(t, "\u2581"); ok {
		return rest
	}
	switch t {
	case "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]":
		return t
	}
	return "##" + t
}
