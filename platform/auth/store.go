package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Store keeps API keys (hashes only). Etcd is the mesh's shared
// implementation; Mem is for tests. A server-backed store (PostgreSQL)
// implements the same three methods.
type Store interface {
	Put(ctx context.Context, k Key) error
	// Get returns ErrNotFound for an unknown id.
	Get(ctx context.Context, id string) (Key, error)
	List(ctx context.Context) ([]Key, error)
}

// Revoke marks key id revoked in s.
func Revoke(ctx context.Context, s Store, id string, now time.Time) (Key, error) {
	k, err := s.Get(ctx, id)
	if err != nil {
		return Key{}, err
	}
	if k.Revoked.IsZero() {
		k.Revoked = now.UTC()
		if err := s.Put(ctx, k); err != nil {
			return Key{}, err
		}
	}
	return k, nil
}

// Mem is an in-memory Store.
type Mem struct {
	mu   sync.Mutex
	keys map[string]Key
}

// NewMem returns an empty in-memory store.
func NewMem() *Mem { return &Mem{keys: map[string]Key{}} }

// Put stores k.
func (m *Mem) Put(_ context.Context, k Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[k.ID] = k
	return nil
}

// Get returns key id.
func (m *Mem) Get(_ context.Context, id string) (Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return Key{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return k, nil
}

// List returns every key, oldest first.
func (m *Mem) List(_ context.Context) ([]Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Key, 0, len(m.keys))
	for _, k := range m.keys {
		out = append(out, k)
	}
	sortKeys(out)
	return out, nil
}

func sortKeys(ks []Key) {
	sort.Slice(ks, func(i, j int) bool {
		if !ks[i].Created.Equal(ks[j].Created) {
			return ks[i].Created.Before(ks[j].Created)
		}
		return ks[i].ID < ks[j].ID
	})
}

// EtcdPrefix is where Etcd keeps keys.
const EtcdPrefix = "/pdfqa/auth/keys/"

// Etcd is a Store in the mesh's etcd, read by every service.
type Etcd struct{ Client *clientv3.Client }

// Put stores k.
func (e Etcd) Put(ctx context.Context, k Key) error {
	b, err := json.Marshal(k)
	if err != nil {
		return err
	}
	_, err = e.Client.Put(ctx, EtcdPrefix+k.ID, string(b))
	return err
}

// Get returns key id.
func (e Etcd) Get(ctx context.Context, id string) (Key, error) {
	r, err := e.Client.Get(ctx, EtcdPrefix+id)
	if err != nil {
		return Key{}, err
	}
	if len(r.Kvs) == 0 {
		return Key{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	var k Key
	if err := json.Unmarshal(r.Kvs[0].Value, &k); err != nil {
		return Key{}, fmt.Errorf("auth: key %s: %w", id, err)
	}
	return k, nil
}

// List returns every key, oldest first.
func (e Etcd) List(ctx context.Context) ([]Key, error) {
	r, err := e.Client.Get(ctx, EtcdPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	out := make([]Key, 0, len(r.Kvs))
	for _, kv := range r.Kvs {
		var k Key
		if err := json.Unmarshal(kv.Value, &k); err != nil {
			return nil, fmt.Errorf("auth: key %s: %w", kv.Key, err)
		}
		out = append(out, k)
	}
	sortKeys(out)
	return out, nil
}
