// Package clientwire is what the gateway's client surfaces — the
// OpenAI-compatible API (openai) and the MCP tools (mcptools) — write the
// same way: a run's citations with the score and page boxes of the passage
// each quotes, and the refusal of a run that ended without an answer.
package clientwire

import (
	"errors"
	"fmt"
	"strings"

	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
)

// Box is a region of a page, in PDF points from the page's top left.
type Box struct {
	Page int32   `json:"page"`
	X0   float32 `json:"x0"`
	Y0   float32 `json:"y0"`
	X1   float32 `json:"x1"`
	Y1   float32 `json:"y1"`
}

// Citation is one source of an answer: the document and page cited, the
// quoted text (else the passage's), and the score and boxes on that page
// of the passage it quotes.
type Citation struct {
	Document   string  `json:"document"`
	DocumentID string  `json:"document_id"`
	Page       int32   `json:"page"`
	Text       string  `json:"text"`
	Score      float32 `json:"score"`
	Boxes      []Box   `json:"boxes"`
}

// Boxes returns a passage's boxes on page (every page: page 0).
func Boxes(p *pdfqa.Passage, page int32) []Box {
	out := []Box{}
	for _, b := range p.GetBoxes() {
		if page == 0 || b.GetPage() == page {
			out = append(out, Box{Page: b.GetPage(), X0: b.GetX0(), Y0: b.GetY0(), X1: b.GetX1(), Y1: b.GetY1()})
		}
	}
	return out
}

// Citations returns the run's citations, each with the passage it quotes
// (never nil: an empty list).
func Citations(run *pdfqa.Run) []Citation {
	out := []Citation{}
	for _, ci := range run.GetCitations() {
		c := Citation{Document: ci.GetDocument(), DocumentID: ci.GetDocumentId(), Page: ci.GetPage(), Text: ci.GetQuote(), Boxes: []Box{}}
		if p := PassageFor(run.GetPassages(), ci); p != nil {
			c.Score, c.Boxes = p.GetScore(), Boxes(p, ci.GetPage())
			if c.Text == "" {
				c.Text = p.GetText()
			}
		}
		out = append(out, c)
	}
	return out
}

// PassageFor is the passage a citation quotes: of the citation's document,
// its pages holding the cited page, the one containing the quote, else the
// best scored; nil when none.
func PassageFor(ps []*pdfqa.Passage, c *pdfqa.Citation) *pdfqa.Passage {
	var best *pdfqa.Passage
	for _, p := range ps {
		if p.GetDocumentId() != c.GetDocumentId() && p.GetDocumentName() != c.GetDocument() {
			continue
		}
		end := max(p.GetPageEnd(), p.GetPage())
		if c.GetPage() < p.GetPage() || c.GetPage() > end {
			continue
		}
		if q := c.GetQuote(); q != "" && strings.Contains(p.GetText(), q) {
			return p
		}
		if best == nil || p.GetScore() > best.GetScore() {
			best = p
		}
	}
	return best
}

// ErrNoAnswer marks a run that ended without an answer.
var ErrNoAnswer = errors.New("no answer")

// Answered returns the run, or an error wrapping ErrNoAnswer (with the
// run's reason) when it has no answer.
func Answered(run *pdfqa.Run) (*pdfqa.Run, error) {
	if run == nil {
		return nil, fmt.Errorf("%w: the run ended without a record", ErrNoAnswer)
	}
	if strings.TrimSpace(run.GetAnswer()) == "" {
		msg := run.GetError()
		if msg == "" {
			msg = "the agents returned an empty answer"
		}
		return nil, fmt.Errorf("%w: run %s: %s", ErrNoAnswer, run.GetId(), msg)
	}
	return run, nil
}
