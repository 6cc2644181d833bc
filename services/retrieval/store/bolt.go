package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
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

// Bolt is the embedded Store: one bbolt file plus a blobs directory.
type Bolt struct {
	db    *bolt.DB
	blobs string
}

var _ Store = (*Bolt)(nil)

// Open opens (creating) the store in dir.
func Open(dir string) (*Bolt, error) {
	blobs := filepath.Join(dir, "blobs")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(dir, "retrieval.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bCollections, bDocs, bJobs, bChunks, bPostings, bVectors, bRefined} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Bolt{db: db, blobs: blobs}, nil
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

func putJSON(b *bolt.Bucket, k []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, raw)
}

// CreateCollection implements Store; created is false when it existed.
func (s *Bolt) CreateCollection(name string) (c Collection, created bool, err error) {
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

// GetCollection implements Store.
func (s *Bolt) GetCollection(name string) (c Collection, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if !getJSON(tx.Bucket(bCollections), []byte(name), &c) {
			return fmt.Errorf("collection %q: %w", name, ErrNotFound)
		}
		return nil
	})
	return c, err
}

// ListCollections implements Store.
func (s *Bolt) ListCollections() (out []Collection, err error) {
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

// DeleteCollection implements Store; it returns the blob hashes no longer referenced.
func (s *Bolt) DeleteCollection(name string) (freed []string, err error) {
	var shas []string
	err = s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bCollections).Get([]byte(name)) == nil {
			return fmt.Errorf("collection %q: %w", name, ErrNotFound)
		}
		p := key(name, "")
		c := tx.Bucket(bDocs).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			var d Document
			if json.Unmarshal(v, &d) == nil {
				shas = append(shas, d.SHA256)
			}
		}
		for _, b := range [][]byte{bDocs, bJobs, bChunks, bPostings, bVectors, bRefined} {
			if err := prefixDelete(tx.Bucket(b), p); err != nil {
				return err
			}
		}
		return tx.Bucket(bCollections).Delete([]byte(name))
	})
	if err != nil {
		return nil, err
	}
	return s.freeBlobs(shas), nil
}

func (s *Bolt) blobPath(sha string) string { return filepath.Join(s.blobs, sha[:2], sha) }

// PutBlob implements Store: temp file, fsync, rename, fsync of the directory.
func (s *Bolt) PutBlob(data []byte) (string, error) {
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	path := s.blobPath(sha)
	if st, err := os.Stat(path); err == nil && st.Size() == int64(len(data)) {
		return sha, nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return "", err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return sha, nil
}

// Blob implements Store.
func (s *Bolt) Blob(sha string) ([]byte, error) {
	if len(sha) != 64 {
		return nil, fmt.Errorf("blob %q: %w", sha, ErrNotFound)
	}
	b, err := os.ReadFile(s.blobPath(sha))
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("blob %s: %w", sha, ErrNotFound)
	}
	return b, err
}

// freeBlobs removes the blobs no document references any more.
func (s *Bolt) freeBlobs(shas []string) []string {
	if len(shas) == 0 {
		return nil
	}
	used := map[string]bool{}
	_ = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bDocs).ForEach(func(_, v []byte) error {
			var d Document
			if json.Unmarshal(v, &d) == nil {
				used[d.SHA256] = true
			}
			return nil
		})
	})
	var freed []string
	for _, sha := range shas {
		if !used[sha] && len(sha) == 64 {
			if os.Remove(s.blobPath(sha)) == nil {
				freed = append(freed, sha)
			}
		}
	}
	return freed
}

// AddDocument implements Store.
func (s *Bolt) AddDocument(d Document, password string) (out Document, dup bool, err error) {
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

// GetDocument implements Store.
func (s *Bolt) GetDocument(coll, id string) (d Document, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if !getJSON(tx.Bucket(bDocs), key(coll, id), &d) {
			if tx.Bucket(bCollections).Get([]byte(coll)) == nil {
				return fmt.Errorf("collection %q: %w", coll, ErrNotFound)
			}
			return fmt.Errorf("document %q in collection %q: %w", id, coll, ErrNotFound)
		}
		return nil
	})
	return d, err
}

// ListDocuments implements Store (upload order).
func (s *Bolt) ListDocuments(coll string) (out []Document, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bCollections).Get([]byte(coll)) == nil {
			return fmt.Errorf("collection %q: %w", coll, ErrNotFound)
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

// UpdateDocument implements Store.
func (s *Bolt) UpdateDocument(coll, id string, fn func(*Document)) (d Document, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bDocs)
		k := key(coll, id)
		if !getJSON(b, k, &d) {
			return fmt.Errorf("document %q in collection %q: %w", id, coll, ErrNotFound)
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

// JobPassword implements Store.
func (s *Bolt) JobPassword(coll, id string) (pw string, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		pw = string(tx.Bucket(bJobs).Get(key(coll, id)))
		return nil
	})
	return pw, err
}

// Unfinished implements Store.
func (s *Bolt) Unfinished() (out []Document, err error) {
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

// DeleteDocument implements Store: the document, its job, chunks, postings
// and vectors go in one transaction; its blob when no longer referenced.
func (s *Bolt) DeleteDocument(coll, id string) error {
	var sha string
	err := s.db.Update(func(tx *bolt.Tx) error {
		var d Document
		k := key(coll, id)
		if !getJSON(tx.Bucket(bDocs), k, &d) {
			return fmt.Errorf("document %q in collection %q: %w", id, coll, ErrNotFound)
		}
		sha = d.SHA256
		nChunks, totalLen, err := dropIndex(tx, coll, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bDocs).Delete(k); err != nil {
			return err
		}
		if err := tx.Bucket(bJobs).Delete(k); err != nil {
			return err
		}
		return bumpColl(tx, coll, -1, -nChunks, -totalLen)
	})
	if err == nil {
		s.freeBlobs([]string{sha})
	}
	return err
}

// dropIndex removes a document's chunks, postings and vectors.
func dropIndex(tx *bolt.Tx, coll, id string) (n, total int64, err error) {
	p := key(coll, id, "")
	chunks, posts := tx.Bucket(bChunks), tx.Bucket(bPostings)
	c := chunks.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Seek(p) {
		var ch Chunk
		if json.Unmarshal(v, &ch) == nil {
			for t := range ch.Terms {
				if err := posts.Delete(postingKey(coll, t, id, ch.Seq)); err != nil {
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

// CommitIndex implements Store.
func (s *Bolt) CommitIndex(coll, id string, chunks []Chunk, vecs [][]float32, fn func(*Document)) (d Document, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		dk := key(coll, id)
		if !getJSON(tx.Bucket(bDocs), dk, &d) {
			return fmt.Errorf("document %q in collection %q: %w", id, coll, ErrNotFound)
		}
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

// Chunk implements Store.
func (s *Bolt) Chunk(coll, docID string, seq int) (c Chunk, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if !getJSON(tx.Bucket(bChunks), chunkKey(coll, docID, seq), &c) {
			return fmt.Errorf("chunk %s-%d: %w", docID, seq, ErrNotFound)
		}
		return nil
	})
	return c, err
}

// Postings implements Store.
func (s *Bolt) Postings(coll string, terms []string, fn func(string, int64, []Posting)) error {
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

// Vectors implements Store.
func (s *Bolt) Vectors(coll string, fn func(string, []int, [][]float32)) error {
	return s.vectors(bVectors, coll, fn)
}

// RefinedVectors implements Store.
func (s *Bolt) RefinedVectors(coll string, fn func(string, []int, [][]float32)) error {
	return s.vectors(bRefined, coll, fn)
}

// PutRefinedVectors implements Store.
func (s *Bolt) PutRefinedVectors(coll, id string, chunks int, seqs []int, vecs [][]float32, model string) (d Document, err error) {
	if len(seqs) != len(vecs) {
		return d, fmt.Errorf("store: %d seqs for %d vectors", len(seqs), len(vecs))
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		dk := key(coll, id)
		if !getJSON(tx.Bucket(bDocs), dk, &d) {
			return fmt.Errorf("document %q in collection %q: %w", id, coll, ErrNotFound)
		}
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

// ListChunks implements Store.
func (s *Bolt) ListChunks(coll, docID, after string, limit int) (out []Chunk, next string, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bCollections).Get([]byte(coll)) == nil {
			return fmt.Errorf("collection %q: %w", coll, ErrNotFound)
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
