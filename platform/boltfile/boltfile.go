// Package boltfile is a bbolt database file that can be compacted in place
// while it is in use: the embedded stores' one way to open their file, run
// transactions on it and rewrite it without the bytes of deleted records
// (bbolt reuses freed pages without erasing them, so a deleted record stays
// readable in the file until it is compacted).
package boltfile

import (
	"fmt"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openTimeout bounds the wait for the file's lock (another process holding
// it open).
const openTimeout = 5 * time.Second

// DB is an open bbolt file, swappable for a compacted copy: every
// transaction holds mu shared; Compact holds writeMu to keep writes out
// while it copies and mu exclusively only to swap the files.
type DB struct {
	path    string
	writeMu sync.Mutex
	mu      sync.RWMutex
	db      *bolt.DB
}

// Open opens (creating, mode 0600) the bbolt file at path.
func Open(path string) (*DB, error) {
	db, err := open(path)
	if err != nil {
		return nil, err
	}
	return &DB{path: path, db: db}, nil
}

func open(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// View runs fn in a read-only transaction.
func (d *DB) View(fn func(*bolt.Tx) error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.db.View(fn)
}

// Update runs fn in a read-write transaction.
func (d *DB) Update(fn func(*bolt.Tx) error) error {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.db.Update(fn)
}

// Path is the file's path.
func (d *DB) Path() string { return d.path }

// Close closes the file.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.db.Close()
}

// Compact copies the live pages into a new file (bolt.Compact) that
// replaces the old one, so no deleted record's bytes are left in it. Reads
// go on while it copies; writes wait for it. When the copy cannot replace
// the file, the original stays in use and the error says why.
func (d *DB) Compact() error {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	tmp := d.path + ".compact"
	_ = os.Remove(tmp)
	dst, err := open(tmp)
	if err != nil {
		return err
	}
	d.mu.RLock()
	err = bolt.Compact(dst, d.db, 64<<20)
	d.mu.RUnlock()
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("compacting %s: %w", d.path, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.db.Close(); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	renameErr := os.Rename(tmp, d.path)
	if renameErr != nil {
		_ = os.Remove(tmp)
	}
	// Reopen whichever file is in place: the compacted one, or after a
	// failed rename the original.
	db, err := open(d.path)
	if err != nil {
		return err
	}
	d.db = db
	if renameErr != nil {
		return fmt.Errorf("compacting %s: %w", d.path, renameErr)
	}
	return nil
}
