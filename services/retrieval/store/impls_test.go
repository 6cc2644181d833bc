package store

import (
	"context"
	"testing"

	"github.com/pdfqa/pdfqa/platform/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The store contract's tests run against every implementation: the
// embedded one and PostgreSQL (a real server, a fresh database each).
var storeImpls = []struct {
	name string
	open func(t *testing.T) Store
}{
	{"bolt", func(t *testing.T) Store {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"postgres", func(t *testing.T) Store {
		s, err := OpenPostgres(context.Background(), pgtest.DSN(t), PostgresOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

func eachStore(t *testing.T, fn func(t *testing.T, s Store)) {
	for _, impl := range storeImpls {
		t.Run(impl.name, func(t *testing.T) {
			s := impl.open(t)
			t.Cleanup(func() { s.Close() })
			fn(t, s)
		})
	}
}

// Blobs implementations: the directory store and a gocloud.dev file bucket.
var blobImpls = []struct {
	name string
	open func(dir string) (Blobs, error)
}{
	{"files", func(dir string) (Blobs, error) { return OpenFiles(dir) }},
	{"bucket", func(dir string) (Blobs, error) {
		u, err := FileBucketURL(dir)
		if err != nil {
			return nil, err
		}
		return OpenBucket(context.Background(), u, 0)
	}},
}

func eachBlobs(t *testing.T, fn func(t *testing.T, open func(dir string) (Blobs, error))) {
	for _, impl := range blobImpls {
		t.Run(impl.name, func(t *testing.T) { fn(t, impl.open) })
	}
}
