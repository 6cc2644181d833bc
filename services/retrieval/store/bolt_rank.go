package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// The embedded store's block-max records (blockmax.go): bucket term_docs,
// key coll\0term\0doc, value
//
//	uvarint postings, uvarint bound points,
//	points   (uvarint block, tf, len) ...,
//	postings (uvarint seq, tf, len) ...
//
// so that the bounds are read without decoding the postings.
var bTermDocs = []byte("term_docs")

var _ KeywordRanker = (*Bolt)(nil)

func encodeTermDoc(p *termDocPostings) []byte {
	pts := p.bounds()
	v := binary.AppendUvarint(nil, uint64(len(p.Seqs)))
	v = binary.AppendUvarint(v, uint64(len(pts)))
	for _, q := range pts {
		v = binary.AppendUvarint(v, uint64(q.Block))
		v = binary.AppendUvarint(v, uint64(q.TF))
		v = binary.AppendUvarint(v, uint64(q.Len))
	}
	for i := range p.Seqs {
		v = binary.AppendUvarint(v, uint64(p.Seqs[i]))
		v = binary.AppendUvarint(v, uint64(p.TFs[i]))
		v = binary.AppendUvarint(v, uint64(p.Lens[i]))
	}
	return v
}

var errBadTermDoc = errors.New("store: corrupt term_docs record")

// uvarints decodes n uvarints of v into out (appended); it returns the rest.
func uvarints(v []byte, n int, out []uint64) ([]uint64, []byte, error) {
	for range n {
		x, m := binary.Uvarint(v)
		if m <= 0 {
			return nil, nil, errBadTermDoc
		}
		out, v = append(out, x), v[m:]
	}
	return out, v, nil
}

// termDocHeader returns a record's posting count, bound points and the
// encoded postings.
func termDocHeader(v []byte) (n int, pts []boundPoint, rest []byte, err error) {
	h, rest, err := uvarints(v, 2, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	if h[1] > uint64(len(rest)) || h[0] > uint64(len(rest)) {
		return 0, nil, nil, errBadTermDoc
	}
	xs, rest, err := uvarints(rest, 3*int(h[1]), make([]uint64, 0, 3*h[1]))
	if err != nil {
		return 0, nil, nil, err
	}
	pts = make([]boundPoint, h[1])
	for i := range pts {
		pts[i] = boundPoint{int32(xs[3*i]), int32(xs[3*i+1]), int32(xs[3*i+2])}
	}
	return int(h[0]), pts, rest, nil
}

func decodeTermDoc(v []byte) (termDocPostings, error) {
	n, _, rest, err := termDocHeader(v)
	if err != nil {
		return termDocPostings{}, err
	}
	xs, _, err := uvarints(rest, 3*n, make([]uint64, 0, 3*n))
	if err != nil {
		return termDocPostings{}, err
	}
	p := termDocPostings{make([]int32, n), make([]int32, n), make([]int32, n)}
	for i := range n {
		p.Seqs[i], p.TFs[i], p.Lens[i] = int32(xs[3*i]), int32(xs[3*i+1]), int32(xs[3*i+2])
	}
	return p, nil
}

// putTermDocs writes a document's term_docs records.
func putTermDocs(tx *bolt.Tx, coll, id string, chunks []Chunk) error {
	b := tx.Bucket(bTermDocs)
	tds := termDocs(chunks)
	// in key order (bbolt's sorted node: unordered puts cost a memmove each)
	for _, t := range slices.Sorted(maps.Keys(tds)) {
		if err := b.Put(key(coll, t, id), encodeTermDoc(tds[t])); err != nil {
			return err
		}
	}
	return nil
}

// backfillTermDocs writes the term_docs records of a file written before
// there were any, from its postings (which are in (coll, term, doc, seq)
// order: one record per run of equal (coll, term, doc)).
func backfillTermDocs(tx *bolt.Tx) error {
	b := tx.Bucket(bTermDocs)
	var cur []byte
	var p termDocPostings
	flush := func() error {
		if cur == nil {
			return nil
		}
		err := b.Put(cur, encodeTermDoc(&p))
		cur, p = nil, termDocPostings{}
		return err
	}
	c := tx.Bucket(bPostings).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) < 5 {
			continue
		}
		tdk := k[:len(k)-5]
		seq := int32(binary.BigEndian.Uint32(k[len(k)-4:]))
		if !bytes.Equal(tdk, cur) {
			if err := flush(); err != nil {
				return err
			}
			cur = bytes.Clone(tdk)
		}
		tf, n := binary.Uvarint(v)
		dl, _ := binary.Uvarint(v[n:])
		p.Seqs, p.TFs, p.Lens = append(p.Seqs, seq), append(p.TFs, int32(tf)), append(p.Lens, int32(dl))
	}
	return flush()
}

// DocFreqs implements KeywordRanker: each term's count summed over its
// term_docs records.
func (s *Bolt) DocFreqs(_ context.Context, coll string, terms []string) (c Collection, dfs []int64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if !getJSON(tx.Bucket(bCollections), []byte(coll), &c) {
			return collNotFound(coll)
		}
		cur := tx.Bucket(bTermDocs).Cursor()
		dfs = make([]int64, len(terms))
		for i, t := range terms {
			p := key(coll, t, "")
			for k, v := cur.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = cur.Next() {
				n, m := binary.Uvarint(v)
				if m <= 0 {
					return errBadTermDoc
				}
				dfs[i] += int64(n)
			}
		}
		return nil
	})
	return c, dfs, err
}

// RankBM25 implements KeywordRanker with block-max pruning (blockmax.go)
// in one read transaction.
func (s *Bolt) RankBM25(ctx context.Context, coll string, terms []string, w, idf []float64, avg float64, k int, allow []string) (out []Scored, err error) {
	if len(w) != len(terms) || len(idf) != len(terms) {
		return nil, fmt.Errorf("store: %d terms, %d weights, %d idfs", len(terms), len(w), len(idf))
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		out, err = rankBlocks(ctx, boltBlocks{tx.Bucket(bTermDocs), coll}, terms, w, idf, avg, k, allow, true)
		return err
	})
	return out, err
}

type boltBlocks struct {
	b    *bolt.Bucket
	coll string
}

func (s boltBlocks) bounds(_ context.Context, terms []string, allow []string, fn func(termDocBound)) error {
	var ok map[string]bool
	if allow != nil {
		ok = make(map[string]bool, len(allow))
		for _, d := range allow {
			ok[d] = true
		}
	}
	c := s.b.Cursor()
	for i, t := range terms {
		p := key(s.coll, t, "")
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			doc := string(k[len(p):])
			if ok != nil && !ok[doc] {
				continue
			}
			_, pts, _, err := termDocHeader(v)
			if err != nil {
				return err
			}
			fn(termDocBound{Term: i, Doc: doc, Points: pts})
		}
	}
	return nil
}

func (s boltBlocks) postings(_ context.Context, terms []string, term []int, docs []string) ([]termDocPostings, error) {
	out := make([]termDocPostings, len(term))
	for i := range term {
		v := s.b.Get(key(s.coll, terms[term[i]], docs[i]))
		if v == nil {
			continue // (not there: the bounds named it in this transaction)
		}
		p, err := decodeTermDoc(v)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}
