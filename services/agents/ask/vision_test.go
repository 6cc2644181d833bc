package ask

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// visionLLM is fakeLLM whose chat model does or does not accept images.
type visionLLM struct {
	*fakeLLM
	vision bool
	err    error
	asked  int
}

func (v *visionLLM) Vision(context.Context) (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.asked++
	return v.vision, v.err
}

// pageSearch is fakeSearch that also renders pages: each page's PNG is
// its key, unless the page is listed in fail or big.
type pageSearch struct {
	*fakeSearch
	fail  map[int]bool
	big   map[int]bool
	mu    sync.Mutex
	pages []int
}

func (p *pageSearch) RenderPage(_ context.Context, collection, doc string, page int) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pages = append(p.pages, page)
	switch {
	case p.fail[page]:
		return nil, errors.New("render failed")
	case p.big[page]:
		return make([]byte, MaxImageBytes+1), nil
	}
	return pagePNG(collection, doc, page), nil
}

func pagePNG(collection, doc string, page int) []byte {
	return []byte("\x89PNG " + collection + "/" + doc + "/" + string(rune('0'+page)))
}

// figures is the corpus with its answers on an OCR'd page and in a table.
func figures() []*retrievalv1.Passage {
	ps := corpus()
	ps[0].Kind = retrievalv1.PassageKind_PASSAGE_KIND_OCR   // d1 p.2
	ps[1].Kind = retrievalv1.PassageKind_PASSAGE_KIND_TABLE // d1 p.3
	return ps
}

func TestVisualPages(t *testing.T) {
	ev := func(doc string, page int32, kind retrievalv1.PassageKind) *agentsv1.Evidence {
		return &agentsv1.Evidence{Passage: &retrievalv1.Passage{DocumentId: doc, DocumentName: doc + ".pdf", Page: page, Kind: kind}}
	}
	evs := []*agentsv1.Evidence{
		ev("a", 1, retrievalv1.PassageKind_PASSAGE_KIND_TEXT),
		ev("a", 2, retrievalv1.PassageKind_PASSAGE_KIND_TABLE),
		ev("a", 2, retrievalv1.PassageKind_PASSAGE_KIND_TABLE), // same page
		ev("b", 7, retrievalv1.PassageKind_PASSAGE_KIND_OCR),
		ev("c", 1, retrievalv1.PassageKind_PASSAGE_KIND_OCR),
	}
	got := VisualPages(evs, 2)
	if len(got) != 2 || got[0] != (PageRef{"a", 2, "[a.pdf p.2]"}) || got[1] != (PageRef{"b", 7, "[b.pdf p.7]"}) {
		t.Fatalf("VisualPages = %v, want a p.2 then b p.7", got)
	}
	if got := VisualPages(evs[:1], 2); len(got) != 0 {
		t.Errorf("text-only evidence: %v, want no pages", got)
	}
	// A text passage on a page with a figure (image objects) counts too.
	fig := ev("d", 4, retrievalv1.PassageKind_PASSAGE_KIND_TEXT)
	fig.Passage.PageImages = 1
	if got := VisualPages([]*agentsv1.Evidence{evs[0], fig}, 2); len(got) != 1 || got[0] != (PageRef{"d", 4, "[d.pdf p.4]"}) {
		t.Errorf("figure page: %v, want d p.4", got)
	}
}

func TestEngineVisionImages(t *testing.T) {
	q := &agentsv1.AskRequest{Collection: "c", Question: "What were product revenue and free cash flow?", IncludeScratchpad: true, Mode: agentsv1.AskMode_ASK_MODE_SINGLE_SHOT}
	answererImages := func(llm *fakeLLM) []Image {
		last := llm.calls[len(llm.calls)-1]
		if len(last.Messages) != 2 || len(last.Messages[0].Images) != 0 {
			t.Fatalf("answerer messages %v", last.Messages)
		}
		return last.Messages[1].Images
	}
	reply := "Free cash flow was $181 million [acme-q1.pdf p.3]."

	// Vision model: the OCR and table pages go with the question, best first.
	llm := &visionLLM{fakeLLM: &fakeLLM{window: 2048, replies: []string{reply}}, vision: true}
	search := &pageSearch{fakeSearch: &fakeSearch{passages: figures()}}
	r, _, err := run(t, &Engine{LLM: llm, Search: search}, q)
	if err != nil || r.Status != agentsv1.RunStatus_RUN_STATUS_SUCCEEDED {
		t.Fatalf("run %v, %v", r.GetStatus(), err)
	}
	imgs := answererImages(llm.fakeLLM)
	if len(imgs) != 2 || len(search.pages) != 2 {
		t.Fatalf("%d images sent, %d pages rendered; want 2 and 2", len(imgs), len(search.pages))
	}
	for _, im := range imgs {
		if im.MIMEType != "image/png" || !(bytes.Equal(im.Data, pagePNG("c", "d1", 2)) || bytes.Equal(im.Data, pagePNG("c", "d1", 3))) {
			t.Errorf("image %q (%s), want a render of d1 p.2 or p.3", im.Data, im.MIMEType)
		}
	}

	// MaxImages caps the pages; a failed and an oversized render are left out.
	for _, c := range []struct {
		name      string
		max       int
		fail, big map[int]bool
		want      int
	}{
		{"cap 1", 1, nil, nil, 1},
		{"render fails", 2, map[int]bool{2: true}, nil, 1},
		{"too large", 2, nil, map[int]bool{3: true}, 1},
		{"all fail", 2, map[int]bool{2: true, 3: true}, nil, 0},
	} {
		llm := &visionLLM{fakeLLM: &fakeLLM{window: 2048, replies: []string{reply}}, vision: true}
		search := &pageSearch{fakeSearch: &fakeSearch{passages: figures()}, fail: c.fail, big: c.big}
		r, _, err := run(t, &Engine{LLM: llm, Search: search, MaxImages: c.max}, q)
		if err != nil || r.Status != agentsv1.RunStatus_RUN_STATUS_SUCCEEDED || r.Degraded || !strings.Contains(r.Answer, "$181 million") {
			t.Fatalf("%s: run %v degraded %v answer %q, %v", c.name, r.GetStatus(), r.GetDegraded(), r.GetAnswer(), err)
		}
		if n := len(answererImages(llm.fakeLLM)); n != c.want {
			t.Errorf("%s: %d images sent, want %d", c.name, n, c.want)
		}
		if c.want < c.max && !strings.Contains(r.Scratchpad, "not rendered") {
			t.Errorf("%s: scratchpad does not note the page left out:\n%s", c.name, r.Scratchpad)
		}
	}

	// Text-only model, model info unavailable, or images turned off:
	// nothing rendered, nothing sent.
	for _, c := range []struct {
		name   string
		vision bool
		err    error
		max    int
	}{
		{"text-only", false, nil, 0},
		{"model info down", true, unavailable, 0},
		{"turned off", true, nil, -1},
	} {
		llm := &visionLLM{fakeLLM: &fakeLLM{window: 2048, replies: []string{reply}}, vision: c.vision, err: c.err}
		search := &pageSearch{fakeSearch: &fakeSearch{passages: figures()}}
		r, _, err := run(t, &Engine{LLM: llm, Search: search, MaxImages: c.max}, q)
		if err != nil || r.Status != agentsv1.RunStatus_RUN_STATUS_SUCCEEDED || r.Degraded {
			t.Fatalf("%s: run %v degraded %v, %v", c.name, r.GetStatus(), r.GetDegraded(), err)
		}
		if n := len(answererImages(llm.fakeLLM)); n != 0 || len(search.pages) != 0 {
			t.Errorf("%s: %d images sent, %d pages rendered; want none", c.name, n, len(search.pages))
		}
	}
}
