package pdfqa

import (
	"context"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/client"
)

// The contracts' types, used as they are.
type (
	GenerateRequest  = inferencev1.GenerateRequest
	GenerateResponse = inferencev1.GenerateResponse
	ChatMessage      = inferencev1.ChatMessage
	EmbedResponse    = inferencev1.EmbedResponse
)

// Generate runs the served language model directly (an operator call: it
// needs an admin key), calling each (if not nil) with every chunk as it
// streams; it returns the whole text, and with an error the text so far.
// Ask is how questions are answered; this is the model without documents.
func (c *Client) Generate(ctx context.Context, req *GenerateRequest, each func(*GenerateResponse)) (string, error) {
	if len(req.GetMessages()) == 0 {
		return "", invalid("generate: no messages")
	}
	st, err := c.inference.Generate(c.call(ctx), req)
	if err != nil {
		return "", wrap(err)
	}
	text, err := client.Text(st, each)
	return text, wrap(err)
}

// Embed returns the served embedding model's vectors of texts (an operator
// call: it needs an admin key).
func (c *Client) Embed(ctx context.Context, texts ...string) (*EmbedResponse, error) {
	if len(texts) == 0 {
		return nil, invalid("embed: no texts")
	}
	r, err := c.inference.Embed(c.call(ctx), &inferencev1.EmbedRequest{Texts: texts})
	if err != nil {
		return nil, wrap(err)
	}
	return r, nil
}
