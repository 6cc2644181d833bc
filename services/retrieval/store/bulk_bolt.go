package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bulkTxChunks is how many chunks (with their vectors) a bulk load writes
// a transaction; bulkTxRecords how many sorted postings or term_docs
// records. Each transaction holds its dirty pages in memory until commit.
// (Variables: the tests make them small.)
var (
	bulkTxChunks  = 5000
	bulkTxRecords = 1 << 20
)

// bulkFill is the bbolt fill percent of pages written in key order by a
// bulk load (bbolt's default, 0.5, leaves appended pages half empty).
const bulkFill = 0.9

// BulkLoad implements BulkLoader. Chunks and vectors are written as the
// documents come (a transaction per bulkTxChunks chunks), postings and
// term_docs records sorted, in key order, after the last document. The
// collection is created (empty) first; its documents and counts are
// written in the last transaction, so it is never seen with part of its
// documents. The run files are next to the store's file. On failure what
// was written is removed.
func (s *Bolt) BulkLoad(ctx context.Context, coll string, next func() (*BulkDocument, error)) (c Collection, err error) {
	// the name is taken first (empty), so that no one else writes into it
	if err := s.bulkCreate(coll); err != nil {
		return c, err
	}
	idx := newBulkIndex(filepath.Dir(s.db.Path()))
	defer idx.close()
	defer func() {
		if err != nil {
			err = errors.Join(err, s.bulkUndo(coll))
		}
	}()
	var docs []Document
	flush := func(pending []*BulkDocument) error {
		return s.db.Update(func(tx *bolt.Tx) error {
			cb, vb := tx.Bucket(bChunks), tx.Bucket(bVectors)
			cb.FillPercent, vb.FillPercent = bulkFill, bulkFill
			type kv struct{ k, v []byte }
			var cs, vs []kv
			for _, d := range pending {
				for i, ch := range d.Chunks {
					raw, err := json.Marshal(ch)
					if err != nil {
						return err
					}
					k := chunkKey(coll, d.Doc.ID, ch.Seq)
					cs = append(cs, kv{k, raw})
					if d.Vecs != nil {
						buf := make([]byte, 4*len(d.Vecs[i]))
						for j, x := range d.Vecs[i] {
							binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(x))
						}
						vs = append(vs, kv{k, buf})
					}
				}
			}
			for _, l := range []struct {
				b  *bolt.Bucket
				kv []kv
			}{{cb, cs}, {vb, vs}} {
				slices.SortFunc(l.kv, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
				for _, p := range l.kv {
					if err := l.b.Put(p.k, p.v); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	chunks, total, err := bulkEach(ctx, coll, next, idx, func(d *BulkDocument) {
		doc := d.Doc
		doc.Collection, doc.RefinedModel = coll, ""
		docs = append(docs, doc)
	}, flush)
	if err != nil {
		return c, err
	}
	if err := s.bulkSorted(ctx, bPostings, idx.postings); err != nil {
		return c, err
	}
	if err := s.bulkSorted(ctx, bTermDocs, idx.termDocs); err != nil {
		return c, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if !getJSON(tx.Bucket(bCollections), []byte(coll), &c) {
			return fmt.Errorf("collection %q was deleted during its bulk load: %w", coll, ErrNotFound)
		}
		now := time.Now().UTC()
		c.Documents, c.Chunks, c.TotalLen = len(docs), chunks, total
		if err := putJSON(tx.Bucket(bCollections), []byte(coll), c); err != nil {
			return err
		}
		b := tx.Bucket(bDocs)
		for _, d := range docs {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			d.Seq, d.CreateTime, d.UpdateTime = seq, now, now
			if err := putJSON(b, key(coll, d.ID), d); err != nil {
				return err
			}
		}
		return nil
	})
	return c, err
}

// bulkCreate creates coll, empty, unless it exists (or index records of
// it are left over).
func (s *Bolt) bulkCreate(coll string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bCollections).Get([]byte(coll)) != nil {
			return fmt.Errorf("collection %q: %w", coll, ErrAlreadyExists)
		}
		p := key(coll, "")
		for _, b := range [][]byte{bChunks, bPostings, bTermDocs, bVectors} {
			if k, _ := tx.Bucket(b).Cursor().Seek(p); k != nil && bytes.HasPrefix(k, p) {
				return fmt.Errorf("collection %q has index records of an unfinished load: %w", coll, ErrAlreadyExists)
			}
		}
		_, _, err := createColl(tx, coll)
		return err
	})
}

// bulkSorted writes a sorter's records, in key order, into bucket, a
// transaction per bulkTxRecords.
func (s *Bolt) bulkSorted(ctx context.Context, bucket []byte, src *runSorter) error {
	next, done := src.pull()
	more := true
	for more {
		if err := ctx.Err(); err != nil {
			done()
			return err
		}
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			b.FillPercent = bulkFill
			for range bulkTxRecords {
				k, v, ok := next()
				if !ok {
					more = false
					return nil
				}
				// bbolt keeps the value slice until commit (k it copies)
				if err := b.Put(k, bytes.Clone(v)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			done()
			return err
		}
	}
	return done()
}

// bulkUndo removes what a failed load of coll wrote: its index records and
// its (empty) collection record.
func (s *Bolt) bulkUndo(coll string) error {
	p := key(coll, "")
	for _, b := range [][]byte{bChunks, bVectors, bPostings, bTermDocs} {
		for more := true; more; {
			// a transaction per bulkTxRecords deletions
			// (keys read first, then deleted by key: re-seeking the prefix
			// after each cursor delete walks every page this transaction
			// has emptied so far, quadratic in a large failed load)
			err := s.db.Update(func(tx *bolt.Tx) error {
				bk := tx.Bucket(b)
				var keys [][]byte
				c := bk.Cursor()
				for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p) && len(keys) < bulkTxRecords; k, _ = c.Next() {
					keys = append(keys, bytes.Clone(k))
				}
				for _, k := range keys {
					if err := bk.Delete(k); err != nil {
						more = false
						return err
					}
				}
				more = len(keys) == bulkTxRecords
				return nil
			})
			if err != nil {
				return fmt.Errorf("store: removing the failed bulk load of %q: %w", coll, err)
			}
		}
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bCollections).Delete([]byte(coll)) })
}
