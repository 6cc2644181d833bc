package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// dropIndex removes a document's chunks, postings and vectors.
func dropIndex(tx *bolt.Tx, coll, id string) (n, total int64, err error) {
	p := key(coll, id, "")
	chunks, posts, tds := tx.Bucket(bChunks), tx.Bucket(bPostings), tx.Bucket(bTermDocs)
	c := chunks.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Seek(p) {
		var ch Chunk
		if json.Unmarshal(v, &ch) == nil {
			for t := range ch.Terms {
				if err := posts.Delete(postingKey(coll, t, id, ch.Seq)); err != nil {
					return 0, 0, err
				}
				if err := tds.Delete(key(coll, t, id)); err != nil {
					return 0, 0, err
				}
			}
			n++
			total += int64(ch.Len)
		}
		if err := c.Delete(); err != nil {
			return 0, 0, err
		}
	}
	if err := prefixDelete(tx.Bucket(bRefined), p); err != nil {
		return 0, 0, err
	}
	return n, total, prefixDelete(tx.Bucket(bVectors), p)
}

func postingKey(coll, term, doc string, seq int) []byte {
	return binary.BigEndian.AppendUint32(key(coll, term, doc, ""), uint32(seq))
}

// CommitIndex implements Index.
func (s *Bolt) CommitIndex(_ context.Context, coll, id string, chunks []Chunk, vecs [][]float32, fn func(*Document)) (d Document, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := getDoc(tx, coll, id, &d); err != nil {
			return err
		}
		dk := key(coll, id)
		// A retried ingestion replaces what an earlier attempt wrote.
		oldN, oldLen, err := dropIndex(tx, coll, id)
		if err != nil {
			return err
		}
		cb, pb, vb := tx.Bucket(bChunks), tx.Bucket(bPostings), tx.Bucket(bVectors)
		var total int64
		// Postings are written in key order: bbolt inserts into a sorted
		// in-memory node, so unordered puts cost a memmove each (quadratic
		// in the postings of one commit).
		type kv struct{ k, v []byte }
		var posts []kv
		for i, ch := range chunks {
			if err := putJSON(cb, chunkKey(coll, id, ch.Seq), ch); err != nil {
				return err
			}
			for t, tf := range ch.Terms {
				v := binary.AppendUvarint(nil, uint64(tf))
				v = binary.AppendUvarint(v, uint64(ch.Len))
				posts = append(posts, kv{postingKey(coll, t, id, ch.Seq), v})
			}
			total += int64(ch.Len)
			if vecs != nil {
				buf := make([]byte, 4*len(vecs[i]))
				for j, x := range vecs[i] {
					binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(x))
				}
				if err := vb.Put(chunkKey(coll, id, ch.Seq), buf); err != nil {
					return err
				}
			}
		}
		if err := putTermDocs(tx, coll, id, chunks); err != nil {
			return err
		}
		slices.SortFunc(posts, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
		for _, p := range posts {
			if err := pb.Put(p.k, p.v); err != nil {
				return err
			}
		}
		if err := bumpColl(tx, coll, 0, int64(len(chunks))-oldN, total-oldLen); err != nil {
			return err
		}
		d.RefinedModel = "" // dropIndex removed them
		fn(&d)
		d.UpdateTime = time.Now().UTC()
		if err := tx.Bucket(bJobs).Delete(dk); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bDocs), dk, d)
	})
	return d, err
}

// Chunk implements Index.
func (s *Bolt) Chunk(_ context.Context, coll, docID string, seq int) (c Chunk, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if !getJSON(tx.Bucket(bChunks), chunkKey(coll, docID, seq), &c) {
			return fmt.Errorf("chunk %s-%d: %w", docID, seq, ErrNotFound)
		}
		return nil
	})
	return c, err
}

// Chunks implements Index (one read transaction).
func (s *Bolt) Chunks(_ context.Context, coll string, refs []ChunkRef) (out []Chunk, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bChunks)
		for _, r := range refs {
			var c candidateChunk
			if getJSON(b, chunkKey(coll, r.DocID, r.Seq), &c) {
				out = append(out, c.Chunk)
			}
		}
		return nil
	})
	return out, err
}

// candidateChunk decodes a stored chunk without building its term counts
// (the outer field takes the "terms" key: Chunks returns Terms nil).
type candidateChunk struct {
	Chunk
	Terms json.RawMessage `json:"terms"`
}

// Postings implements Index.
func (s *Bolt) Postings(_ context.Context, coll string, terms []string, fn func(string, int64, []Posting)) error {
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bPostings).Cursor()
		for _, t := range terms {
			p := key(coll, t, "")
			var ps []Posting
			for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
				rest := k[len(p):]
				if len(rest) < 5 {
					continue
				}
				doc := string(rest[:len(rest)-5])
				seq := int(binary.BigEndian.Uint32(rest[len(rest)-4:]))
				tf, n := binary.Uvarint(v)
				dl, _ := binary.Uvarint(v[n:])
				ps = append(ps, Posting{DocID: doc, Seq: seq, TF: int(tf), Len: int(dl)})
			}
			fn(t, int64(len(ps)), ps)
		}
		return nil
	})
}

// Vectors implements Index.
func (s *Bolt) Vectors(_ context.Context, coll string, fn func(string, []int, [][]float32)) error {
	return s.vectors(bVectors, coll, fn)
}

// RefinedVectors implements Index.
func (s *Bolt) RefinedVectors(_ context.Context, coll string, fn func(string, []int, [][]float32)) error {
	return s.vectors(bRefined, coll, fn)
}

// PutRefinedVectors implements Index.
func (s *Bolt) PutRefinedVectors(_ context.Context, coll, id string, chunks int, seqs []int, vecs [][]float32, model string) (d Document, err error) {
	if len(seqs) != len(vecs) {
		return d, fmt.Errorf("store: %d seqs for %d vectors", len(seqs), len(vecs))
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := getDoc(tx, coll, id, &d); err != nil {
			return err
		}
		dk := key(coll, id)
		if d.State != StateReady || d.Chunks != chunks {
			return fmt.Errorf("document %q changed while its vectors were refined: %w", id, ErrConflict)
		}
		vb := tx.Bucket(bRefined)
		if err := prefixDelete(vb, key(coll, id, "")); err != nil {
			return err
		}
		for i, v := range vecs {
			buf := make([]byte, 4*len(v))
			for j, x := range v {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(x))
			}
			if err := vb.Put(chunkKey(coll, id, seqs[i]), buf); err != nil {
				return err
			}
		}
		d.RefinedModel = model
		return putJSON(tx.Bucket(bDocs), dk, d)
	})
	return d, err
}

func (s *Bolt) vectors(bucket []byte, coll string, fn func(string, []int, [][]float32)) error {
	return s.db.View(func(tx *bolt.Tx) error {
		p := key(coll, "")
		c := tx.Bucket(bucket).Cursor()
		var doc string
		var seqs []int
		var vecs [][]float32
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			rest := k[len(p):]
			if len(rest) < 5 {
				continue
			}
			d := string(rest[:len(rest)-5])
			if d != doc && len(seqs) > 0 {
				fn(doc, seqs, vecs)
				seqs, vecs = nil, nil
			}
			doc = d
			x := make([]float32, len(v)/4)
			for j := range x {
				x[j] = math.Float32frombits(binary.LittleEndian.Uint32(v[4*j:]))
			}
			seqs = append(seqs, int(binary.BigEndian.Uint32(rest[len(rest)-4:])))
			vecs = append(vecs, x)
		}
		if len(seqs) > 0 {
			fn(doc, seqs, vecs)
		}
		return nil
	})
}

// ListChunks implements Index.
func (s *Bolt) ListChunks(_ context.Context, coll, docID, after string, limit int) (out []Chunk, next string, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bCollections).Get([]byte(coll)) == nil {
			return collNotFound(coll)
		}
		p := key(coll, "")
		if docID != "" {
			p = key(coll, docID, "")
		}
		c := tx.Bucket(bChunks).Cursor()
		k, v := c.Seek(p)
		if after != "" {
			ak, err := base64.RawURLEncoding.DecodeString(after)
			if err != nil || !bytes.HasPrefix(ak, p) {
				return fmt.Errorf("%w: bad page token", ErrBadToken)
			}
			k, v = c.Seek(ak)
			if k != nil && bytes.Equal(k, ak) {
				k, v = c.Next()
			}
		}
		for ; k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if len(out) == limit {
				next = base64.RawURLEncoding.EncodeToString(chunkKey(coll, out[len(out)-1].DocID, out[len(out)-1].Seq))
				return nil
			}
			var ch Chunk
			if json.Unmarshal(v, &ch) == nil {
				out = append(out, ch)
			}
		}
		return nil
	})
	return out, next, err
}
