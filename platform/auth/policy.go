package auth

import "strings"

// Policy says which role each gRPC method needs: by full method
// ("/pkg.Service/Method"), else by service ("/pkg.Service/"), else Default.
// A method nobody listed needs Default, so the zero Policy's callers need
// Admin: fail closed.
type Policy struct {
	Methods map[string]Role
	Default Role
}

// Need returns the role fullMethod needs.
func (p Policy) Need(fullMethod string) Role {
	if r, ok := p.Methods[fullMethod]; ok {
		return r
	}
	if i := strings.LastIndex(fullMethod, "/"); i > 0 {
		if r, ok := p.Methods[fullMethod[:i+1]]; ok {
			return r
		}
	}
	if p.Default == RoleNone {
		return Admin
	}
	return p.Default
}
