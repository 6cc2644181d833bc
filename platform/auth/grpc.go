package auth

import (
	"context"
	"errors"

	grpcauth "github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Status maps an auth error to its gRPC status.
func Status(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, err.Error())
	case errors.Is(err, ErrPermission):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	}
	return status.Error(codes.Unavailable, "auth: key store unavailable")
}

// AuthFunc is the go-grpc-middleware auth function: it authenticates the
// call's bearer token, checks the role p says its method needs, and runs the
// call as the principal.
func (v *Verifier) AuthFunc(p Policy) grpcauth.AuthFunc {
	return func(ctx context.Context) (context.Context, error) {
		tok, err := grpcauth.AuthFromMD(ctx, "bearer")
		if err != nil {
			return nil, status.Error(codes.Unauthenticated, "missing API key: send metadata authorization: Bearer <key>")
		}
		md, _ := metadata.FromIncomingContext(ctx)
		pr, err := v.Verify(ctx, tok, md)
		if err != nil {
			return nil, Status(err)
		}
		ctx = WithPrincipal(ctx, pr)
		if pr.Peer {
			return ctx, nil // checked where the caller entered
		}
		m, _ := grpc.Method(ctx)
		if err := Require(ctx, p.Need(m)); err != nil {
			return nil, Status(err)
		}
		return ctx, nil
	}
}

// ServerInterceptors are AuthFunc as the unary and stream interceptors.
func (v *Verifier) ServerInterceptors(p Policy) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	f := v.AuthFunc(p)
	return grpcauth.UnaryServerInterceptor(f), grpcauth.StreamServerInterceptor(f)
}

// peerContext sets ctx's outgoing credentials to the mesh's service token,
// asserting ctx's principal (none: the mesh itself). Whatever the caller
// sent before is replaced, so a forwarded header cannot assert a tenant.
func peerContext(ctx context.Context, token string) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	md.Set("authorization", "Bearer "+token)
	md.Delete(MDTenant)
	md.Delete(MDRole)
	md.Delete(MDKey)
	if p, ok := FromContext(ctx); ok {
		md.Set(MDTenant, p.Tenant)
		md.Set(MDRole, p.Role.String())
		md.Set(MDKey, p.KeyID)
	}
	return metadata.NewOutgoingContext(ctx, md)
}

// PeerClient returns the client interceptors a mesh service calls its peers
// with: the service token plus the principal the call runs as. A front
// (the REST gateway) whose calls are its callers' own requests passes its
// Policy as front: a call for a principal it authenticated itself must have
// the role the method needs.
func PeerClient(token string, front *Policy) (grpc.UnaryClientInterceptor, grpc.StreamClientInterceptor) {
	check := func(ctx context.Context, method string) error {
		if front == nil {
			return nil
		}
		if p, ok := FromContext(ctx); ok && !p.Peer {
			return Status(Require(ctx, front.Need(method)))
		}
		return nil
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, inv grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			if err := check(ctx, method); err != nil {
				return err
			}
			return inv(peerContext(ctx, token), method, req, reply, cc, opts...)
		}, func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, s grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			if err := check(ctx, method); err != nil {
				return nil, err
			}
			return s(peerContext(ctx, token), desc, cc, method, opts...)
		}
}

// KeyClient returns client interceptors presenting API key key (the CLI's).
func KeyClient(key string) (grpc.UnaryClientInterceptor, grpc.StreamClientInterceptor) {
	with := func(ctx context.Context) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, inv grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return inv(with(ctx), method, req, reply, cc, opts...)
		}, func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, s grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return s(with(ctx), desc, cc, method, opts...)
		}
}
