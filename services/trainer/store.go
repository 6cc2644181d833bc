package trainer

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
)

// store keeps datasets and jobs as JSON files under one directory, so a
// restarted trainer (or an operator with cat) sees every job:
//
//	datasets/<id>/{train,validation,test}.jsonl, manifest.json
//	jobs/<id>/job.json, train.json, worker.log, out/{checkpoints,adapter,eval.json,adapter.gguf}
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

func (s store) saveDataset(d *trainerv1.Dataset) error {
	return writeJSON(filepath.Join(s.datasetDir(d.GetId()), "manifest.json"), d)
}

func (s store) dataset(id string) (*trainerv1.Dataset, error) {
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

func (s store) datasets() ([]*trainerv1.Dataset, error) {
	var out []*trainerv1.Dataset
	ms, _ := filepath.Glob(filepath.Join(s.dir, "datasets", "*", "manifest.json"))
	for _, m := range ms {
		d := &trainerv1.Dataset{}
		if err := readJSON(m, d); err == nil {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetCreateTime().AsTime().After(out[j].GetCreateTime().AsTime()) })
	return out, nil
}

func (s store) saveJob(j *trainerv1.Job) error {
	return writeJSON(filepath.Join(s.jobDir(j.GetId()), "job.json"), j)
}

func (s store) jobs() ([]*trainerv1.Job, error) {
	var out []*trainerv1.Job
	ms, _ := filepath.Glob(filepath.Join(s.dir, "jobs", "*", "job.json"))
	for _, m := range ms {
		j := &trainerv1.Job{}
		if err := readJSON(m, j); err == nil {
			out = append(out, j)
		}
	}
	return out, nil
}
