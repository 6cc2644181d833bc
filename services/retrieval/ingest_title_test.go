package retrieval

import (
	"testing"

	"github.com/pdfqa/pdfqa/services/retrieval/parse"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

func TestAddTitleTerms(t *testing.T) {
	chunks := []store.Chunk{{Terms: map[string]int{"revenue": 2}, Len: 2}, {}}
	addTitleTerms(chunks, "Q3 2023 Acme Earnings Call.pdf", "Acme Q3")
	for i, want := range []map[string]int{
		{"revenue": 2, "q3": 1, "2023": 1, "acme": 1, "earning": 1, "call": 1},
		{"q3": 1, "2023": 1, "acme": 1, "earning": 1, "call": 1},
	} {
		for k, v := range want {
			if chunks[i].Terms[k] != v {
				t.Errorf("#%d: term %q count %d, want %d (terms %v)", i, k, chunks[i].Terms[k], v, chunks[i].Terms)
			}
		}
		if _, ok := chunks[i].Terms["pdf"]; ok {
			t.Errorf("#%d: the extension became a term", i)
		}
	}
	if chunks[0].Len != 7 {
		t.Errorf("length with title terms: got %d, want 7", chunks[0].Len)
	}
}

func TestCountImages(t *testing.T) {
	doc := &parse.Document{Pages: []parse.Page{{Number: 1}, {Number: 2, Images: 2}, {Number: 3, Images: 1}}}
	chunks := []store.Chunk{{Page: 1, PageEnd: 1}, {Page: 1, PageEnd: 2}, {Page: 3}}
	countImages(chunks, doc)
	if chunks[0].Images != 0 || chunks[1].Images != 2 || chunks[2].Images != 1 {
		t.Errorf("images per chunk: %d %d %d, want 0 2 1", chunks[0].Images, chunks[1].Images, chunks[2].Images)
	}
}
