package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"
)

// Metadata a mesh peer sets to assert the principal it calls for.
const (
	MDTenant = "x-pdfqa-tenant"
	MDRole   = "x-pdfqa-role"
	MDKey    = "x-pdfqa-key"
)

// NewServiceToken returns a fresh mesh service token (`pdfqa up` makes one
// per start; separate processes share one through PDFQA_SERVICE_TOKEN).
func NewServiceToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "pdfqa-mesh_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// Verifier authenticates bearer tokens: API keys against a Store (cached
// for TTL, so a revocation takes effect within it), and the mesh's service
// token.
type Verifier struct {
	Store Store
	// ServiceToken is what mesh peers present ("": no peer may assert a
	// principal).
	ServiceToken string
	// TTL bounds how long a looked-up key is trusted (default 5s).
	TTL time.Duration
	// Now defaults to time.Now.
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]cachedKey
}

type cachedKey struct {
	k   Key
	err error
	at  time.Time
}

// maxCached bounds the cache (ids are checked for form first, so only
// well-formed ids reach it).
const maxCached = 10000

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify returns the principal bearer authenticates as; md carries what a
// mesh peer asserts. The error wraps ErrUnauthenticated, or is the store's
// when it cannot answer.
func (v *Verifier) Verify(ctx context.Context, bearer string, md metadata.MD) (Principal, error) {
	if bearer == "" {
		return Principal{}, fmt.Errorf("%w: missing API key (send Authorization: Bearer <key>)", ErrUnauthenticated)
	}
	if v.ServiceToken != "" && subtle.ConstantTimeCompare([]byte(bearer), []byte(v.ServiceToken)) == 1 {
		return peerPrincipal(md)
	}
	id, ok := KeyID(bearer)
	if !ok {
		return Principal{}, fmt.Errorf("%w: malformed API key", ErrUnauthenticated)
	}
	k, err := v.lookup(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: invalid API key", ErrUnauthenticated)
	}
	if err != nil {
		return Principal{}, err
	}
	if err := k.Check(bearer, v.now()); err != nil {
		return Principal{}, err
	}
	return k.Principal(), nil
}

// peerPrincipal is the principal a mesh peer asserts; none asserted: the
// mesh itself (admin of the default tenant), for calls no caller made
// (background indexing, a model's embeddings).
func peerPrincipal(md metadata.MD) (Principal, error) {
	first := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	t := first(MDTenant)
	if t == "" {
		return Principal{Tenant: DefaultTenant, Role: Admin, KeyID: "mesh", Peer: true}, nil
	}
	if err := CheckTenant(t); err != nil {
		return Principal{}, fmt.Errorf("%w: peer asserted %v", ErrUnauthenticated, err)
	}
	r, err := ParseRole(first(MDRole))
	if err != nil {
		return Principal{}, fmt.Errorf("%w: peer asserted %v", ErrUnauthenticated, err)
	}
	return Principal{Tenant: t, Role: r, KeyID: first(MDKey), Peer: true}, nil
}

func (v *Verifier) lookup(ctx context.Context, id string) (Key, error) {
	ttl := v.TTL
	if ttl <= 0 {
		ttl = 5 * time.Second
	}
	now := v.now()
	v.mu.Lock()
	c, ok := v.cache[id]
	v.mu.Unlock()
	if ok && now.Sub(c.at) < ttl {
		return c.k, c.err
	}
	k, err := v.Store.Get(ctx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Key{}, err // the store is down: do not cache
	}
	v.mu.Lock()
	if v.cache == nil || len(v.cache) >= maxCached {
		v.cache = map[string]cachedKey{}
	}
	v.cache[id] = cachedKey{k: k, err: err, at: now}
	v.mu.Unlock()
	return k, err
}

// Bearer extracts the token of an "Authorization: Bearer <token>" value.
func Bearer(h string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}
