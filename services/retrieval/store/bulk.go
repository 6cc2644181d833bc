package store

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"strings"
)

// Bulk loading (issue #12): a new collection written in a few large,
// ordered writes instead of one CommitIndex per document, for restores and
// for the search-at-scale benchmark (1M chunks by the ingestion path took
// about 1.5 h a store on 2 cores).
//
// The postings and term_docs records of a collection are keyed term
// first, so documents committed one by one touch every term's part of the
// index again and again. The bulk loader instead spills each batch of
// documents' records, sorted, to temporary run files and merges them: the
// index is then written in key order, once (appends at the right edge of
// bbolt's B+tree and of PostgreSQL's btrees).

// BulkDocument is one document of a bulk load: the document as CommitIndex
// leaves it (Doc's fields after its fn: state, chunk count, models, card;
// Seq, times and Collection are set by the load) with its chunks and
// vectors (nil, or one a chunk).
type BulkDocument struct {
	Doc    Document
	Chunks []Chunk
	Vecs   [][]float32
}

// BulkLoader is implemented by a store that can write many documents into a
// new collection at once. The store's content afterwards is what
// AddDocument and then CommitIndex of each document in turn, in the order
// next returns them, would have written (upload sequence numbers and times
// aside); no job is left. coll must not exist (ErrAlreadyExists); its
// documents appear only once all are written, and a failed load leaves
// nothing. next returns nil at the end.
type BulkLoader interface {
	BulkLoad(ctx context.Context, coll string, next func() (*BulkDocument, error)) (Collection, error)
}

var (
	_ BulkLoader = (*Bolt)(nil)
	_ BulkLoader = (*Postgres)(nil)
)

// ErrBulkInput: a bulk load's documents are not what CommitIndex would
// accept (duplicate ids or chunk seqs, a vector count that is not the
// chunk count, a NUL byte in a term or an id).
var ErrBulkInput = errors.New("invalid bulk document")

// bulkEach reads next's documents to the end: each is checked, added to
// idx and handed to keep; flush writes the documents kept since its last
// call each time bulkTxChunks of their chunks wait, and once at the end.
// It returns the chunks read and their total length.
func bulkEach(ctx context.Context, coll string, next func() (*BulkDocument, error), idx *bulkIndex,
	keep func(*BulkDocument), flush func([]*BulkDocument) error) (chunks, total int64, err error) {
	seen := map[string]bool{}
	var pending []*BulkDocument
	waiting := 0
	for {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		d, err := next()
		if err != nil {
			return 0, 0, err
		}
		if d == nil {
			break
		}
		if err := bulkCheck(coll, d, seen); err != nil {
			return 0, 0, err
		}
		if err := idx.add(coll, d.Doc.ID, d.Chunks); err != nil {
			return 0, 0, err
		}
		keep(d)
		for _, ch := range d.Chunks {
			total += int64(ch.Len)
		}
		chunks += int64(len(d.Chunks))
		pending = append(pending, d)
		if waiting += len(d.Chunks); waiting >= bulkTxChunks {
			if err := flush(pending); err != nil {
				return 0, 0, err
			}
			pending, waiting = pending[:0], 0
		}
	}
	if len(pending) > 0 {
		if err := flush(pending); err != nil {
			return 0, 0, err
		}
	}
	return chunks, total, nil
}

// bulkCheck validates one document of a load (seen: the ids so far).
func bulkCheck(coll string, d *BulkDocument, seen map[string]bool) error {
	id := d.Doc.ID
	if id == "" || strings.IndexByte(id, 0) >= 0 {
		return fmt.Errorf("%w: document id %q", ErrBulkInput, id)
	}
	if seen[id] {
		return fmt.Errorf("%w: document %q twice in collection %q", ErrBulkInput, id, coll)
	}
	seen[id] = true
	if d.Vecs != nil && len(d.Vecs) != len(d.Chunks) {
		return fmt.Errorf("%w: document %q: %d vectors for %d chunks", ErrBulkInput, id, len(d.Vecs), len(d.Chunks))
	}
	seqs := map[int]bool{}
	for _, ch := range d.Chunks {
		if ch.Seq < 0 || seqs[ch.Seq] {
			return fmt.Errorf("%w: document %q: chunk seq %d", ErrBulkInput, id, ch.Seq)
		}
		seqs[ch.Seq] = true
		for t := range ch.Terms {
			if t == "" || strings.IndexByte(t, 0) >= 0 {
				return fmt.Errorf("%w: document %q: term %q", ErrBulkInput, id, t)
			}
		}
	}
	return nil
}

// bulkIndex sorts a load's postings and term_docs records (the embedded
// store's keys and values, which are also PostgreSQL's row order).
type bulkIndex struct {
	postings, termDocs *runSorter
}

func newBulkIndex(dir string) *bulkIndex {
	return &bulkIndex{postings: newRunSorter(dir, "postings"), termDocs: newRunSorter(dir, "term_docs")}
}

// add records a document's postings and term_docs records.
func (b *bulkIndex) add(coll, id string, chunks []Chunk) error {
	for _, ch := range chunks {
		for t, tf := range ch.Terms {
			v := binary.AppendUvarint(nil, uint64(tf))
			v = binary.AppendUvarint(v, uint64(ch.Len))
			if err := b.postings.add(postingKey(coll, t, id, ch.Seq), v); err != nil {
				return err
			}
		}
	}
	for t, p := range termDocs(chunks) {
		if err := b.termDocs.add(key(coll, t, id), encodeTermDoc(p)); err != nil {
			return err
		}
	}
	return nil
}

func (b *bulkIndex) close() {
	b.postings.close()
	b.termDocs.close()
}

// runSorter sorts (key, value) records of unique keys, more than fit in
// memory: it keeps up to runBytes in memory, spills them sorted to a run
// file, and merges the runs.
type runSorter struct {
	dir, name string
	arena     []byte
	recs      []rec
	runs      []string
	err       error
}

type rec struct{ off, klen, vlen uint32 }

// runBytes is the memory a runSorter fills before it spills a run.
var runBytes = 256 << 20

func newRunSorter(dir, name string) *runSorter { return &runSorter{dir: dir, name: name} }

func (s *runSorter) key(r rec) []byte { return s.arena[r.off : r.off+r.klen] }

func (s *runSorter) add(k, v []byte) error {
	if s.err != nil {
		return s.err
	}
	if len(s.arena)+len(k)+len(v) > runBytes && len(s.recs) > 0 {
		if s.err = s.spill(); s.err != nil {
			return s.err
		}
	}
	s.recs = append(s.recs, rec{uint32(len(s.arena)), uint32(len(k)), uint32(len(v))})
	s.arena = append(append(s.arena, k...), v...)
	return nil
}

func (s *runSorter) sort() {
	slices.SortFunc(s.recs, func(a, b rec) int { return bytes.Compare(s.key(a), s.key(b)) })
}

// spill writes the records in memory, sorted, to a new run file.
func (s *runSorter) spill() error {
	s.sort()
	f, err := os.CreateTemp(s.dir, "pdfqa-bulk-"+s.name+"-*")
	if err != nil {
		return err
	}
	s.runs = append(s.runs, f.Name())
	w := bufio.NewWriterSize(f, 1<<20)
	var hdr []byte
	for _, r := range s.recs {
		hdr = binary.AppendUvarint(hdr[:0], uint64(r.klen))
		hdr = binary.AppendUvarint(hdr, uint64(r.vlen))
		w.Write(hdr)
		w.Write(s.arena[r.off : r.off+r.klen+r.vlen])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	s.arena, s.recs = s.arena[:0], s.recs[:0]
	return nil
}

// each calls fn with every record in key order (k and v are valid during
// the call only). Two records of one key are an error.
func (s *runSorter) each(fn func(k, v []byte) error) error {
	if s.err != nil {
		return s.err
	}
	var prev []byte
	check := func(k []byte) error {
		if prev != nil && bytes.Equal(prev, k) {
			return fmt.Errorf("%w: %s key %q twice", ErrBulkInput, s.name, k)
		}
		prev = append(prev[:0], k...)
		return nil
	}
	if len(s.runs) == 0 { // all in memory
		s.sort()
		for _, r := range s.recs {
			k := s.key(r)
			if err := check(k); err != nil {
				return err
			}
			if err := fn(k, s.arena[r.off+r.klen:r.off+r.klen+r.vlen]); err != nil {
				return err
			}
		}
		return nil
	}
	if len(s.recs) > 0 {
		if err := s.spill(); err != nil {
			return err
		}
	}
	s.arena, s.recs = nil, nil
	h := &runHeap{}
	for _, name := range s.runs {
		f, err := os.Open(name)
		if err != nil {
			h.close()
			return err
		}
		r := &runReader{f: f, r: bufio.NewReaderSize(f, 256<<10)}
		if err := r.next(); err != nil {
			f.Close()
			h.close()
			if err == io.EOF {
				continue
			}
			return err
		}
		*h = append(*h, r)
	}
	defer h.close()
	heap.Init(h)
	for h.Len() > 0 {
		r := (*h)[0]
		if err := check(r.k); err != nil {
			return err
		}
		if err := fn(r.k, r.v); err != nil {
			return err
		}
		switch err := r.next(); err {
		case nil:
			heap.Fix(h, 0)
		case io.EOF:
			r.f.Close()
			heap.Pop(h)
		default:
			return err
		}
	}
	return nil
}

// pull is each as a pull iterator: next returns the records in key order
// (valid until the following call), done stops it and returns each's
// error.
func (s *runSorter) pull() (next func() (k, v []byte, ok bool), done func() error) {
	var err error
	next, stop := iter.Pull2(func(yield func(k, v []byte) bool) {
		err = s.each(func(k, v []byte) error {
			if !yield(k, v) {
				return errPullStopped
			}
			return nil
		})
	})
	return next, func() error {
		stop()
		if errors.Is(err, errPullStopped) {
			return nil
		}
		return err
	}
}

var errPullStopped = errors.New("stopped")

// close removes the run files.
func (s *runSorter) close() {
	for _, name := range s.runs {
		os.Remove(name)
	}
	s.runs, s.arena, s.recs = nil, nil, nil
}

type runReader struct {
	f    *os.File
	r    *bufio.Reader
	k, v []byte
}

func (r *runReader) next() error {
	kl, err := binary.ReadUvarint(r.r)
	if err != nil {
		return err // io.EOF at a record boundary: the end
	}
	vl, err := binary.ReadUvarint(r.r)
	if err != nil {
		return io.ErrUnexpectedEOF
	}
	n := int(kl + vl)
	if cap(r.k) < n {
		r.k = make([]byte, n)
	}
	buf := r.k[:n]
	if _, err := io.ReadFull(r.r, buf); err != nil {
		return io.ErrUnexpectedEOF
	}
	r.k, r.v = buf[:kl], buf[kl:]
	return nil
}

type runHeap []*runReader

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return bytes.Compare(h[i].k, h[j].k) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (h *runHeap) close() {
	for _, r := range *h {
		r.f.Close()
	}
	*h = nil
}
