// Package openai serves pdfqa as an OpenAI-compatible chat API, so the
// chat front ends and agent frameworks that speak OpenAI's API can ask
// pdfqa's agents and get cited answers.
//
// It is mounted at Prefix (/openai/v1), not /v1: the gateway's /v1/ is the
// REST API of the services (whose /v1/models is the inference service's).
// Point a client's base URL at http://GATEWAY/openai/v1.
//
//   - GET  /openai/v1/models lists pdfqa/<collection> for each collection,
//     and pdfqa/<collection>@<adapter> for each LoRA adapter.
//   - GET  /openai/v1/models/{model} returns one, or 404.
//   - POST /openai/v1/chat/completions asks the agents: the model names the
//     collection (and adapter), the last user message is the question, and
//     the earlier user and assistant turns are the conversation it follows
//     (AskRequest.history: "and in the prior quarter?" is read against the
//     question before it). Streaming (stream: true) is OpenAI's SSE
//     format: chunks, finish_reason, usage (stream_options.include_usage),
//     then [DONE].
//
// The answer carries its citations inline ([document p.N]) and, structured,
// in the extension field "pdfqa" of the message (the last chunk's delta when
// streaming): document, page, text, score and boxes of each citation, with
// the run id. Token counts in usage are estimates (4 characters a token).
// Errors have OpenAI's shape ({"error": {message, type, param, code}}).
package openai

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"strings"
	"time"

	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
	"github.com/pdfqa/pdfqa/services/gateway/clientwire"
)

// Prefix is where the API is mounted.
const Prefix = "/openai/v1"

// ModelPrefix starts every model id.
const ModelPrefix = "pdfqa/"

// MaxRequestBytes bounds a chat request's body.
const MaxRequestBytes = 1 << 20

// Backend is what the API asks: the SDK's Client.
type Backend interface {
	Collections(ctx context.Context) ([]*pdfqa.Collection, error)
	Adapters(ctx context.Context) ([]*pdfqa.Adapter, error)
	Ask(ctx context.Context, collection, question string, opts ...pdfqa.AskOption) iter.Seq2[pdfqa.Event, error]
}

// Options configure the API.
type Options struct {
	Backend Backend
	Log     *slog.Logger
	// Authorize admits a request or returns an error (ErrUnauthorized: 401);
	// nil admits every request, like the rest of the gateway.
	Authorize func(r *http.Request) error
}

type api struct {
	Options
}

// Handler returns the API's routes (full paths, under Prefix).
func Handler(o Options) http.Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	a := &api{o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"/models", a.models)
	mux.HandleFunc("GET "+Prefix+"/models/{model...}", a.model)
	mux.HandleFunc("POST "+Prefix+"/chat/completions", a.chat)
	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, fmt.Errorf("%w: no route %s %s (this API serves GET /models and POST /chat/completions)", errBadRequest, r.Method, r.URL.Path), "")
	})
	return a.authorized(mux)
}

func (a *api) authorized(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.Authorize != nil {
			if err := a.Authorize(r); err != nil {
				writeError(w, err, "")
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// ParseModel splits a model id into collection and adapter ("" for the base model).
func ParseModel(id string) (collection, adapter string, err error) {
	rest, ok := strings.CutPrefix(id, ModelPrefix)
	if !ok || rest == "" {
		return "", "", fmt.Errorf("%w: %q is not a pdfqa model: use %s<collection> or %s<collection>@<adapter> (GET %s/models lists them)",
			errModelNotFound, id, ModelPrefix, ModelPrefix, Prefix)
	}
	collection, adapter, _ = strings.Cut(rest, "@")
	if collection == "" {
		return "", "", fmt.Errorf("%w: %q names no collection", errModelNotFound, id)
	}
	return collection, adapter, nil
}

// list returns every model id the caller may use.
func (a *api) list(ctx context.Context) ([]model, error) {
	cols, err := a.Backend.Collections(ctx)
	if err != nil {
		return nil, err
	}
	ads, err := a.Backend.Adapters(ctx)
	if err != nil {
		// The base model answers without adapters; list the collections.
		a.Log.WarnContext(ctx, "openai: listing adapters failed; models without adapters", slog.Any("err", err))
		ads = nil
	}
	out := make([]model, 0, len(cols)*(1+len(ads)))
	for _, c := range cols {
		created := c.GetCreateTime().AsTime().Unix()
		out = append(out, model{ID: ModelPrefix + c.GetName(), Object: "model", Created: created, OwnedBy: "pdfqa"})
		for _, ad := range ads {
			out = append(out, model{ID: ModelPrefix + c.GetName() + "@" + ad.GetName(), Object: "model", Created: created, OwnedBy: "pdfqa"})
		}
	}
	return out, nil
}

func (a *api) models(w http.ResponseWriter, r *http.Request) {
	ms, err := a.list(r.Context())
	if err != nil {
		writeError(w, err, "")
		return
	}
	writeJSON(w, http.StatusOK, modelList{Object: "list", Data: ms})
}

func (a *api) model(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("model")
	m, err := a.resolve(r.Context(), id)
	if err != nil {
		writeError(w, err, "model")
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// resolve returns the listed model id, or errModelNotFound.
func (a *api) resolve(ctx context.Context, id string) (model, error) {
	if _, _, err := ParseModel(id); err != nil {
		return model{}, err
	}
	ms, err := a.list(ctx)
	if err != nil {
		return model{}, err
	}
	for _, m := range ms {
		if m.ID == id {
			return m, nil
		}
	}
	return model{}, fmt.Errorf("%w: %q: no such collection or adapter (GET %s/models lists them)", errModelNotFound, id, Prefix)
}

// question is what the agents are asked: the last user message, with the
// earlier turns as the conversation's history.
type question struct {
	collection, adapter string
	text                string
	history             []*pdfqa.Turn
	promptChars         int
}

// roles are the chat roles that are turns of the conversation's history
// (system, developer and tool messages are not).
var roles = map[string]pdfqa.TurnRole{"user": pdfqa.TurnUser, "assistant": pdfqa.TurnAssistant}

// parse validates a chat request and returns the question it asks.
func parse(req *chatRequest) (question, string, error) {
	var q question
	if req.Model == "" {
		return q, "model", fmt.Errorf("%w: model is required", errBadRequest)
	}
	if req.N != nil && *req.N != 1 {
		return q, "n", fmt.Errorf("%w: n must be 1 (pdfqa answers once)", errBadRequest)
	}
	if len(req.Messages) == 0 {
		return q, "messages", fmt.Errorf("%w: messages is empty", errBadRequest)
	}
	var turns []*pdfqa.Turn
	for i, m := range req.Messages {
		switch m.Role {
		case "system", "developer", "user", "assistant", "tool":
		default:
			return q, fmt.Sprintf("messages[%d].role", i), fmt.Errorf("%w: messages[%d]: unknown role %q", errBadRequest, i, m.Role)
		}
		if m.Content.bad != "" {
			return q, fmt.Sprintf("messages[%d].content", i), fmt.Errorf("%w: messages[%d]: content part type %q is not supported (text only)", errBadRequest, i, m.Content.bad)
		}
		q.promptChars += len(m.Content.text)
		if r, ok := roles[m.Role]; ok && i < len(req.Messages)-1 {
			turns = append(turns, &pdfqa.Turn{Role: r, Text: m.Content.text})
		}
	}
	last := req.Messages[len(req.Messages)-1]
	if last.Role != "user" || strings.TrimSpace(last.Content.text) == "" {
		return q, "messages", fmt.Errorf("%w: the last message must be a non-empty user message (the question)", errBadRequest)
	}
	c, ad, err := ParseModel(req.Model)
	if err != nil {
		return q, "model", err
	}
	q.collection, q.adapter = c, ad
	q.text = strings.TrimSpace(last.Content.text)
	// A long conversation keeps its latest turns, within the contract's bounds.
	q.history = pdfqa.TrimHistory(turns)
	return q, "", nil
}

func (a *api) chat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
	if err := dec.Decode(&req); err != nil {
		writeError(w, fmt.Errorf("%w: body is not a chat completion request: %v", errBadRequest, err), "")
		return
	}
	q, param, err := parse(&req)
	if err != nil {
		writeError(w, err, param)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// The model is checked (two listings) while the agents start on the
	// question, not before: its time stays out of the time to first token.
	resolved := make(chan error, 1)
	go func() {
		_, err := a.resolve(ctx, req.Model)
		resolved <- err
	}()
	var opts []pdfqa.AskOption
	if q.adapter != "" {
		opts = append(opts, pdfqa.WithAdapter(q.adapter))
	}
	if len(q.history) > 0 {
		opts = append(opts, pdfqa.WithHistory(q.history...))
	}
	events := gated(a.Backend.Ask(ctx, q.collection, q.text, opts...), resolved, cancel)
	c := completion{id: newID(), created: time.Now().Unix(), model: req.Model, q: q}
	if req.Stream {
		a.stream(w, r, &c, events, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
		return
	}
	run, err := drain(events)
	if err != nil {
		writeError(w, err, paramOf(err))
		return
	}
	text := run.GetAnswer()
	stop := "stop"
	writeJSON(w, http.StatusOK, chatCompletion{ID: c.id, Object: "chat.completion", Created: c.created, Model: c.model,
		Choices: []choice{{Message: &responseMessage{Role: "assistant", Content: &text, Pdfqa: c.extension(run)}, FinishReason: &stop}},
		Usage:   c.usage(text)})
}

// gated yields events only once the model is known to exist (resolved
// says; an error stops the run with cancel and is what is yielded, before
// any event), so a request for an unknown model answers 404 whatever the
// agents made of it.
func gated(events iter.Seq2[pdfqa.Event, error], resolved <-chan error, cancel context.CancelFunc) iter.Seq2[pdfqa.Event, error] {
	return func(yield func(pdfqa.Event, error) bool) {
		checked := false
		for ev, err := range events {
			if !checked {
				checked = true
				if rerr := <-resolved; rerr != nil {
					cancel()
					yield(nil, rerr)
					return
				}
			}
			if !yield(ev, err) {
				return
			}
		}
		if !checked {
			if rerr := <-resolved; rerr != nil {
				yield(nil, rerr)
			}
		}
	}
}

// paramOf names the request field an error is about ("" for none).
func paramOf(err error) string {
	if errors.Is(err, errModelNotFound) {
		return "model"
	}
	return ""
}

// drain returns the run an Ask ends with, or why there is no answer.
func drain(events iter.Seq2[pdfqa.Event, error]) (*pdfqa.Run, error) {
	for ev, err := range events {
		if err != nil {
			return nil, err
		}
		if d, ok := ev.(pdfqa.RunDone); ok {
			return clientwire.Answered(d.Run)
		}
	}
	return nil, fmt.Errorf("%w: the run ended without a record", clientwire.ErrNoAnswer)
}

// completion is one answer being written.
type completion struct {
	id      string
	created int64
	model   string
	q       question
}

func (c *completion) usage(answer string) *usage {
	p, k := tokens(c.q.promptChars), tokens(len(answer))
	return &usage{PromptTokens: p, CompletionTokens: k, TotalTokens: p + k}
}

func tokens(chars int) int { return (chars + 3) / 4 }

// extension is the run's structured citations: each citation with the
// score and boxes of the passage it quotes (same document and page).
func (c *completion) extension(run *pdfqa.Run) *extension {
	ext := &extension{RunID: run.GetId(), Collection: c.q.collection, Adapter: c.q.adapter, Citations: clientwire.Citations(run),
		Degraded: run.GetDegraded(), Note: run.GetError()}
	if v := run.GetVerification(); v != nil && len(v.GetClaims()) > 0 {
		s := v.GetSupportScore()
		ext.SupportScore = &s
	}
	return ext
}

// stream writes the answer as OpenAI's server-sent events.
func (a *api) stream(w http.ResponseWriter, r *http.Request, c *completion, events iter.Seq2[pdfqa.Event, error], withUsage bool) {
	rc := http.NewResponseController(w)
	started := false
	chunk := func(delta *responseMessage, finish *string) error {
		if !started {
			h := w.Header()
			h.Set("Content-Type", "text/event-stream")
			h.Set("Cache-Control", "no-cache")
			h.Set("X-Accel-Buffering", "no")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		return sse(w, rc, chatCompletion{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model,
			Choices: []choice{{Delta: delta, FinishReason: finish}}})
	}
	fail := func(err error) {
		if !started {
			writeError(w, err, paramOf(err))
			return
		}
		_, body := errorOf(err, "")
		_ = sse(w, rc, body)
		a.Log.WarnContext(r.Context(), "openai: stream ended by an error", slog.Any("err", err))
	}
	var text strings.Builder
	for ev, err := range events {
		if err != nil {
			fail(err)
			return
		}
		switch ev := ev.(type) {
		case pdfqa.AnswerDelta:
			if ev.Text == "" {
				continue
			}
			if !started {
				empty := ""
				if err := chunk(&responseMessage{Role: "assistant", Content: &empty}, nil); err != nil {
					return
				}
			}
			text.WriteString(ev.Text)
			t := ev.Text
			if err := chunk(&responseMessage{Content: &t}, nil); err != nil {
				return // the client went away; the context ends the run's stream
			}
		case pdfqa.RunDone:
			run, err := clientwire.Answered(ev.Run)
			if err != nil {
				fail(err)
				return
			}
			if !started {
				empty := ""
				if err := chunk(&responseMessage{Role: "assistant", Content: &empty}, nil); err != nil {
					return
				}
			}
			// The streamed text is the answer as written; the run's record
			// may have been revised (claims dropped by the verifier). The
			// extension holds the final text's citations either way.
			if rest, ok := strings.CutPrefix(run.GetAnswer(), text.String()); ok && rest != "" {
				if err := chunk(&responseMessage{Content: &rest}, nil); err != nil {
					return
				}
				text.WriteString(rest)
			}
			stop := "stop"
			if err := chunk(&responseMessage{Pdfqa: c.extension(run)}, &stop); err != nil {
				return
			}
			if withUsage {
				_ = sse(w, rc, chatCompletion{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model,
					Choices: []choice{}, Usage: c.usage(text.String())})
			}
			_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
			_ = rc.Flush()
			return
		}
	}
	fail(fmt.Errorf("%w: the run ended without a record", clientwire.ErrNoAnswer))
}

func sse(w http.ResponseWriter, rc *http.ResponseController, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
		return err
	}
	if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error, param string) {
	code, body := errorOf(err, param)
	writeJSON(w, code, body)
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "chatcmpl-" + hex.EncodeToString(b)
}
