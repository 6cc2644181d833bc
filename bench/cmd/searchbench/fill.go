package main

// Writing the synthetic collection into a store: the ingestion path's way
// (-fill ingest) or through the store's bulk loader (-fill bulk).

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// fill writes n chunks into coll the ingestion path's way: AddDocument and
// CommitIndex a document.
func fill(ctx context.Context, st store.Store, coll string, n int, voc []string) error {
	next := synthetic(n, voc)
	for {
		b, err := next()
		if err != nil || b == nil {
			return err
		}
		doc, _, err := st.AddDocument(ctx, store.Document{ID: b.Doc.ID, Collection: coll, Name: b.Doc.Name, SHA256: b.Doc.SHA256}, "")
		if err != nil {
			return err
		}
		if _, err := st.CommitIndex(ctx, coll, doc.ID, b.Chunks, b.Vecs, func(x *store.Document) {
			x.State, x.Chunks, x.EmbedModel = b.Doc.State, b.Doc.Chunks, b.Doc.EmbedModel
		}); err != nil {
			return err
		}
	}
}

// bulkFill writes the same collection through the store's BulkLoader (the
// same content, written in key order at once). SIGINT or SIGTERM during
// the load cancels it instead of killing the process, so the loader
// removes its sorted run files (gigabytes at 1M chunks) on the way out.
func bulkFill(ctx context.Context, st store.Store, coll string, n int, voc []string) error {
	bl, ok := st.(store.BulkLoader)
	if !ok {
		return fmt.Errorf("%T has no bulk load (-fill ingest)", st)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Hour)
	defer cancel()
	_, err := bl.BulkLoad(ctx, coll, synthetic(n, voc))
	return err
}
