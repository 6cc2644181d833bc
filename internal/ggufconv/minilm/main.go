// Command minilm converts the pinned all-MiniLM-L6-v2 model directory to
// GGUF f16 (package ggufconv), as scripts/setup/fetch-models.sh runs it:
//
//	go run ./internal/ggufconv/minilm -card scripts/setup/minilm-gguf-card.json -model DIR -out FILE.gguf
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/pdfqa/pdfqa/internal/ggufconv"
)

func main() {
	card := flag.String("card", "scripts/setup/minilm-gguf-card.json", "the model card's general.* metadata (JSON)")
	model := flag.String("model", "", "model directory: config.json, model.safetensors, vocab.txt")
	out := flag.String("out", "", "GGUF file to write")
	flag.Parse()
	if err := run(*card, *model, *out); err != nil {
		fmt.Fprintln(os.Stderr, "minilm:", err)
		os.Exit(1)
	}
}

func run(cardPath, model, out string) error {
	if model == "" || out == "" {
		return fmt.Errorf("usage: minilm -model DIR -out FILE.gguf [-card FILE]")
	}
	b, err := os.ReadFile(cardPath)
	if err != nil {
		return err
	}
	var card []ggufconv.KV
	if err := json.Unmarshal(b, &card); err != nil {
		return fmt.Errorf("%s: %w", cardPath, err)
	}
	f, err := os.Create(out + ".tmp")
	if err != nil {
		return err
	}
	if err := ggufconv.Convert(model, card, f); err != nil {
		f.Close()
		os.Remove(out + ".tmp")
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(out+".tmp", out)
}
