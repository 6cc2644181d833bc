package mesh

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/testenv"
	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
)

// Deleting a document on a whole mesh removes its text from the runs that
// quoted it, with nobody reading them: a question is answered from a
// sample, the document is deleted through REST, and within the agents'
// scrub interval (a minute) no passage text of the document is left in
// the agents' run file (grepped), while the run still reads, its
// citations marked deleted.
func TestDeletedDocumentLeavesTheRunFile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole mesh and asks the embedded model")
	}
	data := t.TempDir()
	m := StartForTest(t, UpOptions{Data: data, HTTPAddr: "127.0.0.1:0", LogLevel: "error"})
	base := "http://" + m.Gateway().HTTPAddr
	if err := testenv.WaitHTTP(base+"/healthz", 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	c, err := pdfqa.Dial(ctx, "etcd://"+m.Etcd.Endpoint(), pdfqa.WithRegistry(Registry()), pdfqa.WithAPIKey(m.AdminKey))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Ingest(ctx, "scrub", nil, filepath.Join(root, "samples", "northwind-annual-report-2025.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	doc := got[0].Document.GetId()
	var run *pdfqa.Run
	for ev, err := range c.Ask(ctx, "scrub", "What was Northwind Ferries' total revenue in 2025?", pdfqa.WithMaxSubQuestions(1)) {
		if err != nil {
			t.Fatal(err)
		}
		if r, ok := ev.(pdfqa.RunDone); ok {
			run = r.Run
		}
	}
	if run == nil || len(run.GetPassages()) == 0 {
		t.Fatalf("the run quotes no passage: %v", run)
	}
	var texts []string
	for _, p := range run.GetPassages() {
		if p.GetDocumentId() == doc && len(p.GetText()) >= 40 {
			texts = append(texts, p.GetText()[:40])
		}
	}
	file := filepath.Join(data, "agents", "runs.db")
	holds := func() []string {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var in []string
		for _, s := range texts {
			if bytes.Contains(b, []byte(s)) {
				in = append(in, s)
			}
		}
		return in
	}
	if len(texts) == 0 || len(holds()) != len(texts) {
		t.Fatalf("the run file does not hold the run's passages before the delete (%d of %d): the check cannot fail", len(holds()), len(texts))
	}
	if code, b, err := testenv.Call(context.Background(), nil, "DELETE", base+"/v1/collections/scrub/documents/"+doc, m.AdminKey, nil); err != nil || code != http.StatusOK {
		t.Fatalf("DELETE: %d %s %v", code, b, err)
	}
	start := time.Now()
	for len(holds()) > 0 {
		if time.Since(start) > 3*time.Minute {
			t.Fatalf("3 minutes after the delete the run file still holds %q", holds())
		}
		time.Sleep(time.Second)
	}
	t.Logf("the run file was scrubbed %v after the delete", time.Since(start).Round(time.Second))
	r, err := c.Run(ctx, run.GetId())
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range r.GetCitations() {
		if ct.GetDocumentId() == doc && (!ct.GetDocumentDeleted() || ct.GetQuote() != "") {
			t.Errorf("citation after the scrub: %v", ct)
		}
	}
}
