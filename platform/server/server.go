// Package server builds and runs a pdfqa gRPC server: an OpenTelemetry
// span per call (otelgrpc), an interceptor chain given as a list of links
// (by default request id, metrics, logging, recovery; see
// interceptors.go), grpc.health.v1, reflection, a
// /metrics endpoint, etcd registration and graceful shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.opentelemetry.io/otel"
	oteltrace "go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"

	"github.com/pdfqa/pdfqa/platform/discovery"
	"github.com/pdfqa/pdfqa/platform/telemetry"
	"github.com/pdfqa/pdfqa/platform/tlsconf"
)

// Options configure a Server.
type Options struct {
	// Name is the service name registered in etcd ("inference", ...).
	Name string
	// Addr is the gRPC listen address (default 127.0.0.1:0).
	Addr string
	// MetricsAddr is the HTTP listen address of /metrics (default 127.0.0.1:0; "off" disables).
	MetricsAddr string
	// Etcd registers the instance when not nil.
	Etcd *clientv3.Client
	// LeaseTTL is the registration lease in seconds (default 10).
	LeaseTTL int64
	// DrainTimeout bounds graceful shutdown before in-flight RPCs are cut (default 20s).
	DrainTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics defaults to a fresh registry.
	Metrics *telemetry.Metrics
	// GRPCServices are the fully-qualified gRPC service names whose health is reported.
	GRPCServices []string
	// Interceptors is the chain every call runs through, outermost first
	// (nil: DefaultInterceptors; empty: none). The instance header is set
	// after it, by the server itself.
	Interceptors []Interceptor
	// TracerProvider makes each call's server span (otelgrpc stats handler,
	// child of the caller's traceparent; health checks untraced). Nil: the
	// global provider (a no-op unless the program sets one).
	TracerProvider oteltrace.TracerProvider
	// Extra server options (e.g. message size limits).
	ServerOptions []grpc.ServerOption
	// TLS serves mutual TLS with this identity: callers must present a
	// certificate from its CA (nil: plaintext).
	TLS *tlsconf.Identity
}

// Server is one running service instance.
type Server struct {
	opts    Options
	GRPC    *grpc.Server
	Health  *health.Server
	Metrics *telemetry.Metrics
	log     *slog.Logger
	lis     net.Listener
	mlis    net.Listener

	servingSet atomic.Bool // a service took charge of the health status
}

// New builds the gRPC server; register the service on s.GRPC before Serve.
func New(opts Options) (*Server, error) {
	if opts.Name == "" {
		return nil, errors.New("server: Name is required")
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.MetricsAddr == "" {
		opts.MetricsAddr = "127.0.0.1:0"
	}
	if opts.DrainTimeout == 0 {
		opts.DrainTimeout = 20 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	m := opts.Metrics
	if m == nil {
		m = telemetry.NewMetrics()
	}
	links := opts.Interceptors
	if links == nil {
		links = DefaultInterceptors(log, m)
	}
	tp := opts.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	sopts := append(chain(links), grpc.MaxRecvMsgSize(256<<20), grpc.MaxSendMsgSize(256<<20),
		grpc.StatsHandler(telemetry.GRPCServerTracing(tp)))
	if opts.TLS != nil {
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(opts.TLS.ServerConfig())))
	}
	sopts = append(sopts, opts.ServerOptions...)
	srv := &Server{opts: opts, Metrics: m, log: log}
	sopts = append(sopts, grpc.ChainUnaryInterceptor(srv.unaryInstanceHeader), grpc.ChainStreamInterceptor(srv.streamInstanceHeader))
	gs := grpc.NewServer(sopts...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	srv.GRPC, srv.Health = gs, hs
	return srv, nil
}

// InstanceHeader is the response header naming the instance that served a
// call (its gRPC address), so clients and tests can see the balancing.
const InstanceHeader = "x-pdfqa-instance"

func (s *Server) unaryInstanceHeader(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	_ = grpc.SetHeader(ctx, metadata.Pairs(InstanceHeader, s.Addr()))
	return h(ctx, req)
}

func (s *Server) streamInstanceHeader(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	_ = ss.SetHeader(metadata.Pairs(InstanceHeader, s.Addr()))
	return h(srv, ss)
}

// Listen binds the gRPC and metrics listeners; Addr then reports the real address.
func (s *Server) Listen() error {
	if s.lis != nil {
		return nil
	}
	lis, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("server %s: listen %s: %w", s.opts.Name, s.opts.Addr, err)
	}
	s.lis = lis
	if s.opts.MetricsAddr != "off" {
		mlis, err := net.Listen("tcp", s.opts.MetricsAddr)
		if err != nil {
			lis.Close()
			return fmt.Errorf("server %s: metrics listen: %w", s.opts.Name, err)
		}
		s.mlis = mlis
	}
	return nil
}

// Addr is the gRPC address (after Listen).
func (s *Server) Addr() string {
	if s.lis == nil {
		return ""
	}
	return s.lis.Addr().String()
}

// MetricsAddr is the /metrics address (after Listen), or "".
func (s *Server) MetricsAddr() string {
	if s.mlis == nil {
		return ""
	}
	return s.mlis.Addr().String()
}

// SetServing flips the health status of every registered gRPC service (and
// the server as a whole), e.g. while a required engine is down.
func (s *Server) SetServing(ok bool) {
	s.servingSet.Store(true)
	st := healthpb.HealthCheckResponse_SERVING
	if !ok {
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	s.Health.SetServingStatus("", st)
	for _, n := range s.opts.GRPCServices {
		s.Health.SetServingStatus(n, st)
	}
}

// Serve runs until ctx is cancelled, then drains: health goes NOT_SERVING,
// the instance leaves etcd, in-flight RPCs finish (bounded by DrainTimeout).
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.Metrics.Server.InitializeMetrics(s.GRPC)
	if !s.servingSet.Load() {
		s.SetServing(true)
	}
	var hsrv *http.Server
	if s.mlis != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", s.Metrics.Handler())
		hsrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = hsrv.Serve(s.mlis) }()
	}
	var reg *discovery.Registration
	if s.opts.Etcd != nil {
		meta := map[string]string{"metrics": s.MetricsAddr()}
		var err error
		reg, err = discovery.Register(ctx, s.opts.Etcd, s.opts.Name, s.Addr(), s.Addr(), meta, s.opts.LeaseTTL, s.log)
		if err != nil {
			s.GRPC.Stop()
			return err
		}
	}
	s.log.Info("serving", slog.String("grpc", s.Addr()), slog.String("metrics", s.MetricsAddr()))
	errc := make(chan error, 1)
	go func() { errc <- s.GRPC.Serve(s.lis) }()
	select {
	case err := <-errc:
		if reg != nil {
			_ = reg.Close(context.Background())
		}
		return err
	case <-ctx.Done():
	}
	s.Health.Shutdown()
	if reg != nil {
		if err := reg.Close(context.Background()); err != nil {
			s.log.Warn("deregister", slog.Any("err", err))
		}
	}
	done := make(chan struct{})
	go func() { s.GRPC.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(s.opts.DrainTimeout):
		s.log.Warn("drain timeout; cutting in-flight RPCs")
		s.GRPC.Stop()
	}
	if hsrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = hsrv.Shutdown(sctx)
		cancel()
	}
	s.log.Info("stopped")
	return nil
}
