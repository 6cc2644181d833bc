package inference

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	"github.com/pdfqa/pdfqa/platform/blobstore"
	"github.com/pdfqa/pdfqa/platform/breaker"
)

// DefaultAdapterPrefix is the etcd key prefix of the shared adapter set.
const DefaultAdapterPrefix = "/pdfqa/inference/adapters/"

// SharedAdapters makes the adapter set one every replica serves: the set
// is an etcd key prefix (one key per adapter) that each replica watches and
// converges to, and an adapter's bytes are an object in a blob bucket
// (gocloud.dev/blob), never a file on the caller's disk. With it,
// LoadAdapterRequest.path names the object (a key in the bucket).
type SharedAdapters struct {
	Etcd *clientv3.Client
	// BlobsURL is the bucket (file:///dir, s3://…), the same for every
	// replica and for the trainer that publishes into it.
	BlobsURL string
	// Prefix is the etcd key prefix (default DefaultAdapterPrefix).
	Prefix string
	// CacheDir keeps the fetched adapter files (content-addressed).
	CacheDir string
	// Timeout bounds each etcd and blob call (default 10s).
	Timeout time.Duration
}

// adapterRecord is one adapter's etcd value.
type adapterRecord struct {
	Name      string  `json:"name"`
	Blob      string  `json:"blob"`
	SHA256    string  `json:"sha256"`
	Scale     float32 `json:"scale"`
	BaseModel string  `json:"base_model,omitempty"`
}

// adapterSet is a replica's side of SharedAdapters.
//
// A LoadAdapter replaces the version of its name that was in the set when
// it began: it publishes with an etcd transaction that compares the key's
// ModRevision with the one it read, so a load overtaken by another load
// or an unload of that name (committed while it fetched the file and had
// the engine accept it) publishes nothing and fails with ErrConflict
// (Aborted) instead of silently replacing the later one; loads one after
// another each apply in turn. An unload removes the name whatever version
// is in the set. mu makes this replica's loads and reconciles one at a
// time, so the engine is never left with a set older than one already
// read.
type adapterSet struct {
	mu      sync.Mutex
	cfg     SharedAdapters
	bucket  *blob.Bucket
	etcdBr  *breaker.Breaker
	blobBr  *breaker.Breaker
	log     *slog.Logger
	cancel  context.CancelFunc
	done    chan struct{}
	applied chan struct{} // signalled after each reconcile (tests)
	// beforeRemove, when set (tests), runs in a conditional remove between
	// the read of the record and the delete's transaction.
	beforeRemove func()
}

func openShared(cfg SharedAdapters, log *slog.Logger) (*adapterSet, error) {
	if cfg.Etcd == nil || cfg.BlobsURL == "" || cfg.CacheDir == "" {
		return nil, errors.New("inference: shared adapters need etcd, a blob bucket and a cache directory")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultAdapterPrefix
	}
	if !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	b, err := blobstore.Open(ctx, cfg.BlobsURL)
	if err != nil {
		return nil, fmt.Errorf("inference: adapter bucket: %w", err)
	}
	return &adapterSet{cfg: cfg, bucket: b, log: log, applied: make(chan struct{}, 1),
		etcdBr: breaker.New("etcd-adapters", breaker.Settings{}, nil),
		blobBr: breaker.New("blobs-adapters", breaker.Settings{}, nil)}, nil
}

// call runs fn with the call timeout through br.
func (s *adapterSet) call(ctx context.Context, br *breaker.Breaker, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	err := br.Do(func() error { return fn(ctx) })
	if errors.Is(err, breaker.ErrOpen) {
		return fmt.Errorf("%w: adapter registry: %v", ErrUnavailable, err)
	}
	return err
}

// fetch returns the local file holding the object key, downloading it
// into the cache (named by its SHA-256) unless a file with the wanted
// digest is there already.
func (s *adapterSet) fetch(ctx context.Context, key, want string) (path, sha string, err error) {
	if want != "" {
		p := filepath.Join(s.cfg.CacheDir, want+".gguf")
		if _, err := os.Stat(p); err == nil {
			return p, want, nil
		}
	}
	tmp, err := os.CreateTemp(s.cfg.CacheDir, "fetch-*")
	if err != nil {
		return "", "", err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	err = s.call(ctx, s.blobBr, func(ctx context.Context) error {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := tmp.Truncate(0); err != nil {
			return err
		}
		h.Reset()
		r, err := s.bucket.NewReader(ctx, key, nil)
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.Copy(io.MultiWriter(tmp, h), r)
		return err
	})
	if gcerrors.Code(err) == gcerrors.NotFound {
		return "", "", fmt.Errorf("%w: adapter object %q is not in the bucket", ErrInvalid, key)
	}
	if err != nil {
		return "", "", fmt.Errorf("%w: adapter object %q: %v", ErrUnavailable, key, err)
	}
	sha = hex.EncodeToString(h.Sum(nil))
	if want != "" && sha != want {
		return "", "", fmt.Errorf("adapter object %q changed: sha256 %s, registered %s", key, sha, want)
	}
	if err := tmp.Close(); err != nil {
		return "", "", err
	}
	path = filepath.Join(s.cfg.CacheDir, sha+".gguf")
	return path, sha, os.Rename(tmp.Name(), path)
}

// current reads name's record and the ModRevision of its key (0: name
// is not in the set).
func (s *adapterSet) current(ctx context.Context, name string) (*adapterRecord, int64, error) {
	var rec *adapterRecord
	var rev int64
	err := s.etcd(ctx, func(ctx context.Context) error {
		r, err := s.cfg.Etcd.Get(ctx, s.cfg.Prefix+name)
		if err != nil || len(r.Kvs) == 0 {
			rec, rev = nil, 0
			return err
		}
		rec, rev = &adapterRecord{}, r.Kvs[0].ModRevision
		if err := json.Unmarshal(r.Kvs[0].Value, rec); err != nil {
			rec = nil // a bad entry: replaced like any other
		}
		return nil
	})
	return rec, rev, err
}

// putIf publishes rec if its name's key is still at ModRevision rev (0:
// absent) and reports whether it did; every replica's watch applies it.
func (s *adapterSet) putIf(ctx context.Context, rec adapterRecord, rev int64) (bool, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return false, err
	}
	key := s.cfg.Prefix + rec.Name
	var ok bool
	err = s.etcd(ctx, func(ctx context.Context) error {
		r, err := s.cfg.Etcd.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).Then(clientv3.OpPut(key, string(b))).Commit()
		ok = err == nil && r.Succeeded
		return err
	})
	return ok, err
}

// remove deletes name from the set: with want, only while its record has
// the digest want. That is one etcd transaction: delete the key if its
// ModRevision is still the one whose record was checked, else read it
// again (then check that record in turn: a re-load of the same file
// still matches). Absent: ErrAdapterNotFound; another version:
// ErrConflict naming its digest, and nothing is deleted.
func (s *adapterSet) remove(ctx context.Context, name, want string) error {
	key := s.cfg.Prefix + name
	var cmps []clientv3.Cmp
	if want != "" {
		rec, rev, err := s.current(ctx, name)
		if err != nil {
			return err
		}
		if rev == 0 {
			return fmt.Errorf("%w: %q", ErrAdapterNotFound, name)
		}
		if err := checkVersion(name, rec.digest(), want); err != nil {
			return err
		}
		cmps = []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)}
		if s.beforeRemove != nil {
			s.beforeRemove()
		}
	}
	for range 5 {
		var r *clientv3.TxnResponse
		err := s.etcd(ctx, func(ctx context.Context) error {
			var err error
			r, err = s.cfg.Etcd.Txn(ctx).If(cmps...).Then(clientv3.OpDelete(key)).Else(clientv3.OpGet(key)).Commit()
			return err
		})
		if err != nil {
			return err
		}
		if r.Succeeded {
			if r.Responses[0].GetResponseDeleteRange().GetDeleted() == 0 {
				return fmt.Errorf("%w: %q", ErrAdapterNotFound, name)
			}
			return nil
		}
		// The key changed after its record was checked.
		kvs := r.Responses[0].GetResponseRange().GetKvs()
		if len(kvs) == 0 {
			return fmt.Errorf("%w: %q (unloaded by another call meanwhile)", ErrAdapterNotFound, name)
		}
		var rec adapterRecord
		if json.Unmarshal(kvs[0].Value, &rec) != nil {
			rec = adapterRecord{}
		}
		if err := checkVersion(name, rec.SHA256, want); err != nil {
			return err
		}
		cmps = []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", kvs[0].ModRevision)}
	}
	return fmt.Errorf("%w: adapter %q keeps being reloaded; nothing was unloaded: unload again", ErrConflict, name)
}

// digest is the record's SHA-256 ("" for an unreadable record).
func (r *adapterRecord) digest() string {
	if r == nil {
		return ""
	}
	return r.SHA256
}

func (s *adapterSet) etcd(ctx context.Context, fn func(context.Context) error) error {
	err := s.call(ctx, s.etcdBr, fn)
	if err != nil && !errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%w: adapter registry: %v", ErrUnavailable, err)
	}
	return err
}

// desired reads the set and its revision.
func (s *adapterSet) desired(ctx context.Context) ([]adapterRecord, int64, error) {
	var recs []adapterRecord
	var rev int64
	err := s.etcd(ctx, func(ctx context.Context) error {
		r, err := s.cfg.Etcd.Get(ctx, s.cfg.Prefix, clientv3.WithPrefix())
		if err != nil {
			return err
		}
		rev = r.Header.Revision
		recs = recs[:0]
		for _, kv := range r.Kvs {
			var rec adapterRecord
			if err := json.Unmarshal(kv.Value, &rec); err != nil {
				s.log.Warn("adapter registry: bad entry", "key", string(kv.Key), "err", err)
				continue
			}
			recs = append(recs, rec)
		}
		return nil
	})
	sort.Slice(recs, func(i, j int) bool { return recs[i].Name < recs[j].Name })
	return recs, rev, err
}

// start runs the watch that converges reg (and the engine) to the set.
func (s *adapterSet) start(reg *adapters, apply applyFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		s.watch(ctx, reg, apply)
	}()
}

func (s *adapterSet) close() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	_ = s.bucket.Close()
}

func (s *adapterSet) watch(ctx context.Context, reg *adapters, apply applyFunc) {
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		rev, err := s.reconcile(ctx, reg, apply)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("adapter registry: not converged; retrying", "err", err, "in", backoff)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 200 * time.Millisecond
		wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := s.cfg.Etcd.Watch(wctx, s.cfg.Prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		resync := time.NewTimer(time.Minute) // a periodic full read besides the watch
	events:
		for {
			select {
			case <-ctx.Done():
				break events
			case <-resync.C:
				break events
			case r, ok := <-wch:
				if !ok || r.Err() != nil || r.Canceled {
					break events
				}
				if len(r.Events) > 0 {
					if _, err := s.reconcile(ctx, reg, apply); err != nil && ctx.Err() == nil {
						s.log.Warn("adapter registry: not converged", "err", err)
						break events
					}
				}
			}
		}
		resync.Stop()
		wcancel()
	}
}

// reconcile makes reg serve exactly the set in etcd.
func (s *adapterSet) reconcile(ctx context.Context, reg *adapters, apply applyFunc) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reconcileLocked(ctx, reg, apply)
}

// reconcileLocked is reconcile with s.mu held.
func (s *adapterSet) reconcileLocked(ctx context.Context, reg *adapters, apply applyFunc) (int64, error) {
	recs, rev, err := s.desired(ctx)
	if err != nil {
		return 0, err
	}
	next := make([]*inferencev1.Adapter, 0, len(recs))
	for _, r := range recs {
		p, _, err := s.fetch(ctx, r.Blob, r.SHA256)
		if err != nil {
			return 0, fmt.Errorf("adapter %s: %w", r.Name, err)
		}
		next = append(next, &inferencev1.Adapter{Name: r.Name, Path: p, Scale: r.Scale, BaseModel: r.BaseModel, Sha256: r.SHA256})
	}
	if err := reg.replace(ctx, next, apply); err != nil {
		return 0, err
	}
	select {
	case s.applied <- struct{}{}:
	default:
	}
	return rev, nil
}

// replace makes next the set (in that order) unless it already is.
func (a *adapters) replace(ctx context.Context, next []*inferencev1.Adapter, apply applyFunc) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	same := slices.EqualFunc(a.list, next, func(x, y *inferencev1.Adapter) bool {
		return x.Name == y.Name && x.Path == y.Path && x.Scale == y.Scale
	})
	if same {
		return nil
	}
	return a.change(ctx, next, apply)
}

// loadShared fetches the object key, has this replica's engine accept it
// (a file it refuses is never published), then publishes it for all.
// upload writes an uploaded adapter's bytes to the bucket as
// adapters/<name>/<sha256>.gguf (the trainer's layout) and returns the key.
func (s *adapterSet) upload(ctx context.Context, name string, b []byte) (string, error) {
	if err := checkAdapterBytes(b); err != nil {
		return "", err
	}
	key := fmt.Sprintf("adapters/%s/%s.gguf", name, adapterDigest(b))
	err := s.call(ctx, s.blobBr, func(ctx context.Context) error { return s.bucket.WriteAll(ctx, key, b, nil) })
	if err != nil {
		return "", fmt.Errorf("%w: adapter upload: %v", ErrUnavailable, err)
	}
	return key, nil
}

func (c *core) loadShared(ctx context.Context, name, key string, scale float32) (*inferencev1.Adapter, error) {
	c.shared.mu.Lock()
	defer c.shared.mu.Unlock()
	_, rev, err := c.shared.current(ctx, name)
	if err != nil {
		return nil, err
	}
	p, sha, err := c.shared.fetch(ctx, key, "")
	if err != nil {
		return nil, err
	}
	rec := adapterRecord{Name: name, Blob: key, SHA256: sha, Scale: scale}
	for _, m := range c.backend.Models() {
		if m.Kind == inferencev1.ModelKind_MODEL_KIND_CHAT {
			rec.BaseModel = m.Name
		}
	}
	ad := &inferencev1.Adapter{Name: name, Path: p, Scale: scale, BaseModel: rec.BaseModel, Sha256: sha}
	if err := c.adapters.put(ctx, ad, c.backend.SetAdapters); err != nil {
		return nil, err
	}
	published, err := c.shared.putIf(ctx, rec, rev)
	if err != nil || !published {
		// This replica's engine took the adapter first: back to the set.
		if _, rerr := c.shared.reconcileLocked(context.WithoutCancel(ctx), c.adapters, c.backend.SetAdapters); rerr != nil {
			c.log.WarnContext(ctx, "adapter registry: not converged after a load that was not published; the watch retries", "err", rerr)
		}
	}
	if err != nil {
		return nil, err
	}
	if !published {
		if now, _, cerr := c.shared.current(ctx, name); cerr == nil && now != nil && *now == rec {
			return ad, nil // the same adapter, published by a load that committed first
		}
		return nil, fmt.Errorf("%w: adapter %q was loaded or unloaded by another call while this one was loading; nothing was published: load it again to replace that one", ErrConflict, name)
	}
	c.log.InfoContext(ctx, "adapter published", slog.String("name", name), slog.String("blob", key), slog.String("sha256", sha))
	return ad, nil
}

// unloadShared removes name from the set (and at once from this replica);
// with want, only the version with that digest (see adapterSet.remove): a
// version another replica or the trainer published since stays in the set.
func (c *core) unloadShared(ctx context.Context, name, want string) error {
	c.shared.mu.Lock()
	defer c.shared.mu.Unlock()
	if err := c.shared.remove(ctx, name, want); err != nil {
		return err
	}
	// The set no longer has name; this replica's copy goes whatever its
	// version (the watch would remove it too).
	if err := c.adapters.remove(ctx, name, "", c.backend.SetAdapters); err != nil && !errors.Is(err, ErrAdapterNotFound) {
		return err
	}
	return nil
}
