package ask

import (
	"testing"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

func TestProvenance(t *testing.T) {
	q3 := &retrievalv1.DocumentCard{Issuer: "Apple Inc.", FormType: "10-Q", FiscalPeriod: "Q3 2023", Period: "quarterly period ended July 1, 2023"}
	call := &retrievalv1.DocumentCard{Issuer: "Snowflake Inc.", FormType: "earnings call", FiscalPeriod: "Q1 2023"}
	ev := func(name string, c *retrievalv1.DocumentCard) *agentsv1.Evidence {
		return &agentsv1.Evidence{Passage: &retrievalv1.Passage{DocumentName: name, DocumentCard: c}}
	}
	evs := []*agentsv1.Evidence{ev("aapl.pdf", q3), ev("sf.pdf", call), ev("notes.pdf", nil)}
	cites := []*agentsv1.Citation{{Document: "sf.pdf", Page: 3}, {Document: "aapl.pdf", Page: 4}, {Document: "sf.pdf", Page: 5}, {Document: "notes.pdf", Page: 1}}
	want := "Documents: Snowflake Inc. earnings call, Q1 2023; Apple Inc. Form 10-Q, Q3 2023 (quarterly period ended July 1, 2023); notes.pdf."
	if got := Provenance(cites, evs); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := Provenance(nil, evs); got != "" {
		t.Errorf("no citations: %q", got)
	}
	// A report whose card has an issuer and a title but no form or period is
	// named by its title; a name ending in a period gets no second one.
	report := &retrievalv1.DocumentCard{Issuer: "Northwind Ferries Ltd.", Title: "Northwind Ferries Ltd. Annual Operations Report 2025"}
	issuerOnly := &retrievalv1.DocumentCard{Issuer: "Northwind Ferries Ltd."}
	evs = []*agentsv1.Evidence{ev("r.pdf", report), ev("i.pdf", issuerOnly)}
	if got, want := Provenance([]*agentsv1.Citation{{Document: "r.pdf", Page: 1}}, evs), "Documents: Northwind Ferries Ltd. Annual Operations Report 2025."; got != want {
		t.Errorf("report: got %q, want %q", got, want)
	}
	if got, want := Provenance([]*agentsv1.Citation{{Document: "i.pdf", Page: 1}}, evs), "Documents: Northwind Ferries Ltd."; got != want {
		t.Errorf("issuer only: got %q, want %q", got, want)
	}
}
