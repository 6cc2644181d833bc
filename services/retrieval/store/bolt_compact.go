package store

import (
	"fmt"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Compacter is a store whose file keeps the bytes of deleted records in
// its free pages until it is compacted (the embedded store: bbolt reuses
// freed pages without erasing them).
type Compacter interface {
	// Compact rewrites the store without its free pages. Reads go on
	// while it copies; writes wait for it.
	Compact() error
}

var _ Compacter = (*Bolt)(nil)

// boltDB is the Bolt store's database, swappable for a compacted copy:
// every transaction holds mu shared; Compact holds writeMu to keep writes
// out while it copies and mu exclusively only to swap the files.
type boltDB struct {
	path    string
	writeMu sync.Mutex
	mu      sync.RWMutex
	db      *bolt.DB
}

func openBoltDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	return db, nil
}

func (b *boltDB) View(fn func(*bolt.Tx) error) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.db.View(fn)
}

func (b *boltDB) Update(fn func(*bolt.Tx) error) error {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.db.Update(fn)
}

// Path is the database file's path.
func (b *boltDB) Path() string { return b.path }

func (b *boltDB) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.db.Close()
}

// Compact implements Compacter: the live pages are copied into a new file
// (bolt.Compact) that replaces the old one, so no deleted record's bytes
// are left in the store's file.
func (s *Bolt) Compact() error {
	b := s.db
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	tmp := b.path + ".compact"
	_ = os.Remove(tmp)
	dst, err := openBoltDB(tmp)
	if err != nil {
		return err
	}
	b.mu.RLock()
	err = bolt.Compact(dst, b.db, 64<<20)
	b.mu.RUnlock()
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("store: compacting: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.db.Close(); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	renameErr := os.Rename(tmp, b.path)
	if renameErr != nil {
		_ = os.Remove(tmp)
	}
	// Reopen whichever file is in place: the compacted one, or after a
	// failed rename the original.
	db, err := openBoltDB(b.path)
	if err != nil {
		return err
	}
	b.db = db
	if renameErr != nil {
		return fmt.Errorf("store: compacting: %w", renameErr)
	}
	return nil
}
