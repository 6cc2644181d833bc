package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pdfqa/pdfqa/platform/boltfile"
)

var (
	bCollections = []byte("collections")
	bDocs        = []byte("docs")
	bJobs        = []byte("jobs")
	bChunks      = []byte("chunks")
	bPostings    = []byte("postings")
	bVectors     = []byte("vectors")
	bRefined     = []byte("vectors_refined")
)

// Bolt is the embedded Store: one bbolt file (Meta here, Index in
// bolt_index.go).
type Bolt struct {
	db *boltfile.DB // compacted in place: bolt_compact.go
}

var _ Store = (*Bolt)(nil)

// Open opens (creating) the store's file, retrieval.db, in dir.
func Open(dir string) (*Bolt, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "retrieval.db")
	db, err := boltfile.Open(path)
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bCollections, bDocs, bJobs, bChunks, bPostings, bVectors, bRefined} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if tx.Bucket(bTermDocs) == nil {
			// a file from before the block-max records: written from its
			// postings, once
			if _, err := tx.CreateBucket(bTermDocs); err != nil {
				return err
			}
			return backfillTermDocs(tx)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Bolt{db: db}, nil
}

// Close closes the database.
func (s *Bolt) Close() error { return s.db.Close() }

func key(parts ...string) []byte {
	var b []byte
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

func chunkKey(coll, doc string, seq int) []byte {
	k := key(coll, doc, "")
	return binary.BigEndian.AppendUint32(k, uint32(seq))
}

func prefixDelete(b *bolt.Bucket, prefix []byte) error {
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

func getJSON(b *bolt.Bucket, k []byte, v any) bool {
	raw := b.Get(k)
	if raw == nil {
		return false
	}
	return json.Unmarshal(raw, v) == nil
}

// getDoc reads document id of coll into d; docNotFound when there is none.
func getDoc(tx *bolt.Tx, coll, id string, d *Document) error {
	if !getJSON(tx.Bucket(bDocs), key(coll, id), d) {
		return docNotFound(coll, id)
	}
	return nil
}

func putJSON(b *bolt.Bucket, k []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, raw)
}

// CreateCollection implements Meta; created is false when it existed.
func (s *Bolt) CreateCollection(_ context.Context, name string) (c Collection, created bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		c, created, err = createColl(tx, name)
		return err
	})
	return c, created, err
}

func createColl(tx *bolt.Tx, name string) (Collection, bool, error) {
	b := tx.Bucket(bCollections)
	var c Collection
	if getJSON(b, []byte(name), &c) {
		return c, false, nil
	}
	c = Collection{Name: name, CreateTime: time.Now().UTC()}
	return c, true, putJSON(b, []byte(name), c)
}

// GetCollection implements Meta.
func (s *Bolt) GetCollection(_ context.Context, name string) (c Collection, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if !getJSON(tx.Bucket(bCollections), []byte(name), &c) {
			return collNotFound(name)
		}
		return nil
	})
	return c, err
}

// ListCollections implements Meta.
func (s *Bolt) ListCollections(_ context.Context) (out []Collection, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bCollections).ForEach(func(_, v []byte) error {
			var c Collection
			if json.Unmarshal(v, &c) == nil {
				out = append(out, c)
			}
			return nil
		})
	})
	return out, err
}

// DeleteCollection implements Meta.
func (s *Bolt) DeleteCollection(_ context.Context, name string) (unreferenced []string, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bCollections).Get([]byte(name)) == nil {
			return collNotFound(name)
		}
		p := key(name, "")
		var shas []string
		c := tx.Bucket(bDocs).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			var d Document
			if json.Unmarshal(v, &d) == nil {
				shas = append(shas, d.SHA256)
			}
		}
		for _, b := range [][]byte{bDocs, bJobs, bChunks, bPostings, bTermDocs, bVectors, bRefined} {
			if err := prefixDelete(tx.Bucket(b), p); err != nil {
				return err
			}
		}
		unreferenced = unused(tx, shas)
		return tx.Bucket(bCollections).Delete([]byte(name))
	})
	if err != nil {
		return nil, err
	}
	return unreferenced, nil
}

// unused returns the hashes of shas no document of tx references.
func unused(tx *bolt.Tx, shas []string) []string {
	if len(shas) == 0 {
		return nil
	}
	used := map[string]bool{}
	_ = tx.Bucket(bDocs).ForEach(func(_, v []byte) error {
		var d Document
		if json.Unmarshal(v, &d) == nil {
			used[d.SHA256] = true
		}
		return nil
	})
	var out []string
	for _, sha := range shas {
		if !used[sha] && !slices.Contains(out, sha) {
			out = append(out, sha)
		}
	}
	return out
}

// AddDocument implements Meta.
func (s *Bolt) AddDocument(_ context.Context, d Document, password string) (out Document, dup bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		if _, _, err := createColl(tx, d.Collection); err != nil {
			return err
		}
		docs := tx.Bucket(bDocs)
		k := key(d.Collection, d.ID)
		if getJSON(docs, k, &out) {
			dup = true
			return nil
		}
		seq, err := docs.NextSequence()
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		d.Seq, d.State, d.CreateTime, d.UpdateTime = seq, StatePending, now, now
		out = d
		if err := putJSON(docs, k, d); err != nil {
			return err
		}
		if err := bumpColl(tx, d.Collection, 1, 0, 0); err != nil {
			return err
		}
		return tx.Bucket(bJobs).Put(k, []byte(password))
	})
	return out, dup, err
}

func bumpColl(tx *bolt.Tx, name string, docs int, chunks, totalLen int64) error {
	b := tx.Bucket(bCollections)
	var c Collection
	if !getJSON(b, []byte(name), &c) {
		return nil
	}
	c.Documents += docs
	c.Chunks += chunks
	c.TotalLen += totalLen
	return putJSON(b, []byte(name), c)
}

// GetDocument implements Meta.
func (s *Bolt) GetDocument(_ context.Context, coll, id string) (d Document, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if !getJSON(tx.Bucket(bDocs), key(coll, id), &d) {
			if tx.Bucket(bCollections).Get([]byte(coll)) == nil {
				return collNotFound(coll)
			}
			return docNotFound(coll, id)
		}
		return nil
	})
	return d, err
}

// ListDocuments implements Meta (upload order).
func (s *Bolt) ListDocuments(_ context.Context, coll string) (out []Document, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bCollections).Get([]byte(coll)) == nil {
			return collNotFound(coll)
		}
		p := key(coll, "")
		c := tx.Bucket(bDocs).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			var d Document
			if json.Unmarshal(v, &d) == nil {
				out = append(out, d)
			}
		}
		return nil
	})
	sortBySeq(out)
	return out, err
}

func sortBySeq(ds []Document) {
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && ds[j].Seq < ds[j-1].Seq; j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
}

// UpdateDocument implements Meta.
func (s *Bolt) UpdateDocument(_ context.Context, coll, id string, fn func(*Document)) (d Document, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bDocs)
		k := key(coll, id)
		if !getJSON(b, k, &d) {
			return docNotFound(coll, id)
		}
		fn(&d)
		d.UpdateTime = time.Now().UTC()
		if d.State == StateReady || d.State == StateFailed {
			if err := tx.Bucket(bJobs).Delete(k); err != nil {
				return err
			}
		}
		return putJSON(b, k, d)
	})
	return d, err
}

// JobPassword implements Meta.
func (s *Bolt) JobPassword(_ context.Context, coll, id string) (pw string, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		pw = string(tx.Bucket(bJobs).Get(key(coll, id)))
		return nil
	})
	return pw, err
}

// Unfinished implements Meta.
func (s *Bolt) Unfinished(_ context.Context) (out []Document, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bDocs).ForEach(func(_, v []byte) error {
			var d Document
			if json.Unmarshal(v, &d) == nil && (d.State == StatePending || d.State == StateProcessing) {
				out = append(out, d)
			}
			return nil
		})
	})
	sortBySeq(out)
	return out, err
}

// DeleteDocument implements Meta: the document, its job, chunks, postings
// and vectors go in one transaction.
func (s *Bolt) DeleteDocument(_ context.Context, coll, id string) (unreferenced []string, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		var d Document
		if err := getDoc(tx, coll, id, &d); err != nil {
			return err
		}
		nChunks, totalLen, err := dropIndex(tx, coll, id)
		if err != nil {
			return err
		}
		k := key(coll, id)
		if err := tx.Bucket(bDocs).Delete(k); err != nil {
			return err
		}
		if err := tx.Bucket(bJobs).Delete(k); err != nil {
			return err
		}
		unreferenced = unused(tx, []string{d.SHA256})
		return bumpColl(tx, coll, -1, -nChunks, -totalLen)
	})
	return unreferenced, err
}
