package runstore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/platform/pgtest"
)

// Distinctive text of the two documents the test runs quote: d1 is
// deleted, d2 stays.
const (
	d1Sentence = "Northwind ferried 4,812,330 passengers across the sound in fiscal 2025."
	d1Heading  = "Passenger volumes by crossing"
	d1Extract  = "Harbour fees rose to $7.3 million after the Pier 9 renovation"
	d2Sentence = "Tide-aware timetables cut average waiting time by 11.4 minutes."
)

// quotingRun is a finished run of tenant acme that quotes d1 and d2 in
// every place a run keeps text.
func quotingRun(id string, st agentsv1.RunStatus) *agentsv1.Run {
	p1 := &retrievalv1.Passage{ChunkId: "d1-c7", DocumentId: "d1", DocumentName: "northwind.pdf", Page: 4, PageEnd: 4,
		Text: "Passenger volumes rose. " + d1Sentence + " " + d1Extract + ".", Heading: d1Heading,
		DocumentCard: &retrievalv1.DocumentCard{Title: "Northwind Ferries Annual Report"}}
	p2 := &retrievalv1.Passage{ChunkId: "d2-c1", DocumentId: "d2", DocumentName: "tides.pdf", Page: 2, Text: d2Sentence}
	c1 := &agentsv1.Citation{Document: "northwind.pdf", Page: 4, DocumentId: "d1", Quote: d1Sentence}
	c2 := &agentsv1.Citation{Document: "tides.pdf", Page: 2, DocumentId: "d2", Quote: d2Sentence}
	return &agentsv1.Run{Id: id, Tenant: "acme", Collection: "ops", Status: st, Question: "How many passengers, and how long do riders wait?",
		Passages: []*retrievalv1.Passage{p1, p2},
		SubAnswers: []*agentsv1.SubAnswer{{SubQuestionId: "q1", Answer: d1Extract, Evidence: []*agentsv1.Evidence{
			{Passage: proto.Clone(p1).(*retrievalv1.Passage), Extracts: []string{d1Extract}},
			{Passage: proto.Clone(p2).(*retrievalv1.Passage), Extracts: []string{d2Sentence}},
		}}},
		Answer:       "Northwind ferried 4,812,330 passengers across the sound in fiscal 2025 [northwind.pdf p.4]. Riders wait 11.4 minutes less [tides.pdf p.2].",
		Citations:    []*agentsv1.Citation{c1, c2},
		Verification: &agentsv1.Verification{Claims: []*agentsv1.ClaimCheck{{Claim: "Northwind ferried 4,812,330 passengers", Citations: []*agentsv1.Citation{proto.Clone(c1).(*agentsv1.Citation)}}, {Claim: "Riders wait less", Citations: []*agentsv1.Citation{proto.Clone(c2).(*agentsv1.Citation)}}}},
		Scratchpad:   "read: " + d1Sentence,
	}
}

// d1Texts are the byte strings of d1 a scrubbed store must not hold.
var d1Texts = []string{d1Sentence, d1Heading, d1Extract, "4,812,330", "Northwind Ferries Annual Report", "Passenger volumes rose"}

// Deleting a document's text from the runs, on both stores: Cited lists
// what the runs quote; Scrub rewrites the finished runs so that no byte
// of d1's text is left in the store (the bbolt file grepped, the
// PostgreSQL table queried) while d2's stays and the run keeps its
// references (chunk id, document id, page) with its citations marked
// deleted; a RUNNING run is scrubbed once it has finished.
func TestScrubRemovesADeletedDocumentsText(t *testing.T) {
	type store struct {
		Runs
		Scrubber
		holds func(t *testing.T, text string) bool
	}
	stores := map[string]func(t *testing.T) store{
		"bbolt": func(t *testing.T) store {
			dir := t.TempDir()
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return store{s, s, func(t *testing.T, text string) bool {
				b, err := os.ReadFile(filepath.Join(dir, "runs.db"))
				if err != nil {
					t.Fatal(err)
				}
				return bytes.Contains(b, []byte(text))
			}}
		},
		"postgres": func(t *testing.T) store {
			s := openPG(t, pgtest.DSN(t), time.Second)
			t.Cleanup(func() { s.Close() })
			return store{s, s, func(t *testing.T, text string) bool {
				var n int
				err := s.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM runs WHERE position($1::bytea in run) > 0`, []byte(text)).Scan(&n)
				if err != nil {
					t.Fatal(err)
				}
				return n > 0
			}}
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			done, running := NewID(), NewID()
			for id, st := range map[string]agentsv1.RunStatus{done: agentsv1.RunStatus_RUN_STATUS_SUCCEEDED, running: agentsv1.RunStatus_RUN_STATUS_RUNNING} {
				if err := s.Put(quotingRun(id, st)); err != nil {
					t.Fatal(err)
				}
			}
			for _, text := range append(d1Texts, d2Sentence) {
				if !s.holds(t, text) {
					t.Fatalf("the store does not hold %q before the scrub: the check cannot fail", text)
				}
			}
			cs, err := s.Cited(ctx)
			if err != nil {
				t.Fatal(err)
			}
			d1 := Cited{Tenant: "acme", Collection: "ops", Document: "d1"}
			if want := []Cited{d1, {Tenant: "acme", Collection: "ops", Document: "d2"}}; !equalCited(cs, want) {
				t.Fatalf("Cited = %v, want %v", cs, want)
			}
			if n, err := s.Scrub(ctx, d1); err != nil || n != 1 {
				t.Fatalf("Scrub = %d, %v; want the finished run", n, err)
			}
			checkScrubbed(t, s, done)
			// The running run still quotes d1 (it may be written again);
			// once finished, the next scrub takes it.
			if r, err := s.Get(running); err != nil || r.GetPassages()[0].GetText() == "" {
				t.Fatalf("the running run was scrubbed under its writer: %v", err)
			}
			if err := s.Put(quotingRun(running, agentsv1.RunStatus_RUN_STATUS_SUCCEEDED)); err != nil {
				t.Fatal(err)
			}
			if n, err := s.Scrub(ctx, d1); err != nil || n != 1 {
				t.Fatalf("second Scrub = %d, %v; want the run that finished", n, err)
			}
			checkScrubbed(t, s, running)
			for _, text := range d1Texts {
				if s.holds(t, text) {
					t.Errorf("the store still holds %q of the deleted document", text)
				}
			}
			if !s.holds(t, d2Sentence) {
				t.Error("the scrub removed the text of a document that was not deleted")
			}
			if cs, err := s.Cited(ctx); err != nil || !equalCited(cs, []Cited{{Tenant: "acme", Collection: "ops", Document: "d2"}}) {
				t.Errorf("Cited after the scrub = %v, %v; want d2 only", cs, err)
			}
			if n, err := s.Scrub(ctx, d1); err != nil || n != 0 {
				t.Errorf("a third Scrub = %d, %v; want nothing left", n, err)
			}
		})
	}
}

func equalCited(a, b []Cited) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func checkScrubbed(t *testing.T, s Runs, id string) {
	t.Helper()
	r, err := s.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	p := r.GetPassages()[0]
	if p.GetText() != "" || p.GetHeading() != "" || p.GetDocumentCard() != nil || p.GetChunkId() != "d1-c7" || p.GetDocumentId() != "d1" || p.GetPage() != 4 {
		t.Errorf("d1's passage after the scrub: %v; want its references only", p)
	}
	if r.GetPassages()[1].GetText() != d2Sentence {
		t.Errorf("d2's passage after the scrub: %v", r.GetPassages()[1])
	}
	if c := r.GetCitations()[0]; c.GetQuote() != "" || !c.GetDocumentDeleted() || c.GetPage() != 4 || c.GetDocumentId() != "d1" {
		t.Errorf("d1's citation after the scrub: %v", c)
	}
	if c := r.GetCitations()[1]; c.GetQuote() != d2Sentence || c.GetDocumentDeleted() {
		t.Errorf("d2's citation after the scrub: %v", c)
	}
	want := Redacted + " Riders wait 11.4 minutes less [tides.pdf p.2]."
	if r.GetAnswer() != want {
		t.Errorf("answer after the scrub:\n%q\nwant\n%q", r.GetAnswer(), want)
	}
	if cl := r.GetVerification().GetClaims(); cl[0].GetClaim() != Redacted || cl[1].GetClaim() != "Riders wait less" {
		t.Errorf("claims after the scrub: %v", cl)
	}
	if ev := r.GetSubAnswers()[0].GetEvidence(); len(ev[0].GetExtracts()) != 0 || ev[0].GetPassage().GetText() != "" || ev[1].GetExtracts()[0] != d2Sentence {
		t.Errorf("evidence after the scrub: %v", ev)
	}
	if sa := r.GetSubAnswers()[0].GetAnswer(); strings.Contains(sa, "Harbour") || r.GetScratchpad() != "read: "+Redacted+"." {
		t.Errorf("sub-answer %q and scratchpad %q after the scrub", sa, r.GetScratchpad())
	}
}

// A run file written before the index existed is indexed when opened, so
// its runs are scrubbed too.
func TestOpenIndexesAnOlderRunFile(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, "runs.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := NewID()
	b, _ := proto.Marshal(quotingRun(id, agentsv1.RunStatus_RUN_STATUS_SUCCEEDED))
	err = db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucket(bucket)
		if err != nil {
			return err
		}
		return bk.Put([]byte(id), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.Scrub(context.Background(), Cited{Tenant: "acme", Collection: "ops", Document: "d1"}); err != nil || n != 1 {
		t.Fatalf("Scrub of an older file's run = %d, %v", n, err)
	}
	checkScrubbed(t, s, id)
}

// Runs written to PostgreSQL before the index existed (cited false, no
// run_documents rows; more than one page of them) are indexed when a
// replica opens the store, so their runs are scrubbed too.
func TestOpenIndexesOlderPostgresRuns(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := openPG(t, dsn, time.Second)
	ctx := context.Background()
	ids := make([]string, 130)
	for i := range ids {
		ids[i] = NewID()
		if err := s.Put(quotingRun(ids[i], agentsv1.RunStatus_RUN_STATUS_SUCCEEDED)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.db.Pool.Exec(ctx, `UPDATE runs SET cited = false`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Pool.Exec(ctx, `DELETE FROM run_documents`); err != nil {
		t.Fatal(err)
	}
	if cs, err := s.Cited(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("Cited with the index emptied = %v, %v: the check cannot fail", cs, err)
	}
	s.Close()

	s = openPG(t, dsn, time.Second)
	defer s.Close()
	var uncited int
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM runs WHERE NOT cited`).Scan(&uncited); err != nil || uncited != 0 {
		t.Fatalf("%d runs left unindexed after open (%v)", uncited, err)
	}
	d1 := Cited{Tenant: "acme", Collection: "ops", Document: "d1"}
	if cs, err := s.Cited(ctx); err != nil || !equalCited(cs, []Cited{d1, {Tenant: "acme", Collection: "ops", Document: "d2"}}) {
		t.Fatalf("Cited after open = %v, %v", cs, err)
	}
	if n, err := s.Scrub(ctx, d1); err != nil || n != len(ids) {
		t.Fatalf("Scrub of the older runs = %d, %v; want %d", n, err, len(ids))
	}
	checkScrubbed(t, s, ids[0])
	checkScrubbed(t, s, ids[len(ids)-1])
}
