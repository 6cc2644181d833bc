package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/blobstore"
	"github.com/pdfqa/pdfqa/platform/breaker"
)

// With the shared store (Options.StoreURL) the trainer's bytes are in the
// blob bucket every replica reaches, under trainer/:
//
//	trainer/datasets/<id>/<split>-<sha256>.jsonl             (named by content: datasetblobs.go)
//	trainer/jobs/<id>/e<epoch>/checkpoints/step-NNNNNNNN/…   (recorded in table checkpoints)
//	trainer/jobs/<id>/e<epoch>/adapter/…                      (jobs.adapter_key)
//
// Keys carry the epoch of the claim that wrote them, so a replica that lost
// a job never overwrites what its successor wrote; only recorded keys are
// ever read.

// blobStore is the bucket, each call under a deadline and the breaker.
type blobStore struct {
	b       *blob.Bucket
	br      *breaker.Breaker
	timeout time.Duration
}

func openBlobs(ctx context.Context, url string) (*blobStore, error) {
	b, err := blobstore.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("trainer: blob bucket: %w", err)
	}
	br := breaker.New("blobs-trainer-jobs", breaker.Settings{IsFailure: func(err error) bool {
		return err != nil && gcerrors.Code(err) != gcerrors.NotFound && !errors.Is(err, context.Canceled)
	}}, nil)
	return &blobStore{b: b, br: br, timeout: 5 * time.Minute}, nil
}

func (b *blobStore) do(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if err := b.br.Do(func() error { return fn(ctx) }); err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return fmt.Errorf("%w: %s: %v", ErrNotFound, what, err)
		}
		return fmt.Errorf("%w: %s: %v", ErrUnavailable, what, err)
	}
	return nil
}

func (b *blobStore) putFile(ctx context.Context, key, file string) error {
	return b.do(ctx, "upload "+key, func(ctx context.Context) error {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		return writeBlob(ctx, b.b, key, f)
	})
}

func (b *blobStore) getFile(ctx context.Context, key, file string) error {
	return b.do(ctx, "download "+key, func(ctx context.Context) error {
		r, err := b.b.NewReader(ctx, key, nil)
		if err != nil {
			return err
		}
		defer r.Close()
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return err
		}
		f, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".*.tmp")
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), file)
		}
		if err != nil {
			os.Remove(f.Name())
		}
		return err
	})
}

// putDir uploads every regular file under dir to prefix/<relative path>.
func (b *blobStore) putDir(ctx context.Context, prefix, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		return b.putFile(ctx, prefix+"/"+filepath.ToSlash(rel), p)
	})
}

// getDir replaces dir with the objects under prefix/ (whole: it is filled
// beside dir and renamed over it).
func (b *blobStore) getDir(ctx context.Context, prefix, dir string) error {
	tmp := dir + ".download"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	var keys []string
	err := b.do(ctx, "list "+prefix, func(ctx context.Context) error {
		keys = keys[:0]
		return b.eachObject(ctx, prefix, func(key string) error {
			keys = append(keys, key)
			return nil
		})
	})
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return fmt.Errorf("%w: no objects under %s", ErrNotFound, prefix)
	}
	for _, k := range keys {
		rel := strings.TrimPrefix(k, prefix+"/")
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("%w: object %q escapes %s", ErrInvalid, k, prefix)
		}
		if err := b.getFile(ctx, k, filepath.Join(tmp, filepath.FromSlash(rel))); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// deleteCheckpointsExcept deletes the checkpoint objects under prefix/
// (keys with a /checkpoints/ part) that are not under one of the keep keys
// and were written under a claim of epoch upTo or before: a replica that
// lost the job since it pruned its records (it holds epoch upTo) never
// deletes what a later claim uploads.
func (b *blobStore) deleteCheckpointsExcept(ctx context.Context, prefix string, upTo int64, keep []string) error {
	return b.do(ctx, "prune "+prefix, func(ctx context.Context) error {
		return b.eachObject(ctx, prefix, func(key string) error {
			if !strings.Contains(key, "/checkpoints/") || slices.ContainsFunc(keep, func(k string) bool { return strings.HasPrefix(key, k+"/") }) {
				return nil
			}
			if e, ok := keyEpoch(prefix, key); !ok || e > upTo {
				return nil
			}
			if err := b.b.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
				return err
			}
			return nil
		})
	})
}

// keyEpoch is the claim epoch in a job object's key, prefix/e<epoch>/….
func keyEpoch(prefix, key string) (int64, bool) {
	rest, ok := strings.CutPrefix(key, prefix+"/e")
	if !ok {
		return 0, false
	}
	n, _, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, false
	}
	e, err := strconv.ParseInt(n, 10, 64)
	return e, err == nil
}

// eachObject calls fn with the key of every object under prefix/ (not the
// directories), stopping at the first error.
func (b *blobStore) eachObject(ctx context.Context, prefix string, fn func(key string) error) error {
	it := b.b.List(&blob.ListOptions{Prefix: prefix + "/"})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !o.IsDir {
			if err := fn(o.Key); err != nil {
				return err
			}
		}
	}
}

func jobKey(id string, epoch int64, what string) string {
	return fmt.Sprintf("trainer/jobs/%s/e%d/%s", id, epoch, what)
}

// outDir is the job's output directory on this machine.
func (s *Service) outDir(id string) string { return filepath.Join(s.store.jobDir(id), "out") }

// restoreCheckpoint makes the job's local checkpoints exactly the newest
// one recorded (none: an empty directory), so a job taken over from
// another replica continues where that one's last checkpoint left it, and
// a local checkpoint no claim recorded is never resumed from. It returns
// the step restored.
func (s *Service) restoreCheckpoint(ctx context.Context, id string) (int32, error) {
	if s.shared == nil {
		return 0, nil
	}
	key, step, ok, err := s.shared.latestCheckpoint(ctx, id)
	if err != nil {
		return 0, err
	}
	root := filepath.Join(s.outDir(id), "checkpoints")
	if err := os.RemoveAll(root); err != nil {
		return 0, err
	}
	if !ok {
		return 0, os.MkdirAll(root, 0o755)
	}
	return step, s.blobs.getDir(ctx, key, filepath.Join(root, path.Base(key)))
}

// saveCheckpoint uploads a checkpoint directory the worker announced and
// records it under the job's claim.
func (s *Service) saveCheckpoint(ctx context.Context, e *entry, ev Event) error {
	if s.shared == nil || ev.Path == "" {
		return nil
	}
	id := s.snapshot(e).GetId()
	s.mu.Lock()
	epoch := e.epoch
	s.mu.Unlock()
	dir := ev.Path
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(s.outDir(id), dir)
	}
	key := jobKey(id, epoch, "checkpoints/"+filepath.Base(dir))
	if err := s.blobs.putDir(ctx, key, dir); err != nil {
		return err
	}
	if err := s.shared.addCheckpoint(ctx, id, epoch, ev.Step, key); err != nil {
		return err
	}
	// Older checkpoints go: the records but the newest, then every
	// checkpoint object not recorded (older ones, and what a replica that
	// died mid-upload left).
	kept, err := s.shared.pruneCheckpoints(ctx, id, epoch)
	if err == nil {
		err = s.blobs.deleteCheckpointsExcept(ctx, "trainer/jobs/"+id, epoch, kept)
	}
	if err != nil {
		s.log.Warn("prune old checkpoints", "job", id, "err", err)
	}
	return nil
}

// saveAdapter uploads the trained adapter and records it.
func (s *Service) saveAdapter(ctx context.Context, id string, epoch int64) error {
	if s.shared == nil {
		return nil
	}
	key := jobKey(id, epoch, "adapter")
	if err := s.blobs.putDir(ctx, key, filepath.Join(s.outDir(id), "adapter")); err != nil {
		return err
	}
	return s.shared.setAdapter(ctx, id, epoch, key)
}

// fetchAdapter puts the job's trained adapter in its local output directory
// when another replica trained it.
func (s *Service) fetchAdapter(ctx context.Context, id string) error {
	if s.shared == nil {
		return nil
	}
	key, err := s.shared.adapterKey(ctx, id)
	if err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("%w: job %s has no uploaded adapter", ErrState, id)
	}
	local := filepath.Join(s.outDir(id), "adapter")
	if b, err := os.ReadFile(filepath.Join(local, ".key")); err == nil && string(b) == key {
		return nil
	}
	if err := s.blobs.getDir(ctx, key, local); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(local, ".key"), []byte(key), 0o644)
}

// replicate keeps this replica's claims (renewing each running job's
// lease, stopping a job it lost or one a CancelJob flagged) and takes over
// jobs no live replica holds, while the service runs.
func (s *Service) replicate() {
	defer close(s.replicated)
	tick := time.NewTicker(max(s.lease/4, 50*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		s.renewAll()
		s.takeOver()
	}
}

func (s *Service) renewAll() {
	type held struct {
		e      *entry
		id     string
		epoch  int64
		cancel context.CancelFunc
		// reserved: an evaluate or publish's claim (reserve), which a CancelJob's flag does not stop.
		reserved bool
	}
	s.mu.Lock()
	var hs []held
	for id, e := range s.jobs {
		switch {
		case e.busy && e.epoch > 0 && e.busyCancel != nil:
			hs = append(hs, held{e, id, e.epoch, e.busyCancel, true})
		case e.running && e.epoch > 0:
			hs = append(hs, held{e, id, e.epoch, e.cancel, false})
		}
	}
	s.mu.Unlock()
	for _, h := range hs {
		sent := time.Now()
		ctx, cancel := context.WithTimeout(s.ctx, s.lease/2)
		stop, err := s.shared.renew(ctx, h.id, h.epoch)
		cancel()
		s.mu.Lock()
		if h.e.epoch != h.epoch { // released or claimed again since: not the claim held now
			s.mu.Unlock()
			continue
		}
		switch {
		case errors.Is(err, ErrLost):
			h.e.lost = true
			s.log.Warn("job lost to another replica; stopping its worker", "job", h.id, "epoch", h.epoch)
			h.cancel()
		case err != nil:
			// Until the lease is renewed the job may be claimed elsewhere:
			// before the lease runs out this replica stops its worker.
			if time.Since(h.e.renewed) > s.lease*3/4 {
				h.e.lost = true
				s.log.Warn("job lease not renewed in time; stopping its worker", "job", h.id, "err", err)
				h.cancel()
			}
		default:
			h.e.renewed = sent
			if stop && !h.reserved && !h.e.cancelled {
				h.e.cancelled = true
				h.cancel()
			}
		}
		s.mu.Unlock()
	}
}

func (s *Service) takeOver() {
	for s.ctx.Err() == nil {
		s.mu.Lock()
		n := 0
		for _, e := range s.jobs {
			if e.running {
				n++
			}
		}
		s.mu.Unlock()
		if n >= s.maxJobs() {
			return
		}
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		c, err := s.shared.claim(ctx)
		cancel()
		if err != nil {
			if s.ctx.Err() == nil {
				s.log.Warn("claim trainer jobs", "err", err)
			}
			return
		}
		if c == nil {
			return
		}
		id := c.job.GetId()
		e := &entry{job: c.job, changed: make(chan struct{}), last: progressOf(c.job, ""), epoch: c.epoch}
		s.mu.Lock()
		old, ok := s.jobs[id]
		switch {
		case ok && old.running && !old.lost:
			// Its lease ran out while this replica's worker still runs it
			// (renewals failed): it keeps running it, under the new claim.
			old.epoch, old.renewed = c.epoch, time.Now()
			s.mu.Unlock()
			continue
		case ok && old.running:
			// This replica's worker of it is still stopping: give the claim
			// back until it has.
			s.mu.Unlock()
			rctx, rcancel := context.WithTimeout(s.ctx, storeTimeout)
			if err := s.meta.putJob(rctx, c.job, progressOf(c.job, ""), c.epoch, true); err != nil {
				s.log.Warn("give back a job claim", "job", id, "err", err)
			}
			rcancel()
			return
		case ok:
			// A job this replica ran before: its watchers stay attached.
			old.job, old.epoch, old.lost, old.cancelled = c.job, c.epoch, false, false
			e = old
		default:
			s.jobs[id] = e
		}
		s.mu.Unlock()
		if c.cancel {
			s.update(e, func(j *trainerv1.Job, w *trainerv1.WatchJobResponse) {
				j.State = trainerv1.JobState_JOB_STATE_CANCELLED
				w.Message = "cancelled; ResumeJob continues from the last checkpoint"
			})
			continue
		}
		s.log.Info("taking over a job no live replica holds", "job", id, "step", c.job.GetStep(), "epoch", c.epoch)
		s.launch(e)
	}
}

// writeBlob copies r to the bucket object key; a failed copy aborts the
// write, so no partial object is left under key.
func writeBlob(ctx context.Context, b *blob.Bucket, key string, r io.Reader) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.NewWriter(wctx, key, &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		cancel() // a writer whose context ends before Close discards what it wrote
		_ = w.Close()
		return err
	}
	return w.Close()
}
