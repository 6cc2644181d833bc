package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Compact while other goroutines read and write: no call fails, every
// write made before or during it is in the compacted file, and a deleted
// record's bytes are gone from it (they are in it before the compaction).
func TestCompactUnderConcurrentCalls(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const secret = "zzcollection-deleted-before-the-compaction"
	if _, _, err := s.CreateCollection(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteCollection(ctx, secret); err != nil {
		t.Fatal(err)
	}
	holds := func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "retrieval.db"))
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Contains(b, []byte(secret))
	}
	if !holds() {
		t.Fatal("the deleted collection's name is not in the file before the compaction: the check cannot fail")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				name := fmt.Sprintf("w%d-%d", w, i)
				if _, _, err := s.CreateCollection(ctx, name); err != nil {
					errs <- err
					return
				}
				if _, err := s.GetCollection(ctx, name); err != nil {
					errs <- fmt.Errorf("reading %s back: %w", name, err)
					return
				}
			}
		})
	}
	for range 5 {
		if err := s.Compact(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	if holds() {
		t.Error("the deleted collection's name is still in the file after the compaction")
	}
	cs, err := s.ListCollections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 100 {
		t.Errorf("%d collections after the compaction, want 100", len(cs))
	}
	if _, err := os.Stat(filepath.Join(dir, "retrieval.db.compact")); !os.IsNotExist(err) {
		t.Errorf("the compaction's temporary file is left: %v", err)
	}
}
