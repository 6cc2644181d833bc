package openai

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
)

// fake answers like the agents: deltas, then the run with a citation whose
// passage has a box.
type fake struct {
	asked    []string
	requests []*pdfqa.AskRequest
	askErr   error
	// asking, when set, is closed once the Ask stream has started; the
	// listings wait for it (at most 5 s).
	asking chan struct{}
}

func (f *fake) Collections(context.Context) ([]*pdfqa.Collection, error) {
	if f.asking != nil {
		select {
		case <-f.asking:
		case <-time.After(5 * time.Second):
			return nil, fmt.Errorf("the models were listed before the question was asked")
		}
	}
	return []*pdfqa.Collection{{Name: "filings", CreateTime: timestamppb.New(timestamppb.Now().AsTime())}}, nil
}

func (f *fake) Adapters(context.Context) ([]*pdfqa.Adapter, error) {
	return []*pdfqa.Adapter{{Name: "tuned"}}, nil
}

func (f *fake) Ask(_ context.Context, collection, question string, opts ...pdfqa.AskOption) iter.Seq2[pdfqa.Event, error] {
	f.asked = append(f.asked, question)
	f.requests = append(f.requests, pdfqa.NewAskRequest(collection, question, opts...))
	return func(yield func(pdfqa.Event, error) bool) {
		if f.asking != nil {
			select {
			case <-f.asking:
			default:
				close(f.asking)
			}
		}
		if f.askErr != nil {
			yield(nil, f.askErr)
			return
		}
		for _, d := range []string{"Revenue was ", "$5 million ", "[q3.pdf p.2]."} {
			if !yield(pdfqa.AnswerDelta{RunID: "r1", Text: d}, nil) {
				return
			}
		}
		yield(pdfqa.RunDone{Run: &agentsv1.Run{Id: "r1", Collection: collection, Answer: "Revenue was $5 million [q3.pdf p.2].",
			Citations: []*agentsv1.Citation{{Document: "q3.pdf", DocumentId: "d1", Page: 2, Quote: "revenue of $5 million"}},
			Passages: []*retrievalv1.Passage{{DocumentId: "d1", DocumentName: "q3.pdf", Page: 2, PageEnd: 2, Score: 0.75,
				Text: "Total revenue of $5 million.", Boxes: []*retrievalv1.BoundingBox{{Page: 2, X0: 1, Y0: 2, X1: 3, Y1: 4}}}}}}, nil)
	}
}

func serve(t *testing.T, f *fake, auth func(*http.Request) error) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(Handler(Options{Backend: f, Authorize: auth}))
	t.Cleanup(s.Close)
	return s
}

func serveB(b *testing.B, f *fake) string {
	s := httptest.NewServer(Handler(Options{Backend: f}))
	b.Cleanup(s.Close)
	return s.URL
}

func post(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url+Prefix+"/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		sb.WriteString(sc.Text() + "\n")
	}
	return resp, sb.String()
}

func TestModelsListCollectionsAndAdapters(t *testing.T) {
	s := serve(t, &fake{}, nil)
	resp, err := http.Get(s.URL + Prefix + "/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l modelList
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range l.Data {
		ids = append(ids, m.ID)
	}
	if l.Object != "list" || strings.Join(ids, ",") != "pdfqa/filings,pdfqa/filings@tuned" {
		t.Errorf("models %+v", l)
	}
	r2, _ := http.Get(s.URL + Prefix + "/models/pdfqa/nope")
	if r2.StatusCode != 404 {
		t.Errorf("unknown model: %d, want 404", r2.StatusCode)
	}
	r2.Body.Close()
}

func TestChatCompletionHasInlineAndStructuredCitations(t *testing.T) {
	f := &fake{}
	s := serve(t, f, nil)
	resp, body := post(t, s.URL, `{"model":"pdfqa/filings","messages":[{"role":"system","content":"be brief"},
		{"role":"user","content":"What is Q2 revenue?"},{"role":"assistant","content":"..."},
		{"role":"user","content":[{"type":"text","text":"And Q3?"}]}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var c chatCompletion
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatal(err)
	}
	m := c.Choices[0].Message
	if c.Object != "chat.completion" || *c.Choices[0].FinishReason != "stop" || !strings.Contains(*m.Content, "[q3.pdf p.2]") {
		t.Errorf("completion %s", body)
	}
	ci := m.Pdfqa.Citations
	if len(ci) != 1 || ci[0].Page != 2 || ci[0].Score != 0.75 || len(ci[0].Boxes) != 1 || ci[0].Text != "revenue of $5 million" || m.Pdfqa.RunID != "r1" {
		t.Errorf("citations %+v", m.Pdfqa)
	}
	if c.Usage == nil || c.Usage.TotalTokens != c.Usage.PromptTokens+c.Usage.CompletionTokens || c.Usage.CompletionTokens == 0 {
		t.Errorf("usage %+v", c.Usage)
	}
	// The question is the last user message as it is; the earlier user and
	// assistant turns (not the system message) are its history.
	req := f.requests[0]
	var turns []string
	for _, h := range req.GetHistory() {
		turns = append(turns, h.GetRole().String()+": "+h.GetText())
	}
	if req.GetQuestion() != "And Q3?" || strings.Join(turns, " | ") != "TURN_ROLE_USER: What is Q2 revenue? | TURN_ROLE_ASSISTANT: ..." {
		t.Errorf("asked %q with history %q: want the last question, the earlier turns as history", req.GetQuestion(), turns)
	}
}

func TestStreamIsOpenAISSE(t *testing.T) {
	s := serve(t, &fake{}, nil)
	resp, body := post(t, s.URL, `{"model":"pdfqa/filings@tuned","stream":true,"stream_options":{"include_usage":true},
		"messages":[{"role":"user","content":"Q3 revenue?"}]}`)
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("status %d %s: %s", resp.StatusCode, ct, body)
	}
	var events []string
	for _, l := range strings.Split(body, "\n") {
		if d, ok := strings.CutPrefix(l, "data: "); ok {
			events = append(events, d)
		}
	}
	if len(events) < 4 || events[len(events)-1] != "[DONE]" {
		t.Fatalf("events %q", events)
	}
	var text strings.Builder
	var final, usageChunk chatCompletion
	for i, e := range events[:len(events)-1] {
		var c chatCompletion
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatalf("event %d %q: %v", i, e, err)
		}
		if c.Object != "chat.completion.chunk" || c.Model != "pdfqa/filings@tuned" {
			t.Errorf("event %d: %s", i, e)
		}
		if i == 0 && (c.Choices[0].Delta.Role != "assistant") {
			t.Errorf("first chunk has no role: %s", e)
		}
		if len(c.Choices) == 0 {
			usageChunk = c
			continue
		}
		if d := c.Choices[0].Delta; d.Content != nil {
			text.WriteString(*d.Content)
		}
		if c.Choices[0].FinishReason != nil {
			final = c
		}
	}
	if text.String() != "Revenue was $5 million [q3.pdf p.2]." {
		t.Errorf("streamed text %q", text.String())
	}
	ext := final.Choices[0].Delta.Pdfqa
	if *final.Choices[0].FinishReason != "stop" || ext == nil || len(ext.Citations) != 1 || ext.Adapter != "tuned" || len(ext.Citations[0].Boxes) != 1 {
		t.Errorf("final chunk %+v", final)
	}
	if usageChunk.Usage == nil || usageChunk.Usage.CompletionTokens == 0 {
		t.Errorf("no usage chunk")
	}
}

func TestErrorsHaveOpenAIShape(t *testing.T) {
	deny := func(r *http.Request) error {
		if r.Header.Get("Authorization") != "Bearer good" {
			return fmt.Errorf("%w: incorrect API key provided", ErrUnauthorized)
		}
		return nil
	}
	for _, tc := range []struct {
		name, body string
		auth       func(*http.Request) error
		askErr     error
		status     int
		code       string
	}{
		{"bad key", `{"model":"pdfqa/filings","messages":[{"role":"user","content":"q"}]}`, deny, nil, 401, "invalid_api_key"},
		{"unknown collection", `{"model":"pdfqa/nope","messages":[{"role":"user","content":"q"}]}`, nil, nil, 404, "model_not_found"},
		{"not pdfqa", `{"model":"gpt-4o","messages":[{"role":"user","content":"q"}]}`, nil, nil, 404, "model_not_found"},
		{"unknown adapter", `{"model":"pdfqa/filings@zzz","messages":[{"role":"user","content":"q"}]}`, nil, nil, 404, "model_not_found"},
		{"no messages", `{"model":"pdfqa/filings","messages":[]}`, nil, nil, 400, "invalid_request"},
		{"last not user", `{"model":"pdfqa/filings","messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}`, nil, nil, 400, "invalid_request"},
		{"image", `{"model":"pdfqa/filings","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, nil, nil, 400, "invalid_request"},
		{"n=2", `{"model":"pdfqa/filings","n":2,"messages":[{"role":"user","content":"q"}]}`, nil, nil, 400, "invalid_request"},
		{"not json", `{"model":`, nil, nil, 400, "invalid_request"},
		{"agents down", `{"model":"pdfqa/filings","messages":[{"role":"user","content":"q"}]}`, nil,
			pdfqa.ErrUnavailable, 503, "unavailable"},
	} {
		f := &fake{askErr: tc.askErr}
		if tc.askErr != nil {
			f.askErr = wrapStatus(codes.Unavailable)
		}
		s := serve(t, f, tc.auth)
		resp, body := post(t, s.URL, tc.body)
		var e errorBody
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Errorf("%s: body %q: %v", tc.name, body, err)
			continue
		}
		if resp.StatusCode != tc.status || e.Error.Code == nil || *e.Error.Code != tc.code || e.Error.Message == "" || e.Error.Type == "" {
			t.Errorf("%s: %d %s, want %d %s", tc.name, resp.StatusCode, body, tc.status, tc.code)
		}
	}
}

// wrapStatus is an SDK error with code c, as the SDK returns for a status error.
func wrapStatus(c codes.Code) error {
	return &pdfqa.Error{Code: c, Message: status.New(c, "agents: no instance").Message()}
}

func TestParseModel(t *testing.T) {
	for in, want := range map[string]string{"pdfqa/a": "a|", "pdfqa/a@b": "a|b", "pdfqa/a.b-c_d@x@y": "a.b-c_d|x@y"} {
		c, a, err := ParseModel(in)
		if err != nil || c+"|"+a != want {
			t.Errorf("%s: %q %q %v, want %s", in, c, a, err, want)
		}
	}
	for _, bad := range []string{"", "pdfqa/", "pdfqa/@x", "other/x"} {
		if _, _, err := ParseModel(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestLongConversationKeepsItsLatestTurns checks that a conversation longer
// than the history's bounds is asked with its latest turns, not refused.
func TestLongConversationKeepsItsLatestTurns(t *testing.T) {
	f := &fake{}
	s := serve(t, f, nil)
	var msgs []string
	for i := range 50 {
		msgs = append(msgs, fmt.Sprintf(`{"role":"user","content":"question %d"}`, i), fmt.Sprintf(`{"role":"assistant","content":%q}`, strings.Repeat("a", 900)))
	}
	msgs = append(msgs, `{"role":"user","content":"And the last one?"}`)
	resp, body := post(t, s.URL, `{"model":"pdfqa/filings","messages":[`+strings.Join(msgs, ",")+`]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	h := f.requests[0].GetHistory()
	total := 0
	for _, t := range h {
		total += len(t.GetText())
	}
	if len(h) == 0 || len(h) > pdfqa.MaxHistoryTurns || total > pdfqa.MaxHistoryBytes || h[len(h)-2].GetText() != "question 49" {
		t.Errorf("history of %d turns, %d bytes, next to last %q: want the latest turns within the bounds", len(h), total, h[len(h)-2].GetText())
	}
}

// TestModelIsCheckedWhileTheAgentsStart checks that the model's listing
// runs beside the question (its time is not added to the first token),
// and that an unknown model is still a 404 before any answer, streamed or
// not, even when the agents would have answered.
func TestModelIsCheckedWhileTheAgentsStart(t *testing.T) {
	f := &fake{asking: make(chan struct{})}
	s := serve(t, f, nil)
	resp, body := post(t, s.URL, `{"model":"pdfqa/filings","stream":true,"messages":[{"role":"user","content":"q"}]}`)
	if resp.StatusCode != 200 || !strings.Contains(body, "[DONE]") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	for _, stream := range []string{"false", "true"} {
		resp, body := post(t, s.URL, `{"model":"pdfqa/nope","stream":`+stream+`,"messages":[{"role":"user","content":"q"}]}`)
		var e errorBody
		if err := json.Unmarshal([]byte(body), &e); err != nil || resp.StatusCode != 404 || e.Error.Code == nil || *e.Error.Code != "model_not_found" ||
			e.Error.Param == nil || *e.Error.Param != "model" {
			t.Errorf("stream %s, unknown model: %d %s; want a 404 model_not_found error about model", stream, resp.StatusCode, body)
		}
	}
}
