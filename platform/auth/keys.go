package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Key is one API key as stored: its hash, never the secret.
type Key struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	Role   string `json:"role"`
	// Hash is the hex SHA-256 of the whole key string (keys carry 256
	// random bits, so a fast hash is enough).
	Hash    string    `json:"hash"`
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created"`
	// Expires is zero for a key that never expires.
	Expires time.Time `json:"expires,omitzero"`
	// Revoked is zero until the key is revoked.
	Revoked time.Time `json:"revoked,omitzero"`
}

// keyPrefix starts every key, so a leaked one is recognisable.
const keyPrefix = "pdfqa_"

var keyForm = regexp.MustCompile(`^pdfqa_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$`)

// NewKey makes a key for tenant and role expiring after ttl (0: never); the
// returned secret is shown once and stored nowhere.
func NewKey(tenant string, role Role, name string, ttl time.Duration, now time.Time) (secret string, k Key, err error) {
	if err := CheckTenant(tenant); err != nil {
		return "", Key{}, err
	}
	if role < Reader || role > Admin {
		return "", Key{}, fmt.Errorf("%w: role %d", ErrInvalid, role)
	}
	if ttl < 0 {
		return "", Key{}, fmt.Errorf("%w: negative expiry", ErrInvalid)
	}
	idb := make([]byte, 12)
	sb := make([]byte, 32)
	if _, err := rand.Read(idb); err != nil {
		return "", Key{}, err
	}
	if _, err := rand.Read(sb); err != nil {
		return "", Key{}, err
	}
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	id := make([]byte, len(idb))
	for i, b := range idb {
		id[i] = alnum[int(b)%len(alnum)]
	}
	secret = keyPrefix + string(id) + "_" + base64.RawURLEncoding.EncodeToString(sb)
	k = Key{ID: string(id), Tenant: tenant, Role: role.String(), Hash: hashKey(secret), Name: name, Created: now.UTC()}
	if ttl > 0 {
		k.Expires = now.Add(ttl).UTC()
	}
	return secret, k, nil
}

func hashKey(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// KeyID returns the id part of a key string, or false if it is not one.
func KeyID(secret string) (string, bool) {
	m := keyForm.FindStringSubmatch(strings.TrimSpace(secret))
	if m == nil {
		return "", false
	}
	return m[1], true
}

// Check verifies secret against k at now.
func (k Key) Check(secret string, now time.Time) error {
	if subtle.ConstantTimeCompare([]byte(hashKey(secret)), []byte(k.Hash)) != 1 {
		return fmt.Errorf("%w: invalid API key", ErrUnauthenticated)
	}
	if !k.Revoked.IsZero() {
		return fmt.Errorf("%w: API key %s was revoked", ErrUnauthenticated, k.ID)
	}
	if !k.Expires.IsZero() && !now.Before(k.Expires) {
		return fmt.Errorf("%w: API key %s expired at %s", ErrUnauthenticated, k.ID, k.Expires.Format(time.RFC3339))
	}
	return nil
}

// Principal is the principal a valid key runs as.
func (k Key) Principal() Principal {
	r, _ := ParseRole(k.Role)
	return Principal{Tenant: k.Tenant, Role: r, KeyID: k.ID}
}

// State is "active", "revoked" or "expired" at now.
func (k Key) State(now time.Time) string {
	switch {
	case !k.Revoked.IsZero():
		return "revoked"
	case !k.Expires.IsZero() && !now.Before(k.Expires):
		return "expired"
	}
	return "active"
}
