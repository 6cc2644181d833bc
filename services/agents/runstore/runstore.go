// Package runstore persists agent runs in a bbolt file so that GetRun and
// ListRuns survive restarts.
package runstore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/platform/boltfile"
)

var (
	bucket = []byte("runs")
	// citedBucket indexes the documents runs quote: keys
	// tenant\x00collection\x00document\x00run id (citedKey).
	citedBucket = []byte("cited")
)

// ErrNotFound is an unknown run id.
var ErrNotFound = errors.New("run not found")

// InterruptedError is the error recorded on runs found RUNNING at startup.
const InterruptedError = "interrupted: the agents service stopped before the run finished; ask again"

// Store is the run store.
type Store struct {
	db *boltfile.DB
}

// Open opens (or creates) runs.db in dir and marks runs left RUNNING by a
// previous process as INTERRUPTED.
func Open(dir string) (*Store, error) {
	db, err := boltfile.Open(filepath.Join(dir, "runs.db"))
	if err != nil {
		return nil, fmt.Errorf("runstore: %w", err)
	}
	s := &Store{db: db}
	if err := s.interruptRunning(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.indexCited(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// NewID returns a time-ordered run id (sorts newest last).
func NewID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("r%013d%s", time.Now().UnixMilli(), hex.EncodeToString(b[:]))
}

// Put stores run.
func (s *Store) Put(run *agentsv1.Run) error {
	b, err := proto.Marshal(run)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		if err := putCited(tx, run); err != nil {
			return err
		}
		return bk.Put([]byte(run.GetId()), b)
	})
}

// Get returns a run.
func (s *Store) Get(id string) (*agentsv1.Run, error) {
	var run *agentsv1.Run
	err := s.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		if bk == nil {
			return ErrNotFound
		}
		v := bk.Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		run = &agentsv1.Run{}
		return proto.Unmarshal(v, run)
	})
	if err != nil {
		return nil, err
	}
	return run, nil
}

// List returns up to limit runs that keep accepts (nil: all), newest first,
// without evidence detail.
func (s *Store) List(limit int, keep func(*agentsv1.Run) bool) ([]*agentsv1.Run, error) {
	var out []*agentsv1.Run
	err := s.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			r := &agentsv1.Run{}
			if err := proto.Unmarshal(v, r); err != nil {
				return err
			}
			if keep != nil && !keep(r) {
				continue
			}
			r.SubAnswers, r.Passages, r.Scratchpad = nil, nil, ""
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// interrupt marks r, a run whose process is gone, INTERRUPTED now and
// returns its encoding: the one way both stores finish a lost run.
func interrupt(r *agentsv1.Run) ([]byte, error) {
	r.Status = agentsv1.RunStatus_RUN_STATUS_INTERRUPTED
	r.Error = InterruptedError
	r.FinishTime = timestamppb.Now()
	return proto.Marshal(r)
}

func (s *Store) interruptRunning() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		type kv struct{ k, v []byte }
		var fix []kv
		err = bk.ForEach(func(k, v []byte) error {
			r := &agentsv1.Run{}
			if err := proto.Unmarshal(v, r); err != nil {
				return err
			}
			if r.Status != agentsv1.RunStatus_RUN_STATUS_RUNNING {
				return nil
			}
			b, err := interrupt(r)
			if err != nil {
				return err
			}
			fix = append(fix, kv{append([]byte(nil), k...), b})
			return nil
		})
		if err != nil {
			return err
		}
		for _, f := range fix {
			if err := bk.Put(f.k, f.v); err != nil {
				return err
			}
		}
		return nil
	})
}
