package clientwire

import (
	"errors"
	"strings"
	"testing"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

func TestCitationsTakeThePassageTheyQuote(t *testing.T) {
	box := func(page int32, x float32) *retrievalv1.BoundingBox {
		return &retrievalv1.BoundingBox{Page: page, X0: x, Y0: 1, X1: x + 1, Y1: 2}
	}
	run := &agentsv1.Run{
		Citations: []*agentsv1.Citation{
			{Document: "a.pdf", DocumentId: "d1", Page: 3, Quote: "revenue of $5 million"}, // in the lower-scored passage
			{Document: "a.pdf", DocumentId: "d1", Page: 2},                                 // no quote: the best passage, its text
			{Document: "b.pdf", DocumentId: "d2", Page: 9, Quote: "nowhere"},               // no passage holds page 9
		},
		Passages: []*retrievalv1.Passage{
			{DocumentId: "d1", DocumentName: "a.pdf", Page: 2, PageEnd: 3, Score: 0.9, Text: "costs rose", Boxes: []*retrievalv1.BoundingBox{box(2, 10), box(3, 20)}},
			{DocumentId: "d1", DocumentName: "a.pdf", Page: 3, Score: 0.4, Text: "Total revenue of $5 million.", Boxes: []*retrievalv1.BoundingBox{box(3, 30)}},
			{DocumentId: "d2", DocumentName: "b.pdf", Page: 1, Score: 0.99, Text: "other"},
		},
	}
	got := Citations(run)
	if len(got) != 3 {
		t.Fatalf("%d citations", len(got))
	}
	if c := got[0]; c.Score != 0.4 || len(c.Boxes) != 1 || c.Boxes[0].X0 != 30 || c.Text != "revenue of $5 million" {
		t.Errorf("quoted: %+v; want the passage containing the quote", c)
	}
	if c := got[1]; c.Score != 0.9 || len(c.Boxes) != 1 || c.Boxes[0].Page != 2 || c.Text != "costs rose" {
		t.Errorf("unquoted: %+v; want the best passage's text and only its boxes on page 2", c)
	}
	if c := got[2]; c.Score != 0 || c.Boxes == nil || len(c.Boxes) != 0 || c.Text != "nowhere" {
		t.Errorf("no passage: %+v; want no score and an empty (not null) box list", c)
	}
	if c := Citations(&agentsv1.Run{}); c == nil || len(c) != 0 {
		t.Errorf("no citations: %#v; want an empty list", c)
	}
}

func TestAnswered(t *testing.T) {
	if r, err := Answered(&agentsv1.Run{Id: "r", Answer: "yes"}); err != nil || r.GetId() != "r" {
		t.Errorf("an answer: %v %v", r, err)
	}
	for _, c := range []struct {
		run  *agentsv1.Run
		want string
	}{
		{nil, "the run ended without a record"},
		{&agentsv1.Run{Id: "r1", Answer: "  ", Error: "retrieval failed"}, "run r1: retrieval failed"},
		{&agentsv1.Run{Id: "r2"}, "run r2: the agents returned an empty answer"},
	} {
		if _, err := Answered(c.run); !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want ErrNoAnswer saying %q", c.run, err, c.want)
		}
	}
}
