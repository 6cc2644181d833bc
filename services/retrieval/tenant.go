package retrieval

import (
	"context"
	"fmt"
	"strings"

	"github.com/pdfqa/pdfqa/platform/auth"
)

// Collections belong to tenants. The service hands the engine and the store
// tenant-qualified names ("acme~reports"; the default tenant's are bare), so
// every lookup, listing and search is confined to the caller's tenant by
// construction, and another tenant's collection is simply not found.
const tenantSep = "~"

// coll is the caller's collection name as the engine knows it.
func coll(ctx context.Context, name string) (string, error) {
	if strings.Contains(name, tenantSep) {
		return "", fmt.Errorf("%w: collection name %q: use 1-128 letters, digits, '-', '_' or '.'", ErrInvalid, name)
	}
	if t := auth.Tenant(ctx); t != auth.DefaultTenant {
		return t + tenantSep + name, nil
	}
	return name, nil
}

// splitColl returns a qualified name's tenant and the name its tenant uses.
func splitColl(q string) (tenant, name string) {
	if t, n, ok := strings.Cut(q, tenantSep); ok {
		return t, n
	}
	return auth.DefaultTenant, q
}

// publicColl is the name the owner of qualified name q sees.
func publicColl(q string) string {
	_, n := splitColl(q)
	return n
}
