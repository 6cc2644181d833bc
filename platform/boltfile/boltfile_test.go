package boltfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

var bucket = []byte("b")

func put(d *DB, k, v string) error {
	return d.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return b.Put([]byte(k), []byte(v))
	})
}

func get(d *DB, k string) (v string, err error) {
	err = d.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil || b.Get([]byte(k)) == nil {
			return fmt.Errorf("%s: not found", k)
		}
		v = string(b.Get([]byte(k)))
		return nil
	})
	return v, err
}

// Compact while other goroutines read and write: no call fails, every
// write made before or during it is in the compacted file, a deleted
// record's bytes are gone from it (they are in it before), and no
// temporary file is left.
func TestCompactUnderConcurrentCalls(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Path() != path {
		t.Errorf("Path = %q, want %q", d.Path(), path)
	}
	const secret = "zz-a-value-deleted-before-the-compaction"
	if err := put(d, "secret", secret); err != nil {
		t.Fatal(err)
	}
	if err := d.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte("secret")) }); err != nil {
		t.Fatal(err)
	}
	holds := func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Contains(b, []byte(secret))
	}
	if !holds() {
		t.Fatal("the deleted value is not in the file before the compaction: the check cannot fail")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				k := fmt.Sprintf("w%d-%d", w, i)
				if err := put(d, k, "v"+k); err != nil {
					errs <- err
					return
				}
				if v, err := get(d, k); err != nil || v != "v"+k {
					errs <- fmt.Errorf("reading %s back: %q, %v", k, v, err)
					return
				}
			}
		})
	}
	for range 5 {
		if err := d.Compact(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := d.Compact(); err != nil {
		t.Fatal(err)
	}
	if holds() {
		t.Error("the deleted value is still in the file after the compaction")
	}
	n := 0
	if err := d.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucket).Stats().KeyN; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 100 {
		t.Errorf("%d records after the compaction, want 100", n)
	}
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Errorf("the compaction's temporary file is left: %v", err)
	}
}

// A compaction that cannot write its copy fails and leaves the file as it
// was, still open for reads and writes; the file reopens after Close.
func TestCompactThatCannotWriteKeepsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := put(d, "k", "v"); err != nil {
		t.Fatal(err)
	}
	// A non-empty folder where the copy would go: it can be neither
	// removed nor opened as a file.
	if err := os.MkdirAll(filepath.Join(path+".compact", "in-the-way"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := d.Compact(); err == nil {
		t.Fatal("Compact with its copy's path taken by a folder: no error")
	}
	if v, err := get(d, "k"); err != nil || v != "v" {
		t.Errorf("after the failed compaction: %q, %v", v, err)
	}
	if err := put(d, "k2", "v2"); err != nil {
		t.Errorf("writing after the failed compaction: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if v, err := get(d, "k2"); err != nil || v != "v2" {
		t.Errorf("reopened: %q, %v", v, err)
	}
}
