package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pdfqa/pdfqa/platform/telemetry"
	"github.com/pdfqa/pdfqa/platform/vec"
	"io"
	"math"
	"net/http"
	"strings"
)

// Endpoint hands out the base URL of a serving engine. *Supervisor implements
// it; StaticEndpoint points at an externally managed llama-server.
type Endpoint interface {
	// Acquire returns the base URL and a release func to call when the request
	// is finished, or an error wrapping ErrUnavailable.
	Acquire() (baseURL string, release func(), err error)
}

// StaticEndpoint is a fixed llama-server base URL, e.g. "http://127.0.0.1:8080".
type StaticEndpoint string

// Acquire implements Endpoint.
func (e StaticEndpoint) Acquire() (string, func(), error) {
	return strings.TrimRight(string(e), "/"), func() {}, nil
}

// Client is a typed client for the subset of the llama-server HTTP API the
// inference service uses (checked against tools/server/README.md of the
// vendored llama.cpp in llama-cpp-python 0.3.36).
type Client struct {
	ep   Endpoint
	http *http.Client
	// EmbedBatch is the maximum number of inputs per /v1/embeddings request
	// (default 32).
	EmbedBatch int
	// Model is sent as the request's "model" (needed by OpenAI-compatible
	// upstreams; llama-server serves its one model whatever it says).
	Model string
}

// NewClient returns a client for ep. httpClient may be nil (a client without
// overall timeout is used: bound requests with their context).
func NewClient(ep Endpoint, httpClient *http.Client) *Client {
	if httpClient == nil {
		// No keep-alive: llama-server may close a connection right after a
		// streamed response, and a POST sent on that pooled connection fails
		// with EOF (Go does not replay POSTs). A fresh loopback connection per
		// request costs ~0.1 ms. Each request is a client span under the
		// caller's (its traceparent sent).
		httpClient = &http.Client{Transport: telemetry.HTTPClientTracing(&http.Transport{DisableKeepAlives: true})}
	}
	return &Client{ep: ep, http: httpClient, EmbedBatch: 32}
}

// ---- chat ------------------------------------------------------------------

// Message is one chat turn. A message with Images is sent as OpenAI
// "content parts" (see MarshalJSON); only vision models accept it.
type Message struct {
	Role    string  `json:"role"` // system, user, assistant
	Content string  `json:"content"`
	Images  []Image `json:"-"`
}

// Image is an encoded picture sent with a message.
type Image struct {
	Data     []byte
	MIMEType string // e.g. "image/png"
}

// MarshalJSON encodes a message without images as {"role","content":string}
// and one with images as OpenAI content parts: a text part, then one
// image_url part per image carrying a base64 data URL.
func (m Message) MarshalJSON() ([]byte, error) {
	if len(m.Images) == 0 {
		return json.Marshal(struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		}{m.Role, m.Content})
	}
	type imageURL struct {
		URL string `json:"url"`
	}
	type part struct {
		Type     string    `json:"type"`
		Text     string    `json:"text,omitempty"`
		ImageURL *imageURL `json:"image_url,omitempty"`
	}
	parts := make([]part, 0, len(m.Images)+1)
	if m.Content != "" {
		parts = append(parts, part{Type: "text", Text: m.Content})
	}
	for _, im := range m.Images {
		mime := im.MIMEType
		if mime == "" {
			mime = "image/png"
		}
		parts = append(parts, part{Type: "image_url", ImageURL: &imageURL{URL: "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(im.Data)}})
	}
	return json.Marshal(struct {
		Role    string `json:"role"`
		Content []part `json:"content"`
	}{m.Role, parts})
}

// HasImages reports whether any message carries images.
func HasImages(msgs []Message) bool {
	for _, m := range msgs {
		if len(m.Images) > 0 {
			return true
		}
	}
	return false
}

// LoRA selects an adapter loaded by the engine (id = position in the
// supervisor's LoRAs) with a scale. Adapters not listed get scale 0.
type LoRA struct {
	ID    int     `json:"id"`
	Scale float64 `json:"scale"`
}

// ResponseFormat is the OpenAI-style response_format: Type "json_object"
// (optionally with Schema), "json_schema" (with Schema; sent as OpenAI's
// {"type":"json_schema","json_schema":{"schema":...}}) or "text".
type ResponseFormat struct {
	Type   string
	Schema json.RawMessage
}

// MarshalJSON encodes the shapes llama-server accepts (server-common.cpp).
func (f ResponseFormat) MarshalJSON() ([]byte, error) {
	type jsonObject struct {
		Type   string          `json:"type"`
		Schema json.RawMessage `json:"schema,omitempty"`
	}
	type jsonSchema struct {
		Type       string `json:"type"`
		JSONSchema struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema,omitempty"`
		} `json:"json_schema"`
	}
	if f.Type == "json_schema" {
		v := jsonSchema{Type: f.Type}
		v.JSONSchema.Name = "response"
		v.JSONSchema.Schema = f.Schema
		return json.Marshal(v)
	}
	return json.Marshal(jsonObject(f))
}

// ChatRequest is a /v1/chat/completions request. Pointer fields are sent only
// when set, so 0 is a real value (Temperature: Ptr(0.0) means greedy).
type ChatRequest struct {
	Messages    []Message
	Temperature *float64
	TopP        *float64
	TopK        *int
	MaxTokens   int // 0 = engine default (until EOS or context full)
	Stop        []string
	Seed        *int64
	// JSONSchema constrains output to the schema (llama.cpp's json_schema
	// field, grammar-based). ResponseFormat is the OpenAI-style alternative.
	JSONSchema     json.RawMessage
	ResponseFormat *ResponseFormat
	// LoRA applies adapters to this request only.
	LoRA []LoRA
	// CachePrompt toggles KV prefix reuse (engine default true). Disable it for
	// bit-exact reproducibility across different prompts.
	CachePrompt *bool
}

// Ptr returns a pointer to v (for the optional request fields).
func Ptr[T any](v T) *T { return &v }

type chatBody struct {
	Model          string          `json:"model,omitempty"`
	Messages       []Message       `json:"messages"`
	Stream         bool            `json:"stream"`
	StreamOptions  *streamOptions  `json:"stream_options,omitempty"`
	Temperature    *float64        `json:"temperature,omitempty"`
	TopP           *float64        `json:"top_p,omitempty"`
	TopK           *int            `json:"top_k,omitempty"`
	MaxTokens      int             `json:"max_tokens,omitempty"`
	Stop           []string        `json:"stop,omitempty"`
	Seed           *int64          `json:"seed,omitempty"`
	JSONSchema     json.RawMessage `json:"json_schema,omitempty"`
	ResponseFormat *ResponseFormat `json:"response_format,omitempty"`
	LoRA           []LoRA          `json:"lora,omitempty"`
	CachePrompt    *bool           `json:"cache_prompt,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Usage is the OpenAI usage block.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Timings is llama-server's per-request timing block.
type Timings struct {
	CacheN              int     `json:"cache_n"`
	PromptN             int     `json:"prompt_n"`
	PromptMS            float64 `json:"prompt_ms"`
	PromptPerSecond     float64 `json:"prompt_per_second"`
	PredictedN          int     `json:"predicted_n"`
	PredictedMS         float64 `json:"predicted_ms"`
	PredictedPerSecond  float64 `json:"predicted_per_second"`
	PredictedPerTokenMS float64 `json:"predicted_per_token_ms"`
}

// ChatResult is the outcome of a completed chat completion.
type ChatResult struct {
	ID           string
	Model        string
	Text         string
	FinishReason string // "stop", "length", ...
	Usage        Usage
	Timings      *Timings
	Deltas       int // number of content deltas streamed
}

type chunk struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage   *Usage          `json:"usage"`
	Timings *Timings        `json:"timings"`
	Error   json.RawMessage `json:"error"`
}

// ChatStream runs a streaming chat completion, calling onDelta with each
// content fragment as it is generated (onDelta may be nil). Returning an error
// from onDelta aborts the request; cancelling ctx closes the connection, which
// makes llama-server stop generating for it.
func (c *Client) ChatStream(ctx context.Context, req ChatRequest, onDelta func(string) error) (*ChatResult, error) {
	if len(req.Messages) == 0 {
		return nil, fmt.Errorf("%w: no messages", ErrBadRequest)
	}
	if err := c.checkLoRA(req.LoRA); err != nil {
		return nil, err
	}
	body := chatBody{
		Model:    c.Model,
		Messages: req.Messages, Stream: true, StreamOptions: &streamOptions{IncludeUsage: true},
		Temperature: req.Temperature, TopP: req.TopP, TopK: req.TopK, MaxTokens: req.MaxTokens,
		Stop: req.Stop, Seed: req.Seed, JSONSchema: req.JSONSchema, ResponseFormat: req.ResponseFormat,
		LoRA: req.LoRA, CachePrompt: req.CachePrompt,
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // closes the connection if we stop reading early
	resp, release, err := c.do(ctx, http.MethodPost, "/v1/chat/completions", body, "text/event-stream")
	if err != nil {
		return nil, err
	}
	defer release()
	defer resp.Body.Close()

	res := &ChatResult{}
	var text strings.Builder
	done := false
	err = readSSE(resp.Body, func(data []byte) (bool, error) {
		if bytes.Equal(data, []byte("[DONE]")) {
			done = true
			return true, nil
		}
		var ch chunk
		if err := json.Unmarshal(data, &ch); err != nil {
			return false, fmt.Errorf("%w: bad stream chunk: %v", ErrInternal, err)
		}
		if len(ch.Error) > 0 {
			return false, decodeErrorObject(ch.Error, http.StatusInternalServerError)
		}
		if ch.ID != "" {
			res.ID = ch.ID
		}
		if ch.Model != "" {
			res.Model = ch.Model
		}
		for _, choice := range ch.Choices {
			if choice.Delta.Content != nil && *choice.Delta.Content != "" {
				text.WriteString(*choice.Delta.Content)
				res.Deltas++
				if onDelta != nil {
					if err := onDelta(*choice.Delta.Content); err != nil {
						return false, err
					}
				}
			}
			if choice.FinishReason != nil && *choice.FinishReason != "" {
				res.FinishReason = *choice.FinishReason
			}
		}
		if ch.Usage != nil {
			res.Usage = *ch.Usage
		}
		if ch.Timings != nil {
			res.Timings = ch.Timings
		}
		return false, nil
	})
	if err != nil {
		return nil, c.wrapTransport(ctx, err)
	}
	if !done && res.FinishReason == "" {
		// The stream ended without [DONE]: the engine went away mid-generation.
		return nil, fmt.Errorf("%w: stream ended before completion", ErrUnavailable)
	}
	res.Text = text.String()
	return res, nil
}

// loraLister is implemented by endpoints that know their adapter set
// (*Supervisor). llama-server silently ignores unknown adapter ids, so the
// client rejects them itself when it can.
type loraLister interface{ LoRAs() []string }

func (c *Client) checkLoRA(l []LoRA) error {
	ll, ok := c.ep.(loraLister)
	n := -1
	if ok {
		n = len(ll.LoRAs())
	}
	for _, a := range l {
		if a.ID < 0 || (n >= 0 && a.ID >= n) {
			return fmt.Errorf("%w: unknown LoRA adapter id %d (engine has %d)", ErrBadRequest, a.ID, max(n, 0))
		}
		if math.IsNaN(a.Scale) || math.IsInf(a.Scale, 0) {
			return fmt.Errorf("%w: LoRA scale %v", ErrBadRequest, a.Scale)
		}
	}
	return nil
}

// Chat runs a chat completion and returns the full result (streamed
// internally, so cancellation still stops generation promptly).
func (c *Client) Chat(ctx context.Context, req ChatRequest) (*ChatResult, error) {
	return c.ChatStream(ctx, req, nil)
}

// readSSE calls fn with the payload of each "data:" event; fn returns true to stop.
func readSSE(r io.Reader, fn func([]byte) (bool, error)) error {
	br := bufio.NewReaderSize(r, 64*1024)
	var data []byte
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			line = bytes.TrimRight(line, "\r\n")
			switch {
			case len(line) == 0: // end of event
				if data != nil {
					stop, ferr := fn(data)
					if ferr != nil || stop {
						return ferr
					}
					data = nil
				}
			case line[0] == ':': // comment / keep-alive ping
			case bytes.HasPrefix(line, []byte("data:")):
				v := bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))
				if data != nil {
					data = append(data, '\n')
				}
				data = append(data, v...)
			case bytes.HasPrefix(line, []byte("error:")):
				v := bytes.TrimSpace(bytes.TrimPrefix(line, []byte("error:")))
				return decodeErrorObject(v, http.StatusInternalServerError)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if data != nil {
					_, ferr := fn(data)
					return ferr
				}
				return nil
			}
			return err
		}
	}
}

// ---- embeddings ------------------------------------------------------------

// Embed returns one L2-normalised vector per input, in order, batching inputs
// EmbedBatch at a time through /v1/embeddings. The engine must run with
// Embedding enabled and a pooling other than none.
func (c *Client) Embed(ctx context.Context, inputs []string) ([][]float32, error) {
	out := make([][]float32, 0, len(inputs))
	bs := c.EmbedBatch
	if bs <= 0 {
		bs = 32
	}
	for start := 0; start < len(inputs); start += bs {
		end := min(start+bs, len(inputs))
		var resp struct {
			Data []struct {
				Index     int       `json:"index"`
				Embedding []float32 `json:"embedding"`
			} `json:"data"`
		}
		req := map[string]any{"input": inputs[start:end], "encoding_format": "float"}
		if c.Model != "" {
			req["model"] = c.Model
		}
		if err := c.doJSON(ctx, http.MethodPost, "/v1/embeddings", req, &resp); err != nil {
			return nil, err
		}
		if len(resp.Data) != end-start {
			return nil, fmt.Errorf("%w: %d embeddings for %d inputs", ErrInternal, len(resp.Data), end-start)
		}
		batch := make([][]float32, end-start)
		for _, d := range resp.Data {
			if d.Index < 0 || d.Index >= len(batch) || batch[d.Index] != nil {
				return nil, fmt.Errorf("%w: bad embedding index %d", ErrInternal, d.Index)
			}
			batch[d.Index] = vec.Normalize(d.Embedding)
		}
		out = append(out, batch...)
	}
	return out, nil
}

// ---- tokenizer and template ------------------------------------------------

// Tokenize returns the token ids of text (addSpecial adds BOS etc.).
func (c *Client) Tokenize(ctx context.Context, text string, addSpecial bool) ([]int, error) {
	var resp struct {
		Tokens []int `json:"tokens"`
	}
	req := map[string]any{"content": text, "add_special": addSpecial}
	if err := c.doJSON(ctx, http.MethodPost, "/tokenize", req, &resp); err != nil {
		return nil, err
	}
	return resp.Tokens, nil
}

// CountTokens returns the number of tokens of text (without special tokens).
func (c *Client) CountTokens(ctx context.Context, text string) (int, error) {
	t, err := c.Tokenize(ctx, text, false)
	return len(t), err
}

// ApplyTemplate renders messages with the model's chat template (including
// the generation prompt), without generating.
func (c *Client) ApplyTemplate(ctx context.Context, messages []Message) (string, error) {
	var resp struct {
		Prompt string `json:"prompt"`
	}
	if err := c.doJSON(ctx, http.MethodPost, "/apply-template", map[string]any{"messages": messages}, &resp); err != nil {
		return "", err
	}
	return resp.Prompt, nil
}

// ---- LoRA adapters -----------------------------------------------------------

// LoRAAdapter is an adapter loaded by the engine.
type LoRAAdapter struct {
	ID    int     `json:"id"`
	Path  string  `json:"path"`
	Scale float64 `json:"scale"`
}

// LoRAAdapters lists the engine's adapters with their global scales.
func (c *Client) LoRAAdapters(ctx context.Context) ([]LoRAAdapter, error) {
	var out []LoRAAdapter
	if err := c.doJSON(ctx, http.MethodGet, "/lora-adapters", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// SetLoRAScales sets the global adapter scales (a request's LoRA list
// overrides them for that request).
func (c *Client) SetLoRAScales(ctx context.Context, scales []LoRA) error {
	if scales == nil {
		scales = []LoRA{}
	}
	return c.doJSON(ctx, http.MethodPost, "/lora-adapters", scales, nil)
}

// Health returns nil when the engine answers /health with 200.
func (c *Client) Health(ctx context.Context) error {
	return c.doJSON(ctx, http.MethodGet, "/health", nil, nil)
}

// ---- transport -------------------------------------------------------------

func (c *Client) do(ctx context.Context, method, path string, body any, accept string) (*http.Response, func(), error) {
	base, release, err := c.ep.Acquire()
	if err != nil {
		return nil, nil, err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			release()
			return nil, nil, fmt.Errorf("%w: encode request: %v", ErrBadRequest, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		release()
		return nil, nil, c.wrapTransport(ctx, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		defer release()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64*1024))
		return nil, nil, decodeHTTPError(resp.StatusCode, b)
	}
	return resp, release, nil
}

func (c *Client) doJSON(ctx context.Context, method, path string, body, out any) error {
	resp, release, err := c.do(ctx, method, path, body, "application/json")
	if err != nil {
		return err
	}
	defer release()
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		if err != nil {
			return c.wrapTransport(ctx, err)
		}
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("engine: %w", ctx.Err())
		}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) {
			return fmt.Errorf("%w: decode %s: %v", ErrInternal, path, err)
		}
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, path, err)
	}
	return nil
}

// wrapTransport maps a transport failure: the caller's cancellation stays a
// context error; anything else (refused, reset, EOF) means the engine is gone.
func (c *Client) wrapTransport(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("engine: %w", ctx.Err())
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return err
	}
	for _, s := range []error{ErrUnavailable, ErrBadRequest, ErrContextSize, ErrNotFound, ErrNotSupported, ErrBadAdapter, ErrInternal} {
		if errors.Is(err, s) {
			return err
		}
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

func decodeHTTPError(status int, body []byte) error {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && len(env.Error) > 0 {
		return decodeErrorObject(env.Error, status)
	}
	msg := strings.TrimSpace(string(body))
	if msg == "" {
		msg = http.StatusText(status)
	}
	return newAPIError(status, "", msg)
}

func decodeErrorObject(raw []byte, status int) error {
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Type    string `json:"type"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return newAPIError(status, "", s)
		}
		return newAPIError(status, "", string(raw))
	}
	if e.Code != 0 {
		status = e.Code
	}
	return newAPIError(status, e.Type, e.Message)
}
