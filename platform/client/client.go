// Package client dials pdfqa services: once per downstream, resolved through
// etcd with round_robin balancing, each call under a deadline, retried when
// idempotent, traced (otelgrpc) and guarded by that downstream's circuit
// breaker.
package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	gresolver "google.golang.org/grpc/resolver"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/pdfqa/pdfqa/platform/breaker"
	"github.com/pdfqa/pdfqa/platform/discovery"
	"github.com/pdfqa/pdfqa/platform/telemetry"
	"github.com/pdfqa/pdfqa/platform/tlsconf"
)

// Downstream describes how to call one service.
type Downstream struct {
	// Service is the registered name (e.g. "retrieval").
	Service string
	// GRPCService is the fully-qualified gRPC service name; when Idempotent is
	// empty, the methods it marks idempotent (idempotency_level in the proto)
	// are retried.
	GRPCService string
	// Idempotent lists the gRPC methods safe to retry, as "pkg.Service/Method",
	// or "pkg.Service" for every method of a service.
	Idempotent []string
	// UnaryTimeout is the deadline given to unary calls that have none (default 30s).
	UnaryTimeout time.Duration
	// StreamTimeout is the deadline given to streams that have none (default 15m).
	StreamTimeout time.Duration
	// Breaker tunes the downstream's breaker.
	Breaker breaker.Settings
	// Address dials this host:port directly instead of resolving through etcd.
	Address string
	// DialOptions are appended to the defaults (tests pass a bufconn dialer).
	DialOptions []grpc.DialOption
}

// Factory dials downstreams and keeps one connection per service.
type Factory struct {
	etcd     *clientv3.Client
	resolver gresolver.Builder
	metrics  *telemetry.Metrics
	gauge    *prometheus.GaugeVec

	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn
	brks   map[string]*breaker.Breaker
	unary  []grpc.UnaryClientInterceptor
	stream []grpc.StreamClientInterceptor
	tracer trace.TracerProvider
	tls    *tlsconf.Identity
}

// TLS makes every connection dialed after it mutual TLS with id: it
// presents id's certificate and dials only endpoints whose certificate,
// from id's CA, names the service dialed (an instance registered under a
// name its certificate does not carry is never called).
func (f *Factory) TLS(id *tlsconf.Identity) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tls = id
}

// Credentials are the transport credentials of a connection to service:
// mutual TLS when the factory has an identity, else plaintext (for a
// direct probe of one instance, such as a health check).
func (f *Factory) Credentials(service string) grpc.DialOption {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creds(service)
}

func (f *Factory) creds(service string) grpc.DialOption {
	if f.tls == nil {
		return grpc.WithTransportCredentials(insecure.NewCredentials())
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(f.tls.ClientConfig(service)))
}

// Trace makes the client spans of every connection dialed after it with tp
// (otelgrpc: a span per call, its context sent to the callee). Without it,
// the global provider (a no-op unless the program sets one).
func (f *Factory) Trace(tp trace.TracerProvider) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tracer = tp
}

// Use adds client interceptors to every connection dialed after it (the
// credentials calls carry: a mesh peer's service token, the CLI's key).
func (f *Factory) Use(u grpc.UnaryClientInterceptor, s grpc.StreamClientInterceptor) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u != nil {
		f.unary = append(f.unary, u)
	}
	if s != nil {
		f.stream = append(f.stream, s)
	}
}

// NewFactory returns a Factory resolving through etcd (cli may be nil when
// every Downstream has an Address). Client RPC metrics and breaker gauges are
// registered in m when m is not nil.
func NewFactory(cli *clientv3.Client, m *telemetry.Metrics) (*Factory, error) {
	f := &Factory{etcd: cli, metrics: m, conns: map[string]*grpc.ClientConn{}, brks: map[string]*breaker.Breaker{}}
	if cli != nil {
		r, err := discovery.Resolver(cli)
		if err != nil {
			return nil, fmt.Errorf("client: etcd resolver: %w", err)
		}
		f.resolver = r
	}
	f.gauge = breaker.StateGauge()
	if m != nil {
		if err := m.Registry.Register(f.gauge); err != nil {
			if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
				f.gauge = are.ExistingCollector.(*prometheus.GaugeVec)
			} else {
				return nil, err
			}
		}
	}
	return f, nil
}

// ServiceConfig returns the gRPC service config JSON: round_robin balancing
// and a retry policy (UNAVAILABLE, exponential backoff) for idempotent methods.
func ServiceConfig(idempotent []string) string {
	type name struct {
		Service string `json:"service"`
		Method  string `json:"method,omitempty"`
	}
	var names []name
	for _, m := range idempotent {
		svc, meth, _ := strings.Cut(m, "/")
		names = append(names, name{Service: svc, Method: meth})
	}
	cfg := map[string]any{"loadBalancingConfig": []any{map[string]any{"round_robin": map[string]any{}}}}
	if len(names) > 0 {
		cfg["methodConfig"] = []any{map[string]any{
			"name": names,
			"retryPolicy": map[string]any{
				"maxAttempts":          4,
				"initialBackoff":       "0.05s",
				"maxBackoff":           "1s",
				"backoffMultiplier":    2.0,
				"retryableStatusCodes": []string{"UNAVAILABLE"},
			},
		}}
	}
	b, _ := json.Marshal(cfg)
	return string(b)
}

// IdempotentMethods lists the methods of a registered gRPC service whose
// proto declares idempotency_level IDEMPOTENT or NO_SIDE_EFFECTS.
func IdempotentMethods(fullService string) []string {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(fullService))
	if err != nil {
		return nil
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil
	}
	var out []string
	ms := sd.Methods()
	for i := 0; i < ms.Len(); i++ {
		m := ms.Get(i)
		opts, ok := m.Options().(*descriptorpb.MethodOptions)
		if ok && opts.GetIdempotencyLevel() != descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN {
			out = append(out, fullService+"/"+string(m.Name()))
		}
	}
	return out
}

// Conn returns the connection to d.Service, dialing it on first use.
func (f *Factory) Conn(d Downstream) (*grpc.ClientConn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.conns[d.Service]; ok {
		return c, nil
	}
	target := discovery.Target(d.Service)
	tp := f.tracer
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	opts := []grpc.DialOption{f.creds(d.Service), grpc.WithStatsHandler(telemetry.GRPCClientTracing(tp))}
	if d.Address != "" {
		target = "passthrough:///" + d.Address
	} else {
		if f.resolver == nil {
			return nil, fmt.Errorf("client: no etcd client to resolve %q", d.Service)
		}
		opts = append(opts, grpc.WithResolvers(f.resolver))
	}
	if len(d.Idempotent) == 0 && d.GRPCService != "" {
		d.Idempotent = IdempotentMethods(d.GRPCService)
	}
	b := breaker.New(d.Service, d.Breaker, f.gauge)
	f.brks[d.Service] = b
	unary := []grpc.UnaryClientInterceptor{telemetry.UnaryClientRequestID(), UnaryDeadline(or(d.UnaryTimeout, 30*time.Second))}
	stream := []grpc.StreamClientInterceptor{telemetry.StreamClientRequestID(), StreamDeadline(or(d.StreamTimeout, 15*time.Minute))}
	if f.metrics != nil {
		unary = append(unary, f.metrics.Client.UnaryClientInterceptor())
		stream = append(stream, f.metrics.Client.StreamClientInterceptor())
	}
	unary = append(append(unary, f.unary...), b.Unary())
	stream = append(append(stream, f.stream...), b.Stream())
	opts = append(opts,
		grpc.WithDefaultServiceConfig(ServiceConfig(d.Idempotent)),
		grpc.WithChainUnaryInterceptor(unary...),
		grpc.WithChainStreamInterceptor(stream...),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20), grpc.MaxCallSendMsgSize(256<<20)),
	)
	opts = append(opts, d.DialOptions...)
	c, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", d.Service, err)
	}
	f.conns[d.Service] = c
	return c, nil
}

// BreakerState returns the state of a downstream's breaker, or "" if never dialed.
func (f *Factory) BreakerState(service string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.brks[service]; ok {
		return b.State()
	}
	return ""
}

// Close closes every connection.
func (f *Factory) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var first error
	for k, c := range f.conns {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
		delete(f.conns, k)
	}
	return first
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// UnaryDeadline gives calls without a deadline one of d.
func UnaryDeadline(d time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, inv grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		return inv(ctx, method, req, reply, cc, opts...)
	}
}

// StreamDeadline gives streams without a deadline one of d; the deadline is
// released when the stream ends.
func StreamDeadline(d time.Duration) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, s grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if _, ok := ctx.Deadline(); ok {
			return s(ctx, desc, cc, method, opts...)
		}
		ctx, cancel := context.WithTimeout(ctx, d)
		cs, err := s(ctx, desc, cc, method, opts...)
		if err != nil {
			cancel()
			return nil, err
		}
		go func() { <-cs.Context().Done(); cancel() }()
		return cs, nil
	}
}
