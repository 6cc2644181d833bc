// Package ggufconv converts the pinned all-MiniLM-L6-v2 (a BERT
// sentence-transformers model: config.json, model.safetensors, vocab.txt)
// to the GGUF the inference engine serves, byte for byte what llama.cpp's
// convert_hf_to_gguf.py --outtype f16 writes for it (scripts/setup pins
// that file's sha256), without Python or torch. So serving — `make demo` —
// needs no training venv; only fine-tuning does.
//
// What the Python converter derives from the model card (general.name,
// organization, size label, licence, datasets, tags, languages) is
// heuristic; for the one pinned model it is data, kept in
// scripts/setup/minilm-gguf-card.json and written as given. Everything
// else — hyperparameters, the WordPiece vocabulary with its phantom-space
// rewrite and token types, the tensors (renamed, 2-D weights to f16 with
// round-to-nearest-even, the rest f32) — is computed from the model
// directory here.
package ggufconv

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// KV is one metadata key/value as the card file holds it: type "string",
// "uint32" or "array/string".
type KV struct {
	Key   string          `json:"key"`
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

const (
	typeUint32  = 4
	typeInt32   = 5
	typeFloat32 = 6
	typeBool    = 7
	typeString  = 8
	typeArray   = 9

	ggmlF32   = 0
	ggmlF16   = 1
	alignment = 32
)

type writer struct {
	b   bytes.Buffer
	n   uint64 // KV count
	err error
}

func (w *writer) str(s string) {
	binary.Write(&w.b, binary.LittleEndian, uint64(len(s)))
	w.b.WriteString(s)
}

func (w *writer) kv(key string, typ uint32, write func()) {
	w.str(key)
	binary.Write(&w.b, binary.LittleEndian, typ)
	write()
	w.n++
}

func (w *writer) u32(key string, v uint32) {
	w.kv(key, typeUint32, func() { binary.Write(&w.b, binary.LittleEndian, v) })
}

func (w *writer) f32(key string, v float32) {
	w.kv(key, typeFloat32, func() { binary.Write(&w.b, binary.LittleEndian, v) })
}

func (w *writer) boolean(key string, v bool) {
	w.kv(key, typeBool, func() {
		if v {
			w.b.WriteByte(1)
		} else {
			w.b.WriteByte(0)
		}
	})
}

func (w *writer) string(key, v string) { w.kv(key, typeString, func() { w.str(v) }) }

func (w *writer) strings(key string, vs []string) {
	w.kv(key, typeArray, func() {
		binary.Write(&w.b, binary.LittleEndian, uint32(typeString))
		binary.Write(&w.b, binary.LittleEndian, uint64(len(vs)))
		for _, v := range vs {
			w.str(v)
		}
	})
}

func (w *writer) int32s(key string, vs []int32) {
	w.kv(key, typeArray, func() {
		binary.Write(&w.b, binary.LittleEndian, uint32(typeInt32))
		binary.Write(&w.b, binary.LittleEndian, uint64(len(vs)))
		binary.Write(&w.b, binary.LittleEndian, vs)
	})
}

func (w *writer) card(kvs []KV) {
	for _, kv := range kvs {
		switch kv.Type {
		case "string":
			var s string
			w.fail(json.Unmarshal(kv.Value, &s))
			w.string(kv.Key, s)
		case "uint32":
			var u uint32
			w.fail(json.Unmarshal(kv.Value, &u))
			w.u32(kv.Key, u)
		case "array/string":
			var ss []string
			w.fail(json.Unmarshal(kv.Value, &ss))
			w.strings(kv.Key, ss)
		default:
			w.fail(fmt.Errorf("card: %s: unknown type %q", kv.Key, kv.Type))
		}
	}
}

func (w *writer) fail(err error) {
	if err != nil && w.err == nil {
		w.err = err
	}
}

type bertConfig struct {
	Hidden       int     `json:"hidden_size"`
	Layers       int     `json:"num_hidden_layers"`
	Heads        int     `json:"num_attention_heads"`
	Intermediate int     `json:"intermediate_size"`
	MaxPos       int     `json:"max_position_embeddings"`
	Eps          float64 `json:"layer_norm_eps"`
	TypeVocab    int     `json:"type_vocab_size"`
	Vocab        int     `json:"vocab_size"`
	ModelType    string  `json:"model_type"`
}

type stTensor struct {
	DType   string   `json:"dtype"`
	Shape   []uint64 `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// tensorName maps a Hugging Face BERT tensor name to llama.cpp's; "" for
// tensors the engine does not use (position ids, the pooler).
func tensorName(hf string) string {
	fixed := map[string]string{
		"embeddings.word_embeddings.weight":       "token_embd.weight",
		"embeddings.position_embeddings.weight":   "position_embd.weight",
		"embeddings.token_type_embeddings.weight": "token_types.weight",
		"embeddings.LayerNorm.weight":             "token_embd_norm.weight",
		"embeddings.LayerNorm.bias":               "token_embd_norm.bias",
	}
	if n, ok := fixed[hf]; ok {
		return n
	}
	rest, ok := strings.CutPrefix(hf, "encoder.layer.")
	if !ok {
		return ""
	}
	layer, rest, ok := strings.Cut(rest, ".")
	if !ok {
		return ""
	}
	part, suffix := rest, ""
	if i := strings.LastIndexByte(rest, '.'); i >= 0 {
		part, suffix = rest[:i], rest[i:]
	}
	names := map[string]string{
		"attention.self.query":       "attn_q",
		"attention.self.key":         "attn_k",
		"attention.self.value":       "attn_v",
		"attention.output.dense":     "attn_output",
		"attention.output.LayerNorm": "attn_output_norm",
		"intermediate.dense":         "ffn_up",
		"output.dense":               "ffn_down",
		"output.LayerNorm":           "layer_output_norm",
	}
	n, ok := names[part]
	if !ok {
		return ""
	}
	return "blk." + layer + "." + n + suffix
}

// Convert reads the model directory and writes the GGUF to out.
func Convert(dir string, card []KV, out io.Writer) error {
	var cfg bertConfig
	if err := readJSON(filepath.Join(dir, "config.json"), &cfg); err != nil {
		return err
	}
	if cfg.ModelType != "bert" {
		return fmt.Errorf("ggufconv: model_type %q, want bert", cfg.ModelType)
	}
	vocab, err := readVocab(filepath.Join(dir, "vocab.txt"))
	if err != nil {
		return err
	}
	if len(vocab) != cfg.Vocab {
		return fmt.Errorf("ggufconv: vocab.txt has %d tokens, config %d", len(vocab), cfg.Vocab)
	}
	st, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return err
	}
	if len(st) < 8 {
		return fmt.Errorf("ggufconv: model.safetensors too short")
	}
	hlen := binary.LittleEndian.Uint64(st[:8])
	if hlen > uint64(len(st)-8) {
		return fmt.Errorf("ggufconv: bad safetensors header length")
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(st[8:8+hlen], &header); err != nil {
		return fmt.Errorf("ggufconv: safetensors header: %w", err)
	}
	body := st[8+hlen:]

	w := &writer{}
	w.card(card)
	w.u32("bert.block_count", uint32(cfg.Layers))
	w.u32("bert.context_length", uint32(cfg.MaxPos))
	w.u32("bert.embedding_length", uint32(cfg.Hidden))
	w.u32("bert.feed_forward_length", uint32(cfg.Intermediate))
	w.u32("bert.attention.head_count", uint32(cfg.Heads))
	w.f32("bert.attention.layer_norm_epsilon", float32(cfg.Eps))
	w.u32("general.file_type", 1) // MOSTLY_F16
	w.boolean("bert.attention.causal", false)
	w.u32("bert.pooling_type", 1) // mean, from 1_Pooling
	w.u32("general.quantization_version", 2)
	w.u32("tokenizer.ggml.token_type_count", uint32(cfg.TypeVocab))
	w.string("tokenizer.ggml.model", "bert")
	w.string("tokenizer.ggml.pre", "jina-v2-en")
	special := map[string]bool{"[PAD]": true, "[UNK]": true, "[CLS]": true, "[SEP]": true, "[MASK]": true}
	tokens := make([]string, len(vocab))
	types := make([]int32, len(vocab))
	id := map[string]int{}
	for i, t := range vocab {
		id[t] = i
		switch {
		case special[t]:
			tokens[i], types[i] = t, 3 // control
		case strings.HasPrefix(t, "##"):
			tokens[i], types[i] = t[2:], 1
		default:
			tokens[i], types[i] = "\u2581"+t, 1 // the phantom space of a word start
		}
	}
	w.strings("tokenizer.ggml.tokens", tokens)
	w.int32s("tokenizer.ggml.token_type", types)
	for _, s := range []struct{ key, tok string }{
		{"tokenizer.ggml.bos_token_id", "[CLS]"}, {"tokenizer.ggml.eos_token_id", "[SEP]"},
		{"tokenizer.ggml.unknown_token_id", "[UNK]"}, {"tokenizer.ggml.seperator_token_id", "[SEP]"},
		{"tokenizer.ggml.padding_token_id", "[PAD]"}, {"tokenizer.ggml.mask_token_id", "[MASK]"},
	} {
		i, ok := id[s.tok]
		if !ok {
			return fmt.Errorf("ggufconv: vocab.txt lacks %s", s.tok)
		}
		w.u32(s.key, uint32(i))
	}
	w.boolean("tokenizer.ggml.add_bos_token", true)
	w.boolean("tokenizer.ggml.add_eos_token", true)
	w.boolean("tokenizer.ggml.add_sep_token", false)
	w.boolean("tokenizer.ggml.normalizer.lowercase", true)
	if w.err != nil {
		return w.err
	}

	// Tensors, in the safetensors' sorted name order.
	names := make([]string, 0, len(header))
	for k := range header {
		if k != "__metadata__" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	type tensor struct {
		name string
		dims []uint64 // ggml order: innermost first
		typ  uint32
		data []byte
	}
	var ts []tensor
	for _, hf := range names {
		name := tensorName(hf)
		if name == "" {
			continue
		}
		var t stTensor
		if err := json.Unmarshal(header[hf], &t); err != nil {
			return fmt.Errorf("ggufconv: %s: %w", hf, err)
		}
		if t.DType != "F32" || t.Offsets[0] < 0 || t.Offsets[1] > int64(len(body)) || t.Offsets[0] > t.Offsets[1] {
			return fmt.Errorf("ggufconv: %s: dtype %s or offsets out of range", hf, t.DType)
		}
		raw := body[t.Offsets[0]:t.Offsets[1]]
		dims := make([]uint64, len(t.Shape))
		for i, d := range t.Shape {
			dims[len(t.Shape)-1-i] = d
		}
		tt := tensor{name: name, dims: dims, typ: ggmlF32, data: raw}
		if len(t.Shape) == 2 && name != "position_embd.weight" && name != "token_types.weight" {
			tt.typ, tt.data = ggmlF16, toF16(raw)
		}
		ts = append(ts, tt)
	}

	var hdr bytes.Buffer
	hdr.WriteString("GGUF")
	binary.Write(&hdr, binary.LittleEndian, uint32(3))
	binary.Write(&hdr, binary.LittleEndian, uint64(len(ts)))
	binary.Write(&hdr, binary.LittleEndian, w.n)
	hdr.Write(w.b.Bytes())
	var off uint64
	for _, t := range ts {
		binary.Write(&hdr, binary.LittleEndian, uint64(len(t.name)))
		hdr.WriteString(t.name)
		binary.Write(&hdr, binary.LittleEndian, uint32(len(t.dims)))
		for _, d := range t.dims {
			binary.Write(&hdr, binary.LittleEndian, d)
		}
		binary.Write(&hdr, binary.LittleEndian, t.typ)
		binary.Write(&hdr, binary.LittleEndian, off)
		off += pad(uint64(len(t.data)))
	}
	hdr.Write(make([]byte, pad(uint64(hdr.Len()))-uint64(hdr.Len())))
	bw := bufio.NewWriterSize(out, 1<<20)
	if _, err := bw.Write(hdr.Bytes()); err != nil {
		return err
	}
	for _, t := range ts {
		if _, err := bw.Write(t.data); err != nil {
			return err
		}
		if _, err := bw.Write(make([]byte, pad(uint64(len(t.data)))-uint64(len(t.data)))); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func pad(n uint64) uint64 { return (n + alignment - 1) / alignment * alignment }

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func readVocab(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, "\r")
	}
	return lines, nil
}

// toF16 converts little-endian float32s to float16s, rounding to nearest
// even (as numpy's astype(float16)).
func toF16(raw []byte) []byte {
	out := make([]byte, len(raw)/2)
	for i := 0; i+4 <= len(raw); i += 4 {
		binary.LittleEndian.PutUint16(out[i/2:], f32to16(math.Float32frombits(binary.LittleEndian.Uint32(raw[i:]))))
	}
	return out
}

func f32to16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	switch {
	case exp == 0xff: // Inf, NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp-127+15 >= 0x1f: // overflow
		return sign | 0x7c00
	case exp-127+15 <= 0: // subnormal or zero in half precision
		e := exp - 127 + 15
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint32(14 - e)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	default:
		e := uint32(exp - 127 + 15)
		h := e<<10 | mant>>13
		rem := mant & 0x1fff
		if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
			h++ // may carry into the exponent, which is right
		}
		return sign | uint16(h)
	}
}
