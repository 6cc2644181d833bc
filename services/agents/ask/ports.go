// Package ask answers one question over a collection: plan, research in
// parallel, pack context, answer with citations and verify, degrading to an
// extractive answer when the language model is unavailable.
//
// Engine.Invoke drives one run: its life (created → running → succeeded,
// failed or cancelled), timings, scratchpad, saves and events are
// liveRun's (run.go); the stages it goes through are question's methods
// (question.go), the researchers' in research.go.
package ask

import (
	"context"
	"errors"
	"time"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// Domain errors; the service maps them to gRPC codes in one table.
var (
	// ErrInvalid is a malformed request.
	ErrInvalid = errors.New("invalid request")
	// ErrRetrieval means the retrieval service could not be searched.
	ErrRetrieval = errors.New("retrieval unavailable")
	// ErrNotFound means the collection (or a document named in the
	// request) does not exist for the caller: Searcher implementations
	// return it wrapped when the retrieval service says so.
	ErrNotFound = errors.New("not found")
)

// Role is who wrote a chat message.
type Role string

// Chat roles.
const (
	System    Role = "system"
	User      Role = "user"
	Assistant Role = "assistant"
)

// Message is one chat turn; Images go only to vision models.
type Message struct {
	Role    Role
	Content string
	Images  []Image
}

// Image is an encoded picture sent with a message.
type Image struct {
	Data     []byte
	MIMEType string
}

// GenerateRequest is one completion.
type GenerateRequest struct {
	Messages   []Message
	MaxTokens  int
	JSONSchema string
	Adapter    string
	Stop       []string
	// Timeout bounds the whole call; the adapter applies it.
	Timeout time.Duration
}

// LLM is the language model as the agents see it.
type LLM interface {
	// Generate streams a completion to onDelta (may be nil) and returns the full text.
	Generate(ctx context.Context, req GenerateRequest, onDelta func(string)) (string, error)
	// CountTokens counts the tokens of text and reports the model's context window.
	CountTokens(ctx context.Context, text string) (count, window int, err error)
}

// VisionLLM is an LLM that can tell whether its chat model accepts images.
// An LLM that does not implement it is taken as text-only.
type VisionLLM interface {
	Vision(ctx context.Context) (bool, error)
}

// PageRenderer renders one page of a document as a PNG (the retrieval
// service's RenderPage).
type PageRenderer interface {
	RenderPage(ctx context.Context, collection, documentID string, page int) ([]byte, error)
}

// SearchRequest is one retrieval query.
type SearchRequest struct {
	Collection  string
	Query       string
	TopK        int
	DocumentIDs []string
	// MaxPerDocument caps the passages of one document (0: no cap).
	MaxPerDocument int
}

// Searcher is the retrieval service as the agents see it.
type Searcher interface {
	Search(ctx context.Context, req SearchRequest) ([]*retrievalv1.Passage, error)
}

// DocumentLister lists a collection's documents with their cards (issuer,
// form, period): the retrieval service's ListDocuments.
type DocumentLister interface {
	ListDocuments(ctx context.Context, collection string) ([]*retrievalv1.Document, error)
}
