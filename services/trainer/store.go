package trainer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
)

// store is the trainer's directory on this machine:
//
//	datasets/<id>/{train,validation,test}.jsonl, manifest.json
//	jobs/<id>/job.json, train.json, worker.log, out/{checkpoints,adapter,eval.json,adapter.gguf}
//
// With the embedded default (fileMeta) it is the whole truth, so a restarted
// trainer (or an operator with cat) sees every job; with the shared store
// (pgMeta) the manifests and jobs are in PostgreSQL and the bytes in the
// blob bucket, and this directory is the replica's working copy of the jobs
// it runs (the worker reads and writes local files).
type store struct{ dir string }

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func newID(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s-%s", prefix, time.Now().UTC().Format("20060102-150405"), hex.EncodeToString(b[:]))
}

func (s store) datasetDir(id string) string { return filepath.Join(s.dir, "datasets", id) }
func (s store) jobDir(id string) string     { return filepath.Join(s.dir, "jobs", id) }

// workerLock is the file a job's worker holds locked while it runs (RunSpec.Lock).
func (s store) workerLock(id string) string { return filepath.Join(s.jobDir(id), "worker.lock") }

var marshal = protojson.MarshalOptions{Multiline: true, UseProtoNames: true}

func writeJSON(path string, m proto.Message) error {
	b, err := marshal.Marshal(m)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	// A unique temporary file per write: concurrent writers of the same file
	// (a job's progress and a restarted service marking it) never rename each
	// other's half-written data; the last rename wins whole.
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if serr := f.Sync(); werr == nil {
		werr = serr
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(tmp)
		return werr
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func readJSON(path string, m proto.Message) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, m)
}

// readAllJSON reads every file matching pattern as a T (readJSON), in the
// files' order, passing over one that does not read (being replaced, or
// not a record).
func readAllJSON[T any, PT interface {
	*T
	proto.Message
}](pattern string) []PT {
	var out []PT
	files, _ := filepath.Glob(pattern)
	for _, f := range files {
		m := PT(new(T))
		if err := readJSON(f, m); err == nil {
			out = append(out, m)
		}
	}
	return out
}

// meta keeps the datasets' manifests and the jobs: fileMeta (JSON files,
// the embedded default) or pgMeta (PostgreSQL, shared by the replicas).
//
// A job runs on the replica that claimed it: createJob and requeueJob
// claim for this replica and return the claim's epoch; putJob writes a job
// only while this replica still holds it at that epoch (else ErrLost: it
// writes nothing); EvaluateAdapter and PublishAdapter write their result
// under a claim on the finished job too (pgMeta.reserve, reserve.go). The
// single process of the embedded default holds every job (epoch 0).
type meta interface {
	// putDataset records a new dataset (ErrAlreadyExist for an id in use:
	// a dataset is changed only by rewriteDataset).
	putDataset(ctx context.Context, d *trainerv1.Dataset) error
	dataset(ctx context.Context, id string) (*trainerv1.Dataset, error)
	datasets(ctx context.Context) ([]*trainerv1.Dataset, error)
	// rewriteDataset replaces dataset id by what fn makes of it (nil: it
	// stays as it is) in one step: fn is given the dataset as stored, and
	// no other rewrite of it runs until this one is recorded, so none
	// overwrites another's (pgMeta: the row locked FOR UPDATE in the
	// transaction that writes it; fileMeta: its mutex).
	rewriteDataset(ctx context.Context, id string, fn func(ctx context.Context, d *trainerv1.Dataset) (*trainerv1.Dataset, error)) error
	// createJob stores j, claimed by this replica, unless caps' jobs are
	// already queued or running (ErrBusy): the check and the insert are
	// one atomic step, so concurrent calls never pass the cap together.
	createJob(ctx context.Context, j *trainerv1.Job, w *trainerv1.WatchJobResponse, caps jobCaps) (epoch int64, err error)
	// requeueJob moves a cancelled or failed job back to QUEUED, claimed
	// by this replica, under the same cap (ErrState for other states).
	requeueJob(ctx context.Context, id string, caps jobCaps) (*trainerv1.Job, int64, error)
	// putJob persists j and its last progress; release gives up the claim
	// (the job ended, or is handed to another replica).
	putJob(ctx context.Context, j *trainerv1.Job, w *trainerv1.WatchJobResponse, epoch int64, release bool) error
	job(ctx context.Context, id string) (*trainerv1.Job, *trainerv1.WatchJobResponse, error)
	jobs(ctx context.Context) ([]*trainerv1.Job, error)
	close()
}

// ErrLost: this replica no longer holds the job (its lease expired and
// another replica claimed it); nothing was written.
var ErrLost = errors.New("job lost to another replica")

// activeState is a job that counts against the cap: queued or running.
func activeState(s trainerv1.JobState) bool {
	return s == trainerv1.JobState_JOB_STATE_QUEUED || s == trainerv1.JobState_JOB_STATE_RUNNING
}

func capError(n, limit int) error {
	return fmt.Errorf("%w: %d of %d training jobs already queued or running; wait for one to finish or cancel one", ErrBusy, n, limit)
}

// jobCaps are the caps on jobs queued or running: Total across the service
// (every replica with the shared store), PerTenant for one tenant (0: no
// cap but Total).
type jobCaps struct{ Total, PerTenant int }

// check fails with ErrBusy when one more job of tenant would pass a cap,
// n jobs being active in all and nt of them tenant's.
func (c jobCaps) check(n, nt int, tenant string) error {
	if n >= c.Total {
		return capError(n, c.Total)
	}
	if c.PerTenant > 0 && nt >= c.PerTenant {
		return fmt.Errorf("%w: tenant %q has %d of its %d training jobs already queued or running; wait for one to finish or cancel one", ErrBusy, tenant, nt, c.PerTenant)
	}
	return nil
}

// fileMeta is the embedded default: JSON files in the store's directory,
// owned by one trainer process (pdfqa up), whose mutex makes the cap's
// count and the new job's write one step.
type fileMeta struct {
	store
	mu sync.Mutex
}

func (s *fileMeta) close() {}

func (s *fileMeta) putDataset(_ context.Context, d *trainerv1.Dataset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	manifest := filepath.Join(s.datasetDir(d.GetId()), "manifest.json")
	if _, err := os.Stat(manifest); err == nil {
		return fmt.Errorf("%w: dataset %q", ErrAlreadyExist, d.GetId())
	}
	return writeJSON(manifest, d)
}

func (s *fileMeta) rewriteDataset(ctx context.Context, id string, fn func(ctx context.Context, d *trainerv1.Dataset) (*trainerv1.Dataset, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.dataset(ctx, id)
	if err != nil {
		return err
	}
	next, err := fn(ctx, d)
	if err != nil || next == nil {
		return err
	}
	return writeJSON(filepath.Join(s.datasetDir(id), "manifest.json"), next)
}

func (s *fileMeta) dataset(_ context.Context, id string) (*trainerv1.Dataset, error) {
	if !idPattern.MatchString(id) {
		return nil, fmt.Errorf("%w: dataset id %q", ErrInvalid, id)
	}
	d := &trainerv1.Dataset{}
	if err := readJSON(filepath.Join(s.datasetDir(id), "manifest.json"), d); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: dataset %q", ErrNotFound, id)
		}
		return nil, err
	}
	return d, nil
}

func (s *fileMeta) datasets(context.Context) ([]*trainerv1.Dataset, error) {
	out := readAllJSON[trainerv1.Dataset](filepath.Join(s.dir, "datasets", "*", "manifest.json"))
	sort.Slice(out, func(i, j int) bool { return out[i].GetCreateTime().AsTime().After(out[j].GetCreateTime().AsTime()) })
	return out, nil
}

// activeLocked counts the queued and running jobs on disk (every update is
// written through, so the files are the live state): all of them, and
// tenant's.
func (s *fileMeta) activeLocked(ctx context.Context, tenant string) (n, nt int, err error) {
	js, err := s.jobs(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, j := range js {
		if activeState(j.GetState()) {
			n++
			if j.GetTenant() == tenant {
				nt++
			}
		}
	}
	return n, nt, nil
}

func (s *fileMeta) createJob(ctx context.Context, j *trainerv1.Job, _ *trainerv1.WatchJobResponse, caps jobCaps) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, nt, err := s.activeLocked(ctx, j.GetTenant())
	if err != nil {
		return 0, err
	}
	if err := caps.check(n, nt, j.GetTenant()); err != nil {
		return 0, err
	}
	return 0, writeJSON(filepath.Join(s.jobDir(j.GetId()), "job.json"), j)
}

func (s *fileMeta) requeueJob(ctx context.Context, id string, caps jobCaps) (*trainerv1.Job, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, _, err := s.job(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if err := resumable(j); err != nil {
		return nil, 0, err
	}
	n, nt, err := s.activeLocked(ctx, j.GetTenant())
	if err != nil {
		return nil, 0, err
	}
	if err := caps.check(n, nt, j.GetTenant()); err != nil {
		return nil, 0, err
	}
	j.State = trainerv1.JobState_JOB_STATE_QUEUED
	return j, 0, writeJSON(filepath.Join(s.jobDir(id), "job.json"), j)
}

func (s *fileMeta) putJob(_ context.Context, j *trainerv1.Job, _ *trainerv1.WatchJobResponse, _ int64, _ bool) error {
	return writeJSON(filepath.Join(s.jobDir(j.GetId()), "job.json"), j)
}

func (s *fileMeta) job(_ context.Context, id string) (*trainerv1.Job, *trainerv1.WatchJobResponse, error) {
	if !idPattern.MatchString(id) {
		return nil, nil, fmt.Errorf("%w: job %q", ErrNotFound, id)
	}
	j := &trainerv1.Job{}
	if err := readJSON(filepath.Join(s.jobDir(id), "job.json"), j); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: job %q", ErrNotFound, id)
		}
		return nil, nil, err
	}
	return j, progressOf(j, ""), nil
}

func (s *fileMeta) jobs(context.Context) ([]*trainerv1.Job, error) {
	return readAllJSON[trainerv1.Job](filepath.Join(s.dir, "jobs", "*", "job.json")), nil
}

// resumable: only cancelled or failed jobs resume.
func resumable(j *trainerv1.Job) error {
	if st := j.GetState(); st != trainerv1.JobState_JOB_STATE_CANCELLED && st != trainerv1.JobState_JOB_STATE_FAILED {
		return fmt.Errorf("%w: job %s is %s; only cancelled or failed jobs resume", ErrState, j.GetId(), st)
	}
	return nil
}
