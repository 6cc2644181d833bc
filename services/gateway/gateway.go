// Package gateway is the REST front door (grpc-gateway) to every pdfqa
// service, plus the mesh's status: registered instances and their health.
package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pdfqa/pdfqa/gen/openapi"
	gatewayv1 "github.com/pdfqa/pdfqa/gen/pdfqa/gateway/v1"
	"github.com/pdfqa/pdfqa/platform/auth"
	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/discovery"
	"github.com/pdfqa/pdfqa/platform/limits"
	"github.com/pdfqa/pdfqa/platform/registry"
	"github.com/pdfqa/pdfqa/platform/telemetry"
)

// MaxBodyBytes bounds a REST request body (uploads are base64 in JSON).
const MaxBodyBytes = 512 << 20

// Service implements gatewayv1.GatewayServiceServer and the REST handler.
type Service struct {
	gatewayv1.UnimplementedGatewayServiceServer
	etcd     *clientv3.Client
	clients  *client.Factory
	log      *slog.Logger
	services registry.Registry // every service of the mesh, the gateway too
	backends registry.Registry // the services it fronts: all but itself

	mu     sync.Mutex
	probes map[string]*grpc.ClientConn // per-instance health probes, by address

	settings Settings
}

// New returns the gateway service of the mesh whose services are listed in
// services (the gateway's own entry among them).
func New(etcd *clientv3.Client, clients *client.Factory, log *slog.Logger, services registry.Registry) *Service {
	return &Service{etcd: etcd, clients: clients, log: log, services: services,
		backends: services.Except(&gatewayv1.GatewayService_ServiceDesc), probes: map[string]*grpc.ClientConn{}}
}

// Register adds the gRPC service to g.
func (s *Service) Register(g *grpc.Server) { gatewayv1.RegisterGatewayServiceServer(g, s) }

// Close releases probe connections.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, c := range s.probes {
		_ = c.Close()
		delete(s.probes, k)
	}
	return nil
}

// probe checks one instance's health directly (not through the balancer), so
// status shows every replica; over mutual TLS when the gateway's clients
// use it, the instance's certificate checked to name service.
func (s *Service) probe(ctx context.Context, service, addr string) (gatewayv1.ServingStatus, time.Duration) {
	s.mu.Lock()
	c, ok := s.probes[addr]
	if !ok {
		creds := grpc.WithTransportCredentials(insecure.NewCredentials())
		if s.clients != nil {
			creds = s.clients.Credentials(service)
		}
		var err error
		c, err = grpc.NewClient("passthrough:///"+addr, creds)
		if err != nil {
			s.mu.Unlock()
			return gatewayv1.ServingStatus_SERVING_STATUS_UNREACHABLE, 0
		}
		s.probes[addr] = c
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	t0 := time.Now()
	r, err := healthpb.NewHealthClient(c).Check(ctx, &healthpb.HealthCheckRequest{})
	d := time.Since(t0)
	switch {
	case err != nil:
		return gatewayv1.ServingStatus_SERVING_STATUS_UNREACHABLE, d
	case r.GetStatus() == healthpb.HealthCheckResponse_SERVING:
		return gatewayv1.ServingStatus_SERVING_STATUS_SERVING, d
	default:
		return gatewayv1.ServingStatus_SERVING_STATUS_NOT_SERVING, d
	}
}

// GetStatus lists registered instances with their health.
func (s *Service) GetStatus(ctx context.Context, _ *gatewayv1.GetStatusRequest) (*gatewayv1.GetStatusResponse, error) {
	// An operator call: REST reaches it in-process, past the gRPC chain.
	if err := auth.Require(ctx, auth.Admin); err != nil {
		return nil, auth.Status(err)
	}
	insts, err := discovery.List(ctx, s.etcd)
	if err != nil {
		return nil, err
	}
	out := make([]*gatewayv1.Instance, len(insts))
	var wg sync.WaitGroup
	for i, in := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, d := s.probe(ctx, in.Service, in.Addr)
			out[i] = &gatewayv1.Instance{Service: in.Service, Address: in.Addr, Id: in.ID, Status: st, LatencyMs: float64(d.Microseconds()) / 1000}
		}()
	}
	wg.Wait()
	serving := map[string]bool{}
	for _, in := range out {
		if in.Status == gatewayv1.ServingStatus_SERVING_STATUS_SERVING {
			serving[in.Service] = true
		}
	}
	var missing []string
	for _, name := range s.services.Names() {
		if !serving[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	return &gatewayv1.GetStatusResponse{Instances: out, MissingServices: missing, Breakers: s.breakers()}, nil
}

// breakers lists the state of the gateway's breaker for each backend it has
// called, by service name.
func (s *Service) breakers() []*gatewayv1.Breaker {
	if s.clients == nil {
		return nil
	}
	var out []*gatewayv1.Breaker
	for _, b := range s.backends {
		if st := s.clients.BreakerState(b.Downstream().Service); st != "" {
			out = append(out, &gatewayv1.Breaker{Service: b.Name, State: st})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

// HTTPHandler returns the REST API (every annotated RPC of every service),
// plus /healthz, /openapi.json, /metrics, the OpenAI-compatible chat API
// (/openai/v1, package openai) and the MCP tools (/mcp, package mcptools).
func (s *Service) HTTPHandler(ctx context.Context, metrics http.Handler) (http.Handler, error) {
	mux := runtime.NewServeMux(
		runtime.WithErrorHandler(restError),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: false, UseProtoNames: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
		}),
		runtime.WithOutgoingHeaderMatcher(func(k string) (string, bool) {
			if k == telemetry.RequestIDHeader {
				return "", false // withRequestID already sets X-Request-Id
			}
			if k == limits.RetryAfterHeader {
				return "Retry-After", true // a limit's refusal says when to retry
			}
			return runtime.DefaultHeaderMatcher(k)
		}),
	)
	if err := gatewayv1.RegisterGatewayServiceHandlerServer(ctx, mux, s); err != nil {
		return nil, err
	}
	for _, b := range s.backends {
		if b.REST == nil {
			continue
		}
		conn, err := s.clients.Conn(b.Downstream())
		if err != nil {
			return nil, err
		}
		if err := b.REST(ctx, mux, conn); err != nil {
			return nil, fmt.Errorf("gateway: REST routes of %s: %w", b.Name, err)
		}
	}
	root := http.NewServeMux()
	root.Handle("/v1/", mux)
	root.Handle(UploadPath, s.uploads(mux))
	root.HandleFunc("/healthz", s.healthz)
	if err := s.clientRoutes(root); err != nil {
		return nil, err
	}
	root.HandleFunc("/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapi.Spec)
	})
	if metrics != nil {
		root.Handle("/metrics", metrics)
	}
	return withRequestID(http.MaxBytesHandler(root, MaxBodyBytes)), nil
}

// healthz answers 200 only when every backend has a reachable, serving instance.
func (s *Service) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	res := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok := true
	for _, b := range s.backends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := "serving"
			conn, err := s.clients.Conn(b.Downstream())
			if err == nil {
				var hr *healthpb.HealthCheckResponse
				hr, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(false))
				if err == nil && hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
					st = hr.GetStatus().String()
				}
			}
			if err != nil {
				st = "unreachable: " + err.Error()
			}
			mu.Lock()
			res[b.Name] = st
			if st != "serving" {
				ok = false
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	code := http.StatusOK
	if !ok {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": ok, "services": res})
}

// withRequestID gives every HTTP request a request id (the caller's
// X-Request-Id when valid, else the trace id of the request's span) that
// follows it to every service it reaches.
func withRequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if telemetry.ValidRequestID(id) {
			telemetry.TagRequestID(r.Context(), id)
		} else {
			id = telemetry.NewRequestIDFor(r.Context())
		}
		w.Header().Set("X-Request-Id", id)
		h.ServeHTTP(w, r.WithContext(telemetry.WithRequestID(r.Context(), id)))
	})
}
