package retrieval

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/services/retrieval/chunk"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/index"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// fakeParser returns doc (or err) for any bytes.
type fakeParser struct {
	doc *parse.Document
	err error
}

func (f fakeParser) Parse(context.Context, []byte, parse.Options) (*parse.Document, error) {
	return f.doc, f.err
}
func (f fakeParser) ParseReaderAt(context.Context, io.ReaderAt, int64, parse.Options) (*parse.Document, error) {
	return f.doc, f.err
}
func (fakeParser) Close() error { return nil }

func twoPages() *parse.Document {
	return &parse.Document{PageCount: 2, Metadata: parse.Metadata{Title: "Acme quarterly report"}, Pages: []parse.Page{
		{Number: 1, HasTextLayer: true, Text: "Acme Corp reported revenue of 12 million dollars.\nOperating income rose."},
		{Number: 2, HasTextLayer: true, Images: 1, Text: "Guidance for the next quarter is unchanged."},
	}}
}

type testBed struct {
	p     *pipeline
	st    *store.Bolt
	blobs *store.Files
}

// openStores opens the embedded stores in dir as Open does.
func openStores(t *testing.T, dir string) (*store.Bolt, *store.Files) {
	t.Helper()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := store.OpenFiles(filepath.Join(dir, "blobs"))
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	return st, blobs
}

func newTestBed(t *testing.T, parser parse.Parser) testBed {
	t.Helper()
	st, blobs := openStores(t, t.TempDir())
	t.Cleanup(func() { st.Close(); blobs.Close() })
	cfg := Config{Log: quietLog(), Embedder: namedHash{embed.Hash{Dim: 16}, "fast"}}.withDefaults()
	cache := newVectorCache(st, cfg.Log, "fast", "", 0)
	return testBed{newPipeline(cfg, st, blobs, parser, chunk.WordCount, cache, newHub()), st, blobs}
}

// add stores a PDF's bytes and its PENDING document, as Upload does.
func (b testBed) add(t *testing.T, data string) store.Document {
	t.Helper()
	sha, err := b.blobs.Put(context.Background(), []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := b.st.AddDocument(t.Context(), store.Document{ID: sha[:24], Collection: "c", Name: "acme.pdf", SHA256: sha, Size: int64(len(data))}, "")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// ingest runs the document's job and returns the events published and the
// document as stored afterwards.
func (b testBed) ingest(t *testing.T, ctx context.Context, d store.Document) ([]Event, store.Document) {
	t.Helper()
	ch, _, _, stop := b.p.hub.subscribe(docKey{d.Collection, d.ID})
	defer stop()
	b.p.ingest(ctx, docKey{d.Collection, d.ID})
	var evs []Event
	for len(ch) > 0 {
		evs = append(evs, <-ch)
	}
	got, err := b.st.GetDocument(t.Context(), d.Collection, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	return evs, got
}

// The stages run in order, each once; the first failing one ends the job
// with the document FAILED and the stage's error as its reason, published
// as the terminal event, and the stages after it do not run.
func TestPipelineStagesRunInOrderAndAFailureFailsTheDocument(t *testing.T) {
	for _, failAt := range []string{"parse", "chunk", "embed", "commit", ""} {
		t.Run("fail at "+cmp.Or(failAt, "none"), func(t *testing.T) {
			b := newTestBed(t, fakeParser{})
			var ran []string
			for i, s := range b.p.stages {
				name := s.name
				b.p.stages[i].run = func(ctx context.Context, j *ingestJob) error {
					ran = append(ran, name)
					if name == failAt {
						return stageErr{name + " went wrong"}
					}
					return nil
				}
			}
			d := b.add(t, "%PDF-1.7")
			evs, got := b.ingest(t, context.Background(), d)
			all := []string{"parse", "chunk", "embed", "commit"}
			want := all
			if i := slices.Index(all, failAt); i >= 0 {
				want = all[:i+1]
			}
			if !slices.Equal(ran, want) {
				t.Errorf("stages ran %v, want %v", ran, want)
			}
			if failAt == "" {
				if got.State != store.StateProcessing { // the fake commit does not mark it READY
					t.Errorf("state %s after fake stages", got.State)
				}
				return
			}
			if got.State != store.StateFailed || got.Error != failAt+" went wrong" {
				t.Errorf("document %s %q, want FAILED %q", got.State, got.Error, failAt+" went wrong")
			}
			if len(evs) == 0 || !evs[len(evs)-1].Terminal() || evs[len(evs)-1].Message != failAt+" went wrong" {
				t.Errorf("events %+v: want a terminal FAILED event with the reason", evs)
			}
			if left, err := b.st.Unfinished(t.Context()); err != nil || len(left) != 0 {
				t.Errorf("a FAILED document keeps its job: %v, %v", left, err)
			}
		})
	}
}

// With its own stages the pipeline takes a document from the stored bytes
// to READY, reporting each stage in order, and the vector cache holds the
// new vectors.
func TestPipelineIngestsADocument(t *testing.T) {
	b := newTestBed(t, fakeParser{doc: twoPages()})
	d := b.add(t, "%PDF-1.7 acme")
	b.p.cache.fast("c") // loaded before: the commit patches it
	evs, got := b.ingest(t, context.Background(), d)
	if got.State != store.StateReady || got.Chunks == 0 || got.Pages != 2 || got.EmbedModel != "fast" || got.Attempts != 1 {
		t.Fatalf("document after ingestion: %+v", got)
	}
	if got.Metadata["title"] != "Acme quarterly report" {
		t.Errorf("metadata %v", got.Metadata)
	}
	if n := b.p.cache.fast("c").Len(); n != got.Chunks {
		t.Errorf("%d vectors in the cache for %d chunks", n, got.Chunks)
	}
	if ds := b.p.cache.readyDocs("c"); len(ds) != 1 || ds[0].ID != d.ID {
		t.Errorf("ready docs %v", ds)
	}
	var stages []retrievalv1.IngestionStage
	for _, ev := range evs {
		if len(stages) == 0 || stages[len(stages)-1] != ev.Stage {
			stages = append(stages, ev.Stage)
		}
	}
	want := []retrievalv1.IngestionStage{StageParse, StageOCR, StageChunk, StageEmbed, StageIndex, StageDone}
	if !slices.Equal(stages, want) {
		t.Errorf("stages reported %v, want %v", stages, want)
	}
	c, err := b.st.Chunk(t.Context(), "c", d.ID, 0)
	if err != nil || c.Context != got.Card.Summary {
		t.Errorf("first chunk %+v, %v: want the card's summary %q as its context", c, err, got.Card.Summary)
	}
	if title := index.Terms("quarterly")[0]; c.Terms[title] == 0 {
		t.Errorf("title term %q not indexed with the chunk: %v", title, c.Terms)
	}
}

func TestPipelineFailures(t *testing.T) {
	t.Run("parse error", func(t *testing.T) {
		b := newTestBed(t, fakeParser{err: fmt.Errorf("%w: no header", parse.ErrNotPDF)})
		_, got := b.ingest(t, context.Background(), b.add(t, "hello"))
		if got.State != store.StateFailed || !strings.Contains(got.Error, "not a PDF") {
			t.Errorf("document %s %q, want FAILED: not a PDF", got.State, got.Error)
		}
	})
	t.Run("blob missing", func(t *testing.T) {
		b := newTestBed(t, fakeParser{doc: twoPages()})
		d := b.add(t, "%PDF-1.7 gone")
		if err := b.blobs.Delete(context.Background(), d.SHA256); err != nil {
			t.Fatal(err)
		}
		_, got := b.ingest(t, context.Background(), d)
		if got.State != store.StateFailed || !strings.Contains(got.Error, "stored PDF bytes are missing") {
			t.Errorf("document %s %q", got.State, got.Error)
		}
	})
	t.Run("too many attempts", func(t *testing.T) {
		b := newTestBed(t, fakeParser{doc: twoPages()})
		d := b.add(t, "%PDF-1.7")
		if _, err := b.st.UpdateDocument(t.Context(), "c", d.ID, func(x *store.Document) { x.Attempts = b.p.cfg.MaxAttempts }); err != nil {
			t.Fatal(err)
		}
		_, got := b.ingest(t, context.Background(), d)
		if got.State != store.StateFailed || !strings.Contains(got.Error, "interrupted") {
			t.Errorf("document %s %q", got.State, got.Error)
		}
	})
	t.Run("closing leaves it to resume", func(t *testing.T) {
		b := newTestBed(t, fakeParser{err: context.Canceled})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, got := b.ingest(t, ctx, b.add(t, "%PDF-1.7"))
		if got.State != store.StateProcessing {
			t.Errorf("document %s %q, want PROCESSING (resumed on the next Open)", got.State, got.Error)
		}
	})
	t.Run("commit of a deleted document", func(t *testing.T) {
		b := newTestBed(t, fakeParser{doc: twoPages()})
		d := b.add(t, "%PDF-1.7")
		commit := b.p.stages[3]
		b.p.stages[3].run = func(ctx context.Context, j *ingestJob) error {
			err := commit.run(ctx, j)
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("commit after delete: %v", err)
			}
			return err
		}
		b.p.stages[2].run = func(ctx context.Context, j *ingestJob) error {
			_, err := b.st.DeleteDocument(t.Context(), "c", d.ID)
			return err
		}
		b.p.ingest(context.Background(), docKey{"c", d.ID})
		if _, err := b.st.GetDocument(t.Context(), "c", d.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted document came back: %v", err)
		}
	})
}
