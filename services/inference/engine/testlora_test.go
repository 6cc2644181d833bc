package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"os"
)

// writeTestLoRA writes a minimal, valid llama.cpp LoRA adapter GGUF (v3) for a
// llama-architecture base: random F32 lora_a/lora_b pairs on attn_q of the
// first nLayer blocks (base weight ne = [nEmbd, nEmbd]). It lets the tests
// exercise the multi-LoRA path without a trained adapter. std is the standard
// deviation of the random values (large values perturb the output visibly).
func writeTestLoRA(path, arch string, nLayer, nEmbd, rank int, std float64, seed int64) error {
	type tensor struct {
		name string
		ne   []uint64
		data []float32
	}
	rng := rand.New(rand.NewSource(seed))
	randn := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * std)
		}
		return v
	}
	var ts []tensor
	for l := 0; l < nLayer; l++ {
		base := fmt.Sprintf("blk.%d.attn_q.weight", l)
		ts = append(ts,
			tensor{base + ".lora_a", []uint64{uint64(nEmbd), uint64(rank)}, randn(nEmbd * rank)},
			tensor{base + ".lora_b", []uint64{uint64(rank), uint64(nEmbd)}, randn(rank * nEmbd)},
		)
	}
	var b bytes.Buffer
	le := binary.LittleEndian
	w := func(v any) { _ = binary.Write(&b, le, v) }
	str := func(s string) { w(uint64(len(s))); b.WriteString(s) }
	const (
		typeF32    = 6 // gguf value types
		typeString = 8
		align      = 32
	)
	b.WriteString("GGUF")
	w(uint32(3))
	w(uint64(len(ts)))
	w(uint64(4))
	str("general.architecture")
	w(uint32(typeString))
	str(arch)
	str("general.type")
	w(uint32(typeString))
	str("adapter")
	str("adapter.type")
	w(uint32(typeString))
	str("lora")
	str("adapter.lora.alpha")
	w(uint32(typeF32))
	w(float32(rank))
	var off uint64
	for _, t := range ts {
		str(t.name)
		w(uint32(len(t.ne)))
		for _, d := range t.ne {
			w(d)
		}
		w(uint32(0)) // GGML_TYPE_F32
		w(off)
		off += uint64(len(t.data) * 4)
		off = (off + align - 1) / align * align
	}
	for b.Len()%align != 0 {
		b.WriteByte(0)
	}
	for _, t := range ts {
		for _, f := range t.data {
			w(math.Float32bits(f))
		}
		for b.Len()%align != 0 {
			b.WriteByte(0)
		}
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
