package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/pdfqa/pdfqa/platform/auth"
	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/server"
	"github.com/pdfqa/pdfqa/platform/telemetry"
	"github.com/pdfqa/pdfqa/platform/tlsconf"
	"github.com/pdfqa/pdfqa/services/gateway/webui"
)

// RunOptions configure one service instance.
type RunOptions struct {
	Addr        string // gRPC listen address (default 127.0.0.1:0)
	MetricsAddr string // /metrics listen address (default 127.0.0.1:0)
	HTTPAddr    string // gateway only: REST listen address ("" disables REST)
	Etcd        *clientv3.Client
	Data        string
	// Store is the shared state's server (postgres://…); empty: embedded.
	Store    string
	Cache    string
	LogLevel string
	LeaseTTL int64
	// Tracing feeds the instance's spans (service.name = its name); nil:
	// the instance's own, read from the OTEL_* environment
	// (telemetry.NewTracing) and flushed when it stops.
	Tracing *telemetry.Tracing
	// Security authenticates and bounds callers (the zero value refuses to
	// start: set ServiceToken, or Insecure).
	Security Security
	// TLSDir serves and calls over mutual TLS with the instance's identity
	// from this directory (tlsconf.Load; "" : plaintext).
	TLSDir string
	// RESTTLS serves the gateway's REST listener over HTTPS with the
	// gateway's certificate when TLSDir is set (no client certificate
	// asked: REST callers authenticate with API keys); a plaintext request
	// on that port is answered 400. Without TLSDir it changes nothing.
	RESTTLS bool
	// Env reads the service's settings (nil: the process environment); the
	// commands pass theirs, which carries the flags they bound.
	Env *config.Reader
}

// Instance is a running service instance.
type Instance struct {
	Name     string
	Server   *server.Server
	HTTPAddr string
	// HTTPS says the REST listener serves TLS (RunOptions.RESTTLS).
	HTTPS bool
	done  chan error
}

// RESTURL is the base URL of the instance's REST listener ("" when it
// serves none).
func (i *Instance) RESTURL() string {
	switch {
	case i.HTTPAddr == "":
		return ""
	case i.HTTPS:
		return "https://" + i.HTTPAddr
	}
	return "http://" + i.HTTPAddr
}

// Wait blocks until the instance has stopped.
func (i *Instance) Wait() error { return <-i.done }

// restFront is a service that also serves REST (the gateway).
type restFront interface {
	HTTPHandler(ctx context.Context, metrics http.Handler) (http.Handler, error)
}

// Start builds a service, binds its listeners and serves it until ctx ends.
func Start(ctx context.Context, name string, o RunOptions) (*Instance, error) {
	u, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	log := telemetry.NewLogger(os.Stderr, o.LogLevel, name)
	m := telemetry.NewMetrics()
	g, err := newGuard(o.Security, o.Etcd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if o.Security.Insecure {
		log.Warn("running WITHOUT authentication (--insecure-no-auth): anyone who reaches this service reads and deletes everything; local development only")
	}
	tracing, ownTracing, started := o.Tracing, false, false
	if tracing == nil {
		if tracing, err = telemetry.NewTracing(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		ownTracing = true
		defer func() {
			if !started {
				_ = tracing.Shutdown(context.Background())
			}
		}()
	}
	if e := tracing.Exporter(); e != "" && ownTracing {
		log.Info("exporting traces", slog.String("exporter", e))
	}
	tp := tracing.Provider(name)
	var id *tlsconf.Identity
	if o.TLSDir != "" {
		if id, err = tlsconf.Load(o.TLSDir, name, log); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	srv, err := server.New(server.Options{TLS: id,
		Name: name, Addr: o.Addr, MetricsAddr: o.MetricsAddr, Etcd: o.Etcd, LeaseTTL: o.LeaseTTL,
		Logger: log, Metrics: m, GRPCServices: []string{u.GRPCService()},
		ServerOptions: []grpc.ServerOption{grpc.MaxRecvMsgSize(o.Security.Limits.grpcMessageBytes())}, TracerProvider: tp,
		// The chain every call runs through, outermost first: a cross-cutting
		// check is one more link here; the guard adds auth, the per-key rate
		// limit, the deadline cap and the concurrent-answer cap.
		Interceptors: g.interceptors(u, []server.Interceptor{
			server.RequestID(),
			server.Metrics(m),
			server.Logging(log),
			server.Recovery(log),
		}),
	})
	if err != nil {
		return nil, err
	}
	clients, err := client.NewFactory(o.Etcd, m)
	if err != nil {
		return nil, err
	}
	clients.Trace(tp)
	if id != nil {
		clients.TLS(id)
	}
	if !o.Security.Insecure {
		var front *auth.Policy
		if u.Fronts {
			front = &Policy
		}
		clients.Use(auth.PeerClient(o.Security.ServiceToken, front))
	}
	dataDir := filepath.Join(o.Data, name)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	svc, err := u.Build(ctx, Deps{Log: log, Etcd: o.Etcd, Clients: clients, Server: srv, Registry: Registry(), Env: o.env(), Data: dataDir, Store: o.Store, Cache: o.Cache, Limits: o.Security.Limits})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	svc.Register(srv.GRPC)
	if err := srv.Listen(); err != nil {
		return nil, err
	}
	inst := &Instance{Name: name, Server: srv, done: make(chan error, 1)}
	var hsrv *http.Server
	if gw, ok := svc.(restFront); ok && o.HTTPAddr != "" {
		// /metrics stays on the instance's own metrics listener, off the
		// public port.
		h, err := gw.HTTPHandler(ctx, nil)
		if err != nil {
			return nil, err
		}
		h = g.http(http.MaxBytesHandler(h, o.Security.Limits.restBodyBytes()))
		// A span per API request: the root of its trace.
		h = telemetry.HTTPServerTracing(h, tp, name)
		h = webui.Mount(h) // the web UI at / and /ui/; the API as before
		lis, err := net.Listen("tcp", o.HTTPAddr)
		if err != nil {
			return nil, fmt.Errorf("gateway: REST listen %s: %w", o.HTTPAddr, err)
		}
		inst.HTTPAddr = lis.Addr().String()
		// net/http's own errors (a refused handshake, a plaintext request
		// on the HTTPS port) go to the instance's log.
		hsrv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelInfo)}
		if inst.HTTPS = o.RESTTLS && id != nil; inst.HTTPS {
			// The certificate comes from TLSConfig (re-read on renewal);
			// ServeTLS adds h2 and http/1.1 to it.
			hsrv.TLSConfig = id.HTTPSConfig()
			go func() { _ = hsrv.ServeTLS(lis, "", "") }()
		} else {
			go func() { _ = hsrv.Serve(lis) }()
		}
		log.Info("REST gateway listening", slog.String("url", inst.RESTURL()))
	}
	go func() {
		err := srv.Serve(ctx)
		if hsrv != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = hsrv.Shutdown(sctx)
			cancel()
		}
		_ = svc.Close()
		_ = clients.Close()
		if ownTracing {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = tracing.Shutdown(sctx) // the last spans' batch
			cancel()
		}
		inst.done <- err
	}()
	started = true
	return inst, nil
}

// UpOptions configure the whole mesh in one process.
type UpOptions struct {
	Data string
	// Store is the shared state's server (postgres://…); empty: embedded.
	Store    string
	Cache    string
	HTTPAddr string // REST gateway address (default 127.0.0.1:8080)
	EtcdAddr string // embedded etcd client address (default 127.0.0.1:0: any free port)
	LogLevel string
	// Insecure runs without authentication (--insecure-no-auth).
	Insecure bool
	// TLS runs the mesh over mutual TLS (etcd too) with certificates from
	// TLSDir, or with TLSDir empty from the data directory's tls/ folder,
	// made by a development CA on first start.
	TLS    bool
	TLSDir string
	// RESTTLS serves the REST gateway over HTTPS with the gateway's
	// certificate when the mesh runs TLS (RunOptions.RESTTLS).
	RESTTLS bool
	// Tracing feeds every instance's spans; nil: read from the OTEL_*
	// environment (telemetry.NewTracing) and flushed when the mesh stops.
	Tracing *telemetry.Tracing
	// Ready is called once every service is registered and serving.
	Ready func(m *Mesh)
	// Env reads the services' settings (nil: the process environment).
	Env *config.Reader
}

func (o RunOptions) env() *config.Reader {
	if o.Env != nil {
		return o.Env
	}
	return config.Environment()
}

// Mesh is a running single-process mesh.
type Mesh struct {
	Etcd      *Embedded
	Client    *clientv3.Client
	Instances []*Instance
	// AdminKey is the data directory's admin key ("" when insecure);
	// AdminKeyCreated says this start made it.
	AdminKey        string
	AdminKeyCreated bool
	// TLSDir holds the mesh's certificates ("" : plaintext).
	TLSDir string
}

// Gateway returns the instance that serves REST (the gateway).
func (m *Mesh) Gateway() *Instance {
	for _, i := range m.Instances {
		if i.HTTPAddr != "" {
			return i
		}
	}
	return nil
}

// Up runs an embedded etcd and every service until ctx ends, then drains
// every service and stops etcd.
func Up(ctx context.Context, o UpOptions) error {
	if o.HTTPAddr == "" {
		o.HTTPAddr = "127.0.0.1:8080"
	}
	if o.Cache == "" {
		o.Cache = config.DefaultCache()
	}
	if err := os.MkdirAll(o.Data, 0o755); err != nil {
		return err
	}
	tlsDir, err := upTLSDir(o)
	if err != nil {
		return err
	}
	etcd, err := StartEmbeddedTLS(filepath.Join(o.Data, "etcd"), o.EtcdAddr, tlsDir)
	if err != nil {
		return err
	}
	defer etcd.Close()
	// `pdfqa status` and other commands find the mesh through this file.
	if err := os.WriteFile(filepath.Join(o.Data, "etcd.endpoint"), []byte(etcd.Endpoint()+"\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(o.Data, "etcd.endpoint"))
	cli, err := EtcdClient([]string{etcd.Endpoint()}, tlsDir, ClientIdentity)
	if err != nil {
		return err
	}
	defer cli.Close()
	m := &Mesh{Etcd: etcd, Client: cli, TLSDir: tlsDir}
	if o.Tracing == nil {
		if o.Tracing, err = telemetry.NewTracing(ctx); err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = o.Tracing.Shutdown(sctx) // the last spans' batch
			cancel()
		}()
		if e := o.Tracing.Exporter(); e != "" {
			slog.Info("exporting traces", slog.String("exporter", e))
		}
	}
	sec := Security{Insecure: o.Insecure, Limits: ReadLimits(config.Environment())}
	if !o.Insecure {
		// One token for this start's services; an admin key on first start.
		if sec.ServiceToken, err = auth.NewServiceToken(); err != nil {
			return err
		}
		if m.AdminKey, m.AdminKeyCreated, err = ensureAdminKey(ctx, auth.Etcd{Client: cli}, o.Data); err != nil {
			return fmt.Errorf("admin key: %w", err)
		}
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var errs []error
	for _, name := range Registry().Names() {
		ecli := cli
		if tlsDir != "" {
			// Each service reaches etcd as itself, with its certificate's
			// permissions (ensureEtcdAuth).
			if ecli, err = EtcdClient([]string{etcd.Endpoint()}, tlsDir, name); err != nil {
				errs = append(errs, err)
				break
			}
			defer ecli.Close()
		}
		// Only the gateway serves REST; the others ignore HTTPAddr.
		ro := RunOptions{Etcd: ecli, Data: o.Data, Store: o.Store, Cache: o.Cache, LogLevel: o.LogLevel, HTTPAddr: o.HTTPAddr, Security: sec, Tracing: o.Tracing, TLSDir: tlsDir, RESTTLS: o.RESTTLS, Env: o.Env}
		inst, err := Start(sctx, name, ro)
		if err != nil {
			errs = append(errs, err)
			break
		}
		m.Instances = append(m.Instances, inst)
	}
	if len(errs) == 0 && o.Ready != nil {
		o.Ready(m)
	}
	if len(errs) == 0 {
		<-ctx.Done()
	}
	stop()
	var wg sync.WaitGroup
	for _, i := range m.Instances {
		wg.Add(1)
		go func() { defer wg.Done(); _ = i.Wait() }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// FindEtcd returns the etcd endpoints to use: explicit, else the endpoint a
// running `pdfqa up` wrote into the data directory, else the default.
func FindEtcd(explicit, data string) string {
	if explicit != "" {
		return explicit
	}
	if b, err := os.ReadFile(filepath.Join(data, "etcd.endpoint")); err == nil {
		return strings.TrimSpace(string(b))
	}
	return "127.0.0.1:2379"
}
