package ask

import (
	"testing"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// Two transcripts say the same kind of sentence; the question names the
// period that only the document titles carry.
func TestTitleDisambiguatesPeriod(t *testing.T) {
	sq := &agentsv1.SubQuestion{Id: "q1", Question: "What were product revenues in Q3 2023?"}
	ps := []*retrievalv1.Passage{
		{DocumentName: "Q2 2023 Acme Earnings Call.pdf", Page: 2, Text: "Product revenues were $466 million, up 83% year over year."},
		{DocumentName: "Q3 2023 Acme Earnings Call.pdf", Page: 2, Text: "Product revenues were $523 million, up 67% year over year."},
	}
	best := BestExtracts(sq.Question, Read(sq, ps), 1)
	if len(best) != 1 || best[0].Ev.GetPassage().GetDocumentName() != "Q3 2023 Acme Earnings Call.pdf" {
		t.Fatalf("best extract %+v, want the Q3 2023 document's sentence", best)
	}
	if terms("in q3 of h1")["q3"] != true {
		t.Error(`short alphanumeric terms like "q3" must count`)
	}
}
