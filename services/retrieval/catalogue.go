package retrieval

// The catalogue: collections and their documents — create, list, upload
// (the ingestion then runs in ingest.go) and delete.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"regexp"

	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// collName is a collection's name, qualified by its tenant unless it is the
// default tenant's (tenant.go).
var collName = regexp.MustCompile(`^(?:[a-z0-9][a-z0-9-]{0,62}~)?[A-Za-z0-9._-]{1,128}$`)

func checkColl(name string) error {
	if !collName.MatchString(name) {
		return fmt.Errorf("%w: collection name %q: use 1-128 letters, digits, '-', '_' or '.'", ErrInvalid, publicColl(name))
	}
	return nil
}

// CreateCollection creates (or returns the existing) collection.
func (e *Engine) CreateCollection(ctx context.Context, name string) (store.Collection, error) {
	if err := checkColl(name); err != nil {
		return store.Collection{}, err
	}
	c, _, err := e.st.CreateCollection(ctx, name)
	return c, err
}

// ListCollections lists collections.
func (e *Engine) ListCollections(ctx context.Context) ([]store.Collection, error) {
	return e.st.ListCollections(ctx)
}

// DeleteCollection deletes a collection with its documents and indexes.
func (e *Engine) DeleteCollection(ctx context.Context, name string) error {
	unref, err := e.st.DeleteCollection(ctx, name)
	if err != nil {
		return err
	}
	e.cache.deletedCollection(name)
	e.pipe.running.deleted(name, "")
	e.hub.goneCollection(name)
	e.deleteBlobs(unref)
	e.compactSoon()
	return nil
}

// deleteBlobs removes blobs no document references any more (a blob left
// behind by a failure only costs space).
func (e *Engine) deleteBlobs(shas []string) {
	for _, sha := range shas {
		if err := e.blobs.Delete(context.Background(), sha); err != nil {
			e.log.Warn("cannot delete an unreferenced blob", "sha256", sha, "err", err)
		}
	}
}

// Upload stores the bytes durably and queues ingestion, unless the same
// bytes are already in the collection.
func (e *Engine) Upload(coll, name string, data []byte, password string) (store.Document, bool, error) {
	if int64(len(data)) > e.cfg.MaxUploadBytes {
		return store.Document{}, false, fmt.Errorf("%w: %d bytes > %d", ErrUploadLarge, len(data), e.cfg.MaxUploadBytes)
	}
	return e.UploadStream(e.ctx, coll, name, bytes.NewReader(data), password)
}

// UploadStream is Upload of a stream: the bytes go straight to the blob
// store, hashed on the way, and are never held whole. A stream longer than
// MaxUploadBytes is cut off as soon as it passes the limit (ErrUploadLarge);
// then, as when r fails or ctx ends, no blob and no document are left.
func (e *Engine) UploadStream(ctx context.Context, coll, name string, r io.Reader, password string) (store.Document, bool, error) {
	if err := checkColl(coll); err != nil {
		return store.Document{}, false, err
	}
	if e.ctx.Err() != nil {
		return store.Document{}, false, ErrClosed
	}
	if n := e.queue.depth(); !e.queue.shared && n >= e.cfg.QueueSize {
		return store.Document{}, false, fmt.Errorf("%w: %d documents waiting (QueueSize %d); retry later", ErrQueueFull, n, e.cfg.QueueSize)
	}
	if name == "" {
		name = "document.pdf"
	}
	name = filepath.Base(name)
	// The engine's own lifetime bounds the write too: Close aborts it.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	defer context.AfterFunc(e.ctx, stop)()
	lr := &limitedReader{r: r, max: e.cfg.MaxUploadBytes}
	sha, size, err := e.blobs.PutReader(ctx, lr)
	switch {
	case lr.over != nil:
		return store.Document{}, false, lr.over
	case err != nil && e.ctx.Err() != nil:
		return store.Document{}, false, ErrClosed
	case err != nil:
		return store.Document{}, false, err
	}
	if size == 0 {
		e.deleteBlobs([]string{sha})
		return store.Document{}, false, fmt.Errorf("%w: empty content", ErrInvalid)
	}
	d := store.Document{ID: sha[:24], Collection: coll, Name: name, SHA256: sha, Size: size}
	d, dup, err := e.st.AddDocument(ctx, d, password)
	if err != nil || dup {
		return d, dup, err
	}
	e.hub.progress(d, StageStore, 1, 1, "stored "+humanBytes(d.Size))
	e.queue.push(docKey{coll, d.ID})
	return d, false, nil
}

// limitedReader fails with ErrUploadLarge as soon as r yields more than max
// bytes.
type limitedReader struct {
	r      io.Reader
	n, max int64
	over   error
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if l.n += int64(n); l.n > l.max {
		l.over = fmt.Errorf("%w: more than %d bytes", ErrUploadLarge, l.max)
		return 0, l.over
	}
	return n, err
}

// Document returns a document.
func (e *Engine) Document(ctx context.Context, coll, id string) (store.Document, error) {
	return e.st.GetDocument(ctx, coll, id)
}

// Documents lists a collection's documents.
func (e *Engine) Documents(ctx context.Context, coll string) ([]store.Document, error) {
	return e.st.ListDocuments(ctx, coll)
}

// DeleteDocument removes a document from the store and every index.
func (e *Engine) DeleteDocument(ctx context.Context, coll, id string) error {
	unref, err := e.st.DeleteDocument(ctx, coll, id)
	if err != nil {
		return err
	}
	e.cache.deletedDoc(coll, id)
	e.pipe.running.deleted(coll, id)
	e.hub.gone(docKey{coll, id})
	e.deleteBlobs(unref)
	e.compactSoon()
	return nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
