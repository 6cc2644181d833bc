// Package auth is pdfqa's identity: API keys (only their hashes stored),
// roles, tenants and the principal every call runs as.
//
// A caller presents "Authorization: Bearer <key>" (REST) or the same in gRPC
// metadata. The key names its tenant and role. A mesh service calling
// another on a caller's behalf presents the mesh's service token instead and
// asserts the caller's principal in metadata (x-pdfqa-tenant, x-pdfqa-role,
// x-pdfqa-key); only a call bearing the service token may assert one.
//
// A context without a principal is a deployment run without auth
// (--insecure-no-auth, unit tests): Require passes and Tenant is
// DefaultTenant.
package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
)

// Role is what a principal may do; each role includes the ones below it.
type Role int

// Roles, weakest first.
const (
	RoleNone Role = iota
	// Reader lists, gets, searches and asks.
	Reader
	// Writer also creates, uploads and deletes its tenant's objects.
	Writer
	// Admin also runs operator RPCs: adapters, trainer jobs, raw
	// Generate/Embed, status.
	Admin
)

var roleNames = map[Role]string{Reader: "reader", Writer: "writer", Admin: "admin"}

func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return "none"
}

// ParseRole parses "reader", "writer" or "admin".
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if n == s {
			return r, nil
		}
	}
	return RoleNone, fmt.Errorf("%w: role %q: one of reader, writer, admin", ErrInvalid, s)
}

// DefaultTenant owns everything created without auth, and is the tenant of
// the admin key `pdfqa up` creates.
const DefaultTenant = "default"

var tenantName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// CheckTenant validates a tenant name: 1-63 lowercase letters, digits or '-'.
func CheckTenant(t string) error {
	if !tenantName.MatchString(t) {
		return fmt.Errorf("%w: tenant %q: use 1-63 lowercase letters, digits or '-', starting with a letter or digit", ErrInvalid, t)
	}
	return nil
}

// Errors (mapped to gRPC codes by Status, to HTTP by the middleware).
var (
	ErrInvalid         = errors.New("invalid argument")
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrPermission      = errors.New("permission denied")
	ErrNotFound        = errors.New("key not found")
)

// Principal is who a call runs as.
type Principal struct {
	Tenant string
	Role   Role
	// KeyID is the API key's id (rate limits and caps are per key).
	KeyID string
	// Peer: a mesh service asserted this principal on the caller's behalf
	// (the caller was authenticated, and rate-limited, where it entered).
	Peer bool
}

type principalKey struct{}

// WithPrincipal returns ctx running as p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal ctx runs as, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Tenant is the tenant ctx runs as (DefaultTenant without auth).
func Tenant(ctx context.Context) string {
	if p, ok := FromContext(ctx); ok && p.Tenant != "" {
		return p.Tenant
	}
	return DefaultTenant
}

// Require fails with ErrPermission unless ctx's principal has at least role
// r (a context without a principal runs without auth and passes).
func Require(ctx context.Context, r Role) error {
	p, ok := FromContext(ctx)
	if !ok || p.Role >= r {
		return nil
	}
	return fmt.Errorf("%w: needs role %s, key has %s", ErrPermission, r, p.Role)
}
