package trainer

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/pgtest"
)

// TestConcurrentScrubsOfOneDataset: scrubs of one dataset at once (on
// both replicas with the shared store, as every replica's scrub loop runs
// them), each from the same listing but seeing more or fewer documents
// deleted, apply one after the other: the dataset ends without any
// document one of them saw deleted (none brings back what another
// dropped), each example dropped is counted once, its manifest matches its
// files on every replica, and no file of the bucket or of a replica's
// directory holds a deleted document's text.
func TestConcurrentScrubsOfOneDataset(t *testing.T) {
	const docs, deletedMost, calls = 8, 4, 16
	word := func(d int) string { return fmt.Sprintf("Quillwort%c", 'A'+d) }
	var jsonl strings.Builder
	for d := range docs {
		for i := range 2 {
			fmt.Fprintf(&jsonl, `{"question": "What about %s %d?", "answer": "%s answer %d", "context": "%s context.", "document_id": "d%d"}`+"\n", word(d), i, word(d), i, word(d), d)
		}
	}
	for _, shared := range []bool{false, true} {
		t.Run(map[bool]string{false: "files", true: "postgres"}[shared], func(t *testing.T) {
			o := Options{Runner: &fakeRunner{}}
			var dirs []string
			if shared {
				bucket := t.TempDir()
				o.StoreURL, o.BlobsURL = pgtest.DSN(t), "file://"+filepath.ToSlash(bucket)+"?create_dir=1&metadata=skip"
				dirs = append(dirs, bucket)
			}
			var svcs []*Service
			for range map[bool]int{false: 1, true: 2}[shared] {
				r := o
				r.DataDir = t.TempDir()
				dirs = append(dirs, r.DataDir)
				svcs = append(svcs, newService(t, r))
			}
			ctx := context.Background()
			d, err := svcs[0].importDataset(ctx, &trainerv1.ImportDatasetRequest{Jsonl: []byte(jsonl.String()), TestFraction: 0.25, ValidationFraction: 0.25})
			if err != nil {
				t.Fatal(err)
			}
			if len(filesHolding(t, word(0), dirs...)) == 0 {
				t.Fatal("no file holds document 0's text before the scrubs: the check below cannot fail")
			}
			errs := make([]error, calls)
			exists := make([]map[string]bool, calls)
			for i := range calls {
				// Call i sees documents 0..k deleted, k from 0 to deletedMost-1.
				exists[i] = map[string]bool{}
				for doc := i%deletedMost + 1; doc < docs; doc++ {
					exists[i][fmt.Sprintf("d%d", doc)] = true
				}
			}
			atOnce(calls, func(i int) {
				_, errs[i] = svcs[i%len(svcs)].scrubDataset(ctx, d, exists[i])
			})
			for i, err := range errs {
				if err != nil {
					t.Fatalf("scrub %d: %v", i, err)
				}
			}
			for k, s := range svcs {
				got, err := s.meta.dataset(ctx, d.GetId())
				if err != nil {
					t.Fatal(err)
				}
				n := got.GetCounts().GetTrain() + got.GetCounts().GetValidation() + got.GetCounts().GetTest()
				if n != 2*(docs-deletedMost) || got.GetFiltered()["document_deleted"] != 2*deletedMost {
					t.Errorf("replica %d: %d examples, %d counted dropped; want %d and %d", k, n, got.GetFiltered()["document_deleted"], 2*(docs-deletedMost), 2*deletedMost)
				}
				if _, err := s.datasetDir(ctx, got); err != nil {
					t.Errorf("replica %d: the dataset's files do not match its manifest: %v", k, err)
				}
			}
			for doc := range docs {
				fs := filesHolding(t, word(doc), dirs...)
				if doc < deletedMost && len(fs) > 0 {
					t.Errorf("deleted document %d's text is still in %v", doc, fs)
				}
				if doc >= deletedMost && len(fs) < len(svcs) {
					t.Errorf("document %d's text is in %v only", doc, fs)
				}
			}
		})
	}
}

// A dataset written before content keys (its files at
// trainer/datasets/<id>/<split>.jsonl) still reads on a replica without a
// copy, and its first rewrite moves it to content keys, leaving no object
// of the old layout (they held the deleted document's text).
func TestDatasetOfTheOldLayout(t *testing.T) {
	bucket := t.TempDir()
	o := Options{Runner: &fakeRunner{}, StoreURL: pgtest.DSN(t), BlobsURL: "file://" + filepath.ToSlash(bucket) + "?create_dir=1&metadata=skip"}
	oa, ob := o, o
	oa.DataDir, ob.DataDir = t.TempDir(), t.TempDir()
	a, b := newService(t, oa), newService(t, ob)
	ctx := context.Background()
	d, err := a.importDataset(ctx, &trainerv1.ImportDatasetRequest{Jsonl: []byte(tinyJSONL), TestFraction: 0.2, ValidationFraction: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	for _, split := range Splits {
		from, to := datasetObject(d.GetId(), split, d.GetSha256()[split]), legacyDatasetKey(d.GetId(), split)
		if err := a.blobs.b.Copy(ctx, to, from, nil); err != nil {
			t.Fatal(err)
		}
		if err := a.blobs.b.Delete(ctx, from); err != nil {
			t.Fatal(err)
		}
	}
	keys := func() []string {
		var out []string
		if err := a.blobs.eachObject(ctx, datasetPrefix(d.GetId()), func(k string) error { out = append(out, k); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if ks := keys(); len(ks) != len(Splits) || !strings.HasSuffix(ks[0], "/test.jsonl") {
		t.Fatalf("the old layout: %v", ks)
	}
	if _, err := b.datasetDir(ctx, d); err != nil {
		t.Fatalf("a dataset of the old layout on another replica: %v", err)
	}
	exists := map[string]bool{"d2": true, "d3": true, "d4": true, "d5": true} // d1 deleted
	if changed, err := b.scrubDataset(ctx, d, exists); err != nil || !changed {
		t.Fatalf("scrub: %v %v", changed, err)
	}
	got, err := a.meta.dataset(ctx, d.GetId())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{datasetObject(d.GetId(), "test", got.GetSha256()["test"]), datasetObject(d.GetId(), "train", got.GetSha256()["train"]),
		datasetObject(d.GetId(), "validation", got.GetSha256()["validation"])}
	if ks := keys(); !slices.Equal(ks, want) {
		t.Fatalf("objects after the rewrite: %v, want %v", ks, want)
	}
	if fs := filesHolding(t, "$4.2 billion", bucket); len(fs) > 0 {
		t.Fatalf("the deleted document's text is still in %v", fs)
	}
	if _, err := a.datasetDir(ctx, got); err != nil {
		t.Fatalf("the rewritten dataset on the first replica: %v", err)
	}
}

// A new dataset never replaces one with its id (ids are random; a
// collision is refused, not written over), on both stores.
func TestDatasetIDInUse(t *testing.T) {
	for _, impl := range storeImpls {
		t.Run(impl.name, func(t *testing.T) {
			m := impl.open(t, Options{Runner: &fakeRunner{}})[0].meta
			ctx := context.Background()
			first := &trainerv1.Dataset{Id: "ds-same", Collection: "first", CreateTime: timestamppb.Now()}
			if err := m.putDataset(ctx, first); err != nil {
				t.Fatal(err)
			}
			err := m.putDataset(ctx, &trainerv1.Dataset{Id: "ds-same", Collection: "second", CreateTime: timestamppb.Now()})
			if !errors.Is(err, ErrAlreadyExist) {
				t.Fatalf("a second dataset with the id: %v, want ErrAlreadyExist", err)
			}
			if got, err := m.dataset(ctx, "ds-same"); err != nil || got.GetCollection() != "first" {
				t.Fatalf("the dataset after the refused one: %v %v", got, err)
			}
		})
	}
}
