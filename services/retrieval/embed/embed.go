// Package embed turns chunk texts into vectors through the inference
// service's Embed RPC.
package embed

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/vec"
)

// Embedder embeds texts into L2-normalised vectors, one per text, in order.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// ErrUnavailable: the embedding backend is down or does not serve Embed
// yet. Ingestion then indexes keyword-only and warns on the document.
var ErrUnavailable = errors.New("embeddings unavailable")

// BatchSize is the number of texts per Embed call.
const BatchSize = 32

// Inference embeds through the inference service.
type Inference struct {
	Clients *client.Factory
	// Model is the inference model to embed with: "static" (the static
	// table distilled from MiniLM: fast, the default for ingestion) or ""
	// (the contextual MiniLM engine).
	Model string
	// Downstream is the inference service as the registry describes it
	// (set its Address to dial a fixed address instead of resolving through etcd).
	Downstream client.Downstream
}

// ModelName returns the model requested from the inference service.
func (e *Inference) ModelName() string { return e.Model }

// ModelName returns the model name of emb for the documents it embeds: its
// ModelName method's answer, else "".
func ModelName(emb Embedder) string {
	if n, ok := emb.(interface{ ModelName() string }); ok {
		return n.ModelName()
	}
	return ""
}

// Embed implements Embedder, calling Embed in batches of BatchSize.
func (e *Inference) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if e.Clients == nil {
		return nil, fmt.Errorf("%w: no client factory", ErrUnavailable)
	}
	if e.Downstream.Service == "" {
		return nil, fmt.Errorf("%w: no inference downstream", ErrUnavailable)
	}
	conn, err := e.Clients.Conn(e.Downstream)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	cl := inferencev1.NewInferenceServiceClient(conn)
	out := make([][]float32, 0, len(texts))
	for i := 0; i < len(texts); i += BatchSize {
		batch := texts[i:min(i+BatchSize, len(texts))]
		resp, err := cl.Embed(ctx, &inferencev1.EmbedRequest{Texts: batch, Model: e.Model})
		if err != nil {
			switch status.Code(err) {
			case codes.Unavailable, codes.Unimplemented, codes.FailedPrecondition:
				return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
			}
			return nil, err
		}
		if len(resp.Embeddings) != len(batch) {
			return nil, fmt.Errorf("embed: %d vectors for %d texts", len(resp.Embeddings), len(batch))
		}
		for _, v := range resp.Embeddings {
			out = append(out, v.Values)
		}
	}
	return out, nil
}

// Hash is a deterministic hashed bag-of-words embedder. It stands in for
// the inference service ONLY in unit tests and benchmarks: it has no
// semantics beyond shared words.
type Hash struct{ Dim int }

// Embed implements Embedder.
func (h Hash) Embed(_ context.Context, texts []string) ([][]float32, error) {
	dim := h.Dim
	if dim <= 0 {
		dim = 384
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, dim)
		for _, w := range strings.FieldsFunc(strings.ToLower(t), func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
		}) {
			f := fnv.New32a()
			f.Write([]byte(w))
			v[f.Sum32()%uint32(dim)]++
		}
		Normalize(v)
		out[i] = v
	}
	return out, nil
}

// Normalize scales v to unit length in place (zero vectors stay zero).
func Normalize(v []float32) { vec.Normalize(v) }
