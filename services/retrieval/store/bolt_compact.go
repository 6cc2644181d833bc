package store

// Compacter is a store whose file keeps the bytes of deleted records in
// its free pages until it is compacted (the embedded store: bbolt reuses
// freed pages without erasing them).
type Compacter interface {
	// Compact rewrites the store without its free pages. Reads go on
	// while it copies; writes wait for it.
	Compact() error
}

var _ Compacter = (*Bolt)(nil)

// Compact implements Compacter: the live pages are copied into a new file
// that replaces the old one (platform/boltfile), so no deleted record's
// bytes are left in the store's file.
func (s *Bolt) Compact() error { return s.db.Compact() }
