package trainer

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"gocloud.dev/gcerrors"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/blobstore"
)

// With the shared store a dataset's split files are objects named by their
// content, trainer/datasets/<id>/<split>-<sha256>.jsonl, and the manifest
// (its sha256s) says which are the dataset: a rewrite (scrubDataset)
// uploads new objects beside the old ones and then records the manifest, so
// a reader never finds a file its manifest does not describe, and a rewrite
// that fails half way leaves the dataset as it was. Rewrites of one dataset
// run one at a time (meta.rewriteDataset); each first removes what no
// manifest names (a failed one's uploads), and the old version's objects go
// once the new manifest is recorded. Datasets written before this layout
// have their files at trainer/datasets/<id>/<split>.jsonl, read as a
// fallback and removed by their first rewrite.

func datasetPrefix(id string) string { return "trainer/datasets/" + id }

// datasetObject is the key of split's file with digest sum.
func datasetObject(id, split, sum string) string {
	return datasetPrefix(id) + "/" + split + "-" + sum + ".jsonl"
}

// legacyDatasetKey is where split's file was before content keys.
func legacyDatasetKey(id, split string) string { return datasetPrefix(id) + "/" + split + ".jsonl" }

// datasetObjects are the keys d's manifest names.
func datasetObjects(d *trainerv1.Dataset) []string {
	var out []string
	for _, split := range Splits {
		out = append(out, datasetObject(d.GetId(), split, d.GetSha256()[split]))
	}
	return out
}

// datasetFiles are the keys that may hold d's files: its objects, and the
// old layout's (a dataset written before content keys).
func datasetFiles(d *trainerv1.Dataset) []string {
	out := datasetObjects(d)
	for _, split := range Splits {
		out = append(out, legacyDatasetKey(d.GetId(), split))
	}
	return out
}

// recordDataset records a new dataset whose split files are in the
// store's directory: with the shared store the files go to the bucket
// first.
func (s *Service) recordDataset(ctx context.Context, d *trainerv1.Dataset) error {
	if err := s.uploadDataset(ctx, d); err != nil {
		return err
	}
	return s.meta.putDataset(ctx, d)
}

// uploadDataset puts d's local split files in the bucket under their
// content keys (the shared store; nothing with the embedded default).
func (s *Service) uploadDataset(ctx context.Context, d *trainerv1.Dataset) error {
	if s.blobs == nil {
		return nil
	}
	for _, split := range Splits {
		if err := s.blobs.putFile(ctx, datasetObject(d.GetId(), split, d.GetSha256()[split]), filepath.Join(s.store.datasetDir(d.GetId()), split+".jsonl")); err != nil {
			return err
		}
	}
	return nil
}

// deleteDatasetObjects deletes the objects under dataset id's prefix for
// which drop says so.
func (s *Service) deleteDatasetObjects(ctx context.Context, id string, drop func(key string) bool) error {
	return s.blobs.do(ctx, "delete dataset objects of "+id, func(ctx context.Context) error {
		return s.blobs.eachObject(ctx, datasetPrefix(id), func(key string) error {
			if !drop(key) {
				return nil
			}
			if err := s.blobs.b.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
				return err
			}
			return nil
		})
	})
}

// datasetDir is a local directory with d's split files: the store's own,
// fetched from the bucket (and checked against the manifest's sha256) when
// this replica does not have them. A file rewritten since d was read (its
// object gone) is fetched as the dataset's manifest now says.
func (s *Service) datasetDir(ctx context.Context, d *trainerv1.Dataset) (string, error) {
	dir := s.store.datasetDir(d.GetId())
	if s.blobs == nil {
		return dir, nil
	}
	for attempt := 1; ; attempt++ {
		err := s.fetchDataset(ctx, d, dir)
		if !errors.Is(err, ErrNotFound) || attempt == 3 {
			return dir, err
		}
		now, rerr := s.meta.dataset(ctx, d.GetId())
		if rerr != nil {
			return "", rerr
		}
		if datasetsEqual(now, d) {
			return "", err
		}
		d = now
	}
}

func datasetsEqual(a, b *trainerv1.Dataset) bool {
	return slices.Equal(datasetObjects(a), datasetObjects(b))
}

func (s *Service) fetchDataset(ctx context.Context, d *trainerv1.Dataset, dir string) error {
	for _, split := range Splits {
		file := filepath.Join(dir, split+".jsonl")
		want := d.GetSha256()[split]
		if sum, err := blobstore.FileSHA256(file); err == nil && sum == want {
			continue
		}
		err := s.blobs.getFile(ctx, datasetObject(d.GetId(), split, want), file)
		if errors.Is(err, ErrNotFound) {
			err = s.blobs.getFile(ctx, legacyDatasetKey(d.GetId(), split), file)
		}
		if err != nil {
			return err
		}
		if sum, err := blobstore.FileSHA256(file); err != nil || sum != want {
			return fmt.Errorf("%w: dataset %s: %s.jsonl from the bucket does not match its manifest's sha256", ErrState, d.GetId(), split)
		}
	}
	return nil
}
