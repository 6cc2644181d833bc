package testenv

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

// StartGRPC serves the services register adds on a new gRPC server over an
// in-memory listener (bufconn) and returns the listener and a stop function
// (grpc.Server.Stop). For TestMain; a test uses ServeGRPC.
func StartGRPC(register func(*grpc.Server), opts ...grpc.ServerOption) (*bufconn.Listener, func()) {
	lis := bufconn.Listen(1 << 20)
	g := grpc.NewServer(opts...)
	register(g)
	go func() { _ = g.Serve(lis) }()
	return lis, g.Stop
}

// BufDialer is the dial option that reaches lis: what a client (or the
// platform client factory's Downstream.DialOptions) needs to call it.
func BufDialer(lis *bufconn.Listener) grpc.DialOption {
	return grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) })
}

// DialBuf is a plaintext client connection to lis.
func DialBuf(lis *bufconn.Listener, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpc.NewClient("passthrough:///bufnet",
		append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), BufDialer(lis)}, opts...)...)
}

// ServeGRPC is StartGRPC for one test: the server stops at the test's
// cleanup.
func ServeGRPC(t testing.TB, register func(*grpc.Server), opts ...grpc.ServerOption) *bufconn.Listener {
	t.Helper()
	lis, stop := StartGRPC(register, opts...)
	t.Cleanup(stop)
	return lis
}

// DialGRPC is DialBuf for one test: a failure fails the test, and the
// connection closes at its cleanup (before a server ServeGRPC started
// earlier in the test stops).
func DialGRPC(t testing.TB, lis *bufconn.Listener, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := DialBuf(lis, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// GRPC serves register's services in memory for one test and returns a
// client connection to them; both are closed at the test's cleanup.
func GRPC(t testing.TB, register func(*grpc.Server), opts ...grpc.ServerOption) *grpc.ClientConn {
	t.Helper()
	return DialGRPC(t, ServeGRPC(t, register, opts...))
}
