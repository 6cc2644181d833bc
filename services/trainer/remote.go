package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
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

// InferenceQA generates pairs through inference Generate with QASchema.
type InferenceQA struct {
	Client      inferencev1.InferenceServiceClient
	Temperature float32
	MaxTokens   int32
}

// Settings implements QAGenerator.
func (g InferenceQA) Settings() map[string]string {
	return map[string]string{
		"model":          "default chat model of the inference service",
		"temperature":    fmt.Sprint(g.temp()),
		"max_tokens":     fmt.Sprint(g.maxTokens()),
		"prompt_version": QAPromptVersion,
		"json_schema":    QASchema,
	}
}

func (g InferenceQA) temp() float32 {
	if g.Temperature == 0 {
		return 0.7
	}
	return g.Temperature
}

func (g InferenceQA) maxTokens() int32 {
	if g.MaxTokens == 0 {
		return 160
	}
	return g.MaxTokens
}

// Generate implements QAGenerator.
func (g InferenceQA) Generate(ctx context.Context, passage string, seed int64) (QA, error) {
	t := g.temp()
	st, err := g.Client.Generate(ctx, &inferencev1.GenerateRequest{
		Messages:    []*inferencev1.ChatMessage{{Role: inferencev1.Role_ROLE_USER, Content: QAPrompt + passage}},
		Temperature: &t, Seed: &seed, MaxTokens: g.maxTokens(), JsonSchema: QASchema,
	})
	if err != nil {
		return QA{}, err
	}
	var b strings.Builder
	for {
		r, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return QA{}, err
		}
		b.WriteString(r.GetDelta())
	}
	return parseQA(b.String())
}

// InferenceAdapters loads adapters through inference LoadAdapter.
type InferenceAdapters struct {
	Client inferencev1.InferenceServiceClient
}

// Load implements AdapterLoader.
func (a InferenceAdapters) Load(ctx context.Context, name, path string) error {
	_, err := a.Client.LoadAdapter(ctx, &inferencev1.LoadAdapterRequest{Name: name, Path: path})
	return err
}
