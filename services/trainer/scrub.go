package trainer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/auth"
)

// DefaultScrubInterval is how often the service looks for deleted
// documents whose examples built datasets still hold (Options.ScrubInterval).
const DefaultScrubInterval = time.Minute

// DocumentLister says which documents a collection still has: retrieval's
// ListDocuments (RetrievalChunks). A ChunkSource that is one lets the
// service scrub deleted documents from its datasets.
type DocumentLister interface {
	// DocumentIDs returns the ids of collection's documents; a collection
	// that is gone has none (not an error).
	DocumentIDs(ctx context.Context, collection string) (map[string]bool, error)
}

// scrubLoop removes deleted documents' examples from the built datasets
// now and then every interval until the service closes (scrubDeleted).
func (s *Service) scrubLoop(lister DocumentLister, interval time.Duration) {
	defer close(s.scrubbed)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.scrubDeleted(s.ctx, lister); err != nil && s.ctx.Err() == nil {
			s.log.Warn("scrubbing deleted documents from datasets", "err", err)
		} else if n > 0 {
			s.log.Info("removed deleted documents' examples from datasets", "datasets", n)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// scrubDeleted rewrites every built dataset holding examples of a document
// its collection no longer has, without them (asking retrieval once per
// tenant and collection, as that tenant); a collection retrieval cannot
// answer for now is left for the next round. It returns how many datasets
// it rewrote. Imported datasets name no collection and are the
// importer's; their examples are kept.
func (s *Service) scrubDeleted(ctx context.Context, lister DocumentLister) (int, error) {
	ds, err := s.meta.datasets(ctx)
	if err != nil {
		return 0, err
	}
	type coll struct{ tenant, name string }
	exists := map[coll]map[string]bool{}
	n := 0
	for _, d := range ds {
		if d.GetCollection() == "" {
			continue
		}
		k := coll{d.GetTenant(), d.GetCollection()}
		if k.tenant == "" {
			k.tenant = auth.DefaultTenant
		}
		ids, ok := exists[k]
		if !ok {
			lctx, cancel := context.WithTimeout(auth.WithPrincipal(ctx, auth.Principal{Tenant: k.tenant, Role: auth.Reader, KeyID: "trainer-scrub"}), 10*time.Second)
			ids, err = lister.DocumentIDs(lctx, k.name)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return n, ctx.Err()
				}
				s.log.Debug("cannot list a collection's documents; its datasets are scrubbed later", "collection", k.name, "err", err)
				continue
			}
			exists[k] = ids
		}
		changed, err := s.scrubDataset(ctx, d, ids)
		if err != nil {
			return n, fmt.Errorf("dataset %s: %w", d.GetId(), err)
		}
		if changed {
			n++
		}
	}
	return n, nil
}

// scrubDataset drops d's examples of documents not in exists and, when it
// dropped any, writes the dataset again (split files, sha256s and counts;
// with the shared store the bucket's objects, which every replica's copy
// is checked against). The read, the filter and the write are one
// meta.rewriteDataset: the dataset as it is stored then, not d as listed,
// so that two scrubs at once (every replica runs one) apply one after the
// other and neither brings back what the other dropped.
func (s *Service) scrubDataset(ctx context.Context, d *trainerv1.Dataset, exists map[string]bool) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var prev, next *trainerv1.Dataset
	err := s.meta.rewriteDataset(ctx, d.GetId(), func(ctx context.Context, cur *trainerv1.Dataset) (*trainerv1.Dataset, error) {
		prev = cur
		n, err := s.withoutDeleted(ctx, cur, exists)
		if err != nil || n == nil {
			return nil, err
		}
		if s.blobs != nil {
			// What neither version names: a failed rewrite's uploads.
			keep := append(datasetFiles(cur), datasetObjects(n)...)
			if err := s.deleteDatasetObjects(ctx, cur.GetId(), func(k string) bool { return !slices.Contains(keep, k) }); err != nil {
				return nil, err
			}
		}
		next = n
		return n, nil
	})
	if err != nil || next == nil {
		return false, err
	}
	if s.blobs != nil {
		// The version replaced: its files held the deleted documents' text.
		keep := datasetObjects(next)
		old := datasetFiles(prev)
		if err := s.deleteDatasetObjects(ctx, d.GetId(), func(k string) bool { return slices.Contains(old, k) && !slices.Contains(keep, k) }); err != nil {
			s.log.Warn("delete a scrubbed dataset's old objects (the next scrub does)", "dataset", d.GetId(), "err", err)
		}
	}
	return true, nil
}

// withoutDeleted is d without the examples of documents not in exists, its files
// written (and uploaded with the shared store), or nil when it has none to
// drop.
func (s *Service) withoutDeleted(ctx context.Context, d *trainerv1.Dataset, exists map[string]bool) (*trainerv1.Dataset, error) {
	dir, err := s.datasetDir(ctx, d)
	if err != nil {
		return nil, err
	}
	splits := map[string][]example{}
	dropped := 0
	for _, name := range Splits {
		b, err := os.ReadFile(filepath.Join(dir, name+".jsonl"))
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			var ex example
			if err := json.Unmarshal(sc.Bytes(), &ex); err != nil {
				return nil, fmt.Errorf("%s.jsonl: %w", name, err)
			}
			if ex.DocumentID != "" && !exists[ex.DocumentID] {
				dropped++
				continue
			}
			splits[name] = append(splits[name], ex)
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	if dropped == 0 {
		return nil, nil
	}
	next := proto.Clone(d).(*trainerv1.Dataset)
	if next.Filtered == nil {
		next.Filtered = map[string]int32{}
	}
	next.Filtered["document_deleted"] += int32(dropped)
	if err := s.writeSplits(next, splits); err != nil {
		return nil, err
	}
	if err := s.uploadDataset(ctx, next); err != nil {
		return nil, err
	}
	return next, nil
}

// DocumentIDs implements DocumentLister.
func (r RetrievalChunks) DocumentIDs(ctx context.Context, collection string) (map[string]bool, error) {
	resp, err := r.Client.ListDocuments(ctx, &retrievalv1.ListDocumentsRequest{Collection: collection})
	if status.Code(err) == codes.NotFound {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list documents of %q: %w", collection, err)
	}
	out := make(map[string]bool, len(resp.GetDocuments()))
	for _, d := range resp.GetDocuments() {
		out[d.GetId()] = true
	}
	return out, nil
}
