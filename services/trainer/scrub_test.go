package trainer

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/platform/testenv"
)

// listedChunks is a collection's chunks (the retrieval service is another
// module and process; TestScrubRemovesDeletedDocumentsFromDatasets needs
// its ListChunks and ListDocuments only) whose document list the test
// changes to delete one.
type listedChunks struct {
	chunks []Chunk
	mu     sync.Mutex
	docs   map[string]bool
}

func (l *listedChunks) Chunks(context.Context, string) ([]Chunk, error) { return l.chunks, nil }

func (l *listedChunks) DocumentIDs(context.Context, string) (map[string]bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]bool{}
	for d := range l.docs {
		out[d] = true
	}
	return out, nil
}

func (l *listedChunks) delete(doc string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.docs, doc)
}

// filesHolding lists the files under dirs whose bytes contain text.
func filesHolding(t *testing.T, text string, dirs ...string) []string {
	t.Helper()
	var out []string
	for _, dir := range dirs {
		for _, p := range testenv.Files(t, dir) {
			b, err := os.ReadFile(p)
			if errors.Is(err, fs.ErrNotExist) { // a temporary file renamed since the walk
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(text)) {
				out = append(out, p)
			}
		}
	}
	return out
}

// Deleting a document removes its examples from the datasets built from
// its collection, on both stores: no file of the trainer's data
// directories (every replica's copy) or of the shared bucket holds its
// text afterwards, the other documents' examples stay, and the counts,
// sha256s and the filtered tally say what happened.
func TestScrubRemovesDeletedDocumentsFromDatasets(t *testing.T) {
	var chunks []Chunk
	words := []string{"Alderney", "Brecqhou", "Carteret", "Dielette", "Ecrehous", "Flamanville"}
	docs := map[string]bool{}
	for d, w := range words {
		id := string(rune('a' + d))
		docs[id] = true
		for c := range 2 {
			chunks = append(chunks, Chunk{ID: id + string(rune('0'+c)), DocumentID: id,
				Text: w + string(rune('0'+c)) + " revenue rose sharply " + strings.Repeat("filler words for length ", 5)})
		}
	}
	for _, tc := range []struct {
		name   string
		shared bool
	}{{"files", false}, {"postgres", true}} {
		t.Run(tc.name, func(t *testing.T) {
			src := &listedChunks{chunks: chunks, docs: map[string]bool{}}
			for d := range docs {
				src.docs[d] = true
			}
			o := Options{Runner: &fakeRunner{}, Chunks: src, Generator: fakeGen{}, ScrubInterval: 20 * time.Millisecond}
			var dirs []string
			var svcs []*Service
			if tc.shared {
				bucket := t.TempDir()
				o.StoreURL, o.BlobsURL = pgtest.DSN(t), "file://"+filepath.ToSlash(bucket)+"?create_dir=1&metadata=skip"
				dirs = append(dirs, bucket)
			}
			for range map[bool]int{false: 1, true: 2}[tc.shared] {
				r := o
				r.DataDir = t.TempDir()
				dirs = append(dirs, r.DataDir)
				svcs = append(svcs, newService(t, r))
			}
			ctx := context.Background()
			d, err := svcs[0].buildDataset(ctx, &trainerv1.BuildDatasetRequest{Collection: "c", Seed: 2})
			if err != nil {
				t.Fatal(err)
			}
			before := d.GetCounts().GetTrain() + d.GetCounts().GetValidation() + d.GetCounts().GetTest()
			if len(svcs) > 1 { // the other replica's copy of the files
				got, err := svcs[1].meta.dataset(ctx, d.GetId())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := svcs[1].datasetDir(ctx, got); err != nil {
					t.Fatal(err)
				}
			}
			if fs := filesHolding(t, "Alderney", dirs...); len(fs) < len(svcs) {
				t.Fatalf("files holding document a's text before the delete: %v; the check cannot fail", fs)
			}
			src.delete("a")
			deadline := time.Now().Add(time.Minute)
			for len(filesHolding(t, "Alderney", dirs...)) > 0 {
				if time.Now().After(deadline) {
					t.Fatalf("a minute after the delete, document a's text is still in %v", filesHolding(t, "Alderney", dirs...))
				}
				time.Sleep(20 * time.Millisecond)
			}
			for _, w := range words[1:] {
				if len(filesHolding(t, w, dirs...)) == 0 {
					t.Errorf("the scrub removed %s's examples too", w)
				}
			}
			for _, s := range svcs {
				// The split files are written before the manifest.
				var got *trainerv1.Dataset
				for {
					if got, err = s.meta.dataset(ctx, d.GetId()); err != nil {
						t.Fatal(err)
					}
					if got.GetFiltered()["document_deleted"] > 0 || time.Now().After(deadline) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				after := got.GetCounts().GetTrain() + got.GetCounts().GetValidation() + got.GetCounts().GetTest()
				if after != before-got.GetFiltered()["document_deleted"] || got.GetFiltered()["document_deleted"] != 2 || !got.GetCreateTime().AsTime().Equal(d.GetCreateTime().AsTime()) {
					t.Errorf("dataset after the scrub: %d examples (%d before), filtered %v, created %v (was %v)", after, before, got.GetFiltered(), got.GetCreateTime().AsTime(), d.GetCreateTime().AsTime())
				}
				if _, err := s.datasetDir(ctx, got); err != nil {
					t.Errorf("the scrubbed dataset's files do not match its manifest: %v", err)
				}
			}
		})
	}
}
