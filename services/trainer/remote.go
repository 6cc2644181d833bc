package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/client"
)

// RetrievalChunks reads chunks through retrieval ListChunks.
type RetrievalChunks struct {
	Client retrievalv1.RetrievalServiceClient
}

// Chunks implements ChunkSource.
func (r RetrievalChunks) Chunks(ctx context.Context, collection string) ([]Chunk, error) {
	var out []Chunk
	tok := ""
	for {
		resp, err := r.Client.ListChunks(ctx, &retrievalv1.ListChunksRequest{Collection: collection, PageSize: 500, PageToken: tok})
		if err != nil {
			return nil, fmt.Errorf("list chunks of %q: %w", collection, err)
		}
		for _, p := range resp.GetChunks() {
			out = append(out, Chunk{ID: p.GetChunkId(), DocumentID: p.GetDocumentId(), Text: p.GetText()})
		}
		if tok = resp.GetNextPageToken(); tok == "" {
			return out, nil
		}
	}
}

// InferenceQA generates pairs answer-first through inference Generate: the
// seed picks a (sentence, figure) candidate of the passage and the model
// writes the question that the sentence answers with that figure.
type InferenceQA struct {
	Client      inferencev1.InferenceServiceClient
	Temperature float32
	MaxTokens   int32
}

// ErrNoCandidate: the passage states no figure to ask about.
var ErrNoCandidate = errors.New("passage has no answer candidate")

// Settings implements QAGenerator.
func (g InferenceQA) Settings() map[string]string {
	return map[string]string{
		"model":          "default chat model of the inference service",
		"temperature":    fmt.Sprint(g.temp()),
		"max_tokens":     fmt.Sprint(g.maxTokens()),
		"prompt_version": QAPromptVersion,
		"answers":        "figures cut from the passage (answer-first)",
	}
}

func (g InferenceQA) temp() float32 {
	if g.Temperature == 0 {
		return 0.2
	}
	return g.Temperature
}

func (g InferenceQA) maxTokens() int32 {
	if g.MaxTokens == 0 {
		return 40
	}
	return g.MaxTokens
}

// Applicable reports whether the passage has an answer candidate.
func (g InferenceQA) Applicable(passage string) bool { return len(Candidates(passage)) > 0 }

// Generate implements QAGenerator.
func (g InferenceQA) Generate(ctx context.Context, passage string, seed int64) (QA, error) {
	cands := Candidates(passage)
	if len(cands) == 0 {
		return QA{}, ErrNoCandidate
	}
	c := cands[int(uint64(seed)%uint64(len(cands)))]
	t := g.temp()
	prompt := QAPrompt + "Sentence: " + c.Sentence + "\nAnswer: " + c.Answer + "\nQuestion:"
	st, err := g.Client.Generate(ctx, &inferencev1.GenerateRequest{
		Messages:    []*inferencev1.ChatMessage{{Role: inferencev1.Role_ROLE_USER, Content: prompt}},
		Temperature: &t, Seed: &seed, MaxTokens: g.maxTokens(), Stop: []string{"\n"},
	})
	if err != nil {
		return QA{}, err
	}
	text, err := client.Text(st, nil)
	if err != nil {
		return QA{}, err
	}
	return QA{Question: cleanQuestion(text), Answer: c.Answer, Sentence: c.Sentence}, nil
}

// cleanQuestion strips what small models put around a question.
func cleanQuestion(s string) string {
	s = strings.TrimSpace(s)
	for _, p := range []string{"Question:", "question:", "Q:"} {
		s = strings.TrimSpace(strings.TrimPrefix(s, p))
	}
	if i := strings.Index(s, "?"); i >= 0 {
		s = s[:i+1]
	}
	return strings.Trim(s, "\"' ")
}

// InferenceAdapters loads adapters through inference LoadAdapter, uploading
// the converted file's bytes: inference opens no path of the trainer's (its
// adapters live under its own adapter root), so publishing works whichever
// machine and directory each runs in.
type InferenceAdapters struct {
	Client inferencev1.InferenceServiceClient
}

// maxAdapterBytes is inference's bound on an uploaded adapter
// (inference.MaxAdapterBytes; the trainer does not link inference).
const maxAdapterBytes = 192 << 20

// Load implements AdapterLoader.
func (a InferenceAdapters) Load(ctx context.Context, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAdapterBytes+1))
	if err != nil {
		return err
	}
	if len(b) > maxAdapterBytes {
		return fmt.Errorf("%w: adapter %s is over %d bytes", ErrInvalid, filepath.Base(path), maxAdapterBytes)
	}
	_, err = a.Client.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: name, Content: b})
	return err
}
