package openai

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pdfqa/pdfqa/services/gateway/clientwire"
)

// The OpenAI wire format, as much of it as pdfqa reads and writes. Unknown
// request fields are ignored; the pdfqa fields of responses are extensions
// that OpenAI clients keep as extra data.

type chatRequest struct {
	Model         string         `json:"model"`
	Messages      []message      `json:"messages"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options,omitempty"`
	N             *int           `json:"n,omitempty"`
	User          string         `json:"user,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type message struct {
	Role    string  `json:"role"`
	Content content `json:"content"`
}

// content is a message's text: a string, or an array of parts of which
// only text parts are accepted.
type content struct {
	text string
	// bad names a part type pdfqa does not take ("" when all are text).
	bad string
}

func (c *content) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &c.text)
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return fmt.Errorf("content must be a string or an array of content parts")
	}
	var sb strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			if c.bad == "" {
				c.bad = p.Type
			}
			continue
		}
		if sb.Len() > 0 {
			sb.WriteString("\n")
		}
		sb.WriteString(p.Text)
	}
	c.text = sb.String()
	return nil
}

type chatCompletion struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []choice `json:"choices"`
	Usage   *usage   `json:"usage,omitempty"`
}

type choice struct {
	Index        int              `json:"index"`
	Message      *responseMessage `json:"message,omitempty"`
	Delta        *responseMessage `json:"delta,omitempty"`
	FinishReason *string          `json:"finish_reason"`
	Logprobs     *struct{}        `json:"logprobs"`
}

// responseMessage is an assistant message (or a chunk's delta); Pdfqa is
// the extension with the answer's structured citations.
type responseMessage struct {
	Role    string     `json:"role,omitempty"`
	Content *string    `json:"content,omitempty"`
	Pdfqa   *extension `json:"pdfqa,omitempty"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// extension is what pdfqa adds to an answer.
type extension struct {
	RunID      string                `json:"run_id"`
	Collection string                `json:"collection"`
	Adapter    string                `json:"adapter,omitempty"`
	Citations  []clientwire.Citation `json:"citations"`
	// SupportScore is the verifier's fraction of supported claims (agentic runs).
	SupportScore *float32 `json:"support_score,omitempty"`
	// Degraded: the answer was built without the language model.
	Degraded bool   `json:"degraded,omitempty"`
	Note     string `json:"note,omitempty"`
}

type model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

type modelList struct {
	Object string  `json:"object"`
	Data   []model `json:"data"`
}

type errorBody struct {
	Error apiError `json:"error"`
}

type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}
