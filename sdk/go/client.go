package pdfqa

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/registry"
	"github.com/pdfqa/pdfqa/platform/tlsconf"
)

// Connector returns the connection to the service that serves desc. The
// gateway passes its own (its connection factory); Dial builds one.
type Connector func(desc *grpc.ServiceDesc) (grpc.ClientConnInterface, error)

// Option configures a Client.
type Option func(*options)

type options struct {
	apiKey    string
	tls       *tls.Config
	identity  *tlsconf.Identity
	timeouts  map[string]registry.Timeouts
	registry  registry.Registry
	log       *slog.Logger
	connector Connector
	dialOpts  []grpc.DialOption
}

// WithAPIKey sends key as a bearer token ("authorization" metadata) on every call.
func WithAPIKey(key string) Option { return func(o *options) { o.apiKey = key } }

// WithTLS dials over TLS with cfg (default: plaintext, as inside a mesh).
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithIdentity joins a mesh that runs mutual TLS (PDFQA_TLS_DIR,
// `pdfqa up --tls`) as id, a certificate of the mesh's CA
// (tlsconf.Load(dir, "client", nil)): etcd is reached with it, and each
// service is dialed only when its certificate names that service, wherever
// discovery says it is. It takes the place of WithTLS.
func WithIdentity(id *tlsconf.Identity) Option { return func(o *options) { o.identity = id } }

// WithTimeouts sets the deadlines given to calls to service (its registered
// name: "retrieval", "agents", ...) that carry none.
func WithTimeouts(service string, t registry.Timeouts) Option {
	return func(o *options) {
		if o.timeouts == nil {
			o.timeouts = map[string]registry.Timeouts{}
		}
		o.timeouts[service] = t
	}
}

// WithRegistry names the mesh's services (default: DefaultRegistry); the
// pdfqa command passes the mesh's own table.
func WithRegistry(r registry.Registry) Option { return func(o *options) { o.registry = r } }

// WithLogger logs the client's own decisions (default: discarded).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithConnector reaches the services through c instead of dialing (Dial's
// target is then ignored; pass ""). The gateway uses it to serve the OpenAI
// API and MCP tools over its own connections.
func WithConnector(c Connector) Option { return func(o *options) { o.connector = c } }

// WithDialOptions appends gRPC dial options (tests pass a bufconn dialer).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// DefaultRegistry is the services the client knows, each named by its
// contract's package (pdfqa.<name>.v1), the name it registers under in etcd.
func DefaultRegistry() registry.Registry {
	var svcs []registry.Service
	for _, d := range []*grpc.ServiceDesc{&inferencev1.InferenceService_ServiceDesc, &retrievalv1.RetrievalService_ServiceDesc,
		&agentsv1.AgentsService_ServiceDesc, &trainerv1.TrainerService_ServiceDesc} {
		svcs = append(svcs, registry.Service{Name: ServiceName(d), Desc: d})
	}
	r, err := registry.New(svcs...)
	if err != nil {
		panic(err)
	}
	return r
}

// ServiceName is the registered name of the service desc describes: the
// second segment of its gRPC name ("pdfqa.retrieval.v1.RetrievalService" is
// "retrieval").
func ServiceName(desc *grpc.ServiceDesc) string {
	parts := strings.Split(desc.ServiceName, ".")
	if len(parts) < 3 {
		return desc.ServiceName
	}
	return parts[1]
}

// Client calls a pdfqa mesh. It is safe for concurrent use.
type Client struct {
	o       options
	etcd    *clientv3.Client // owned, when Dial resolved through etcd
	factory *client.Factory  // owned, when Dial dialed

	retrieval retrievalv1.RetrievalServiceClient
	agents    agentsv1.AgentsServiceClient
	inference inferencev1.InferenceServiceClient
	trainer   trainerv1.TrainerServiceClient
}

// Dial connects to a mesh. target is "etcd://HOST:PORT[,HOST:PORT...]" to
// resolve every service through etcd, or "HOST:PORT" to send every call to
// one address. Connections are made lazily: Dial fails only on a bad target
// or an etcd that does not answer.
func Dial(ctx context.Context, target string, opts ...Option) (*Client, error) {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.registry == nil {
		o.registry = DefaultRegistry()
	}
	c := &Client{o: o}
	if o.connector == nil {
		if err := c.dial(ctx, target); err != nil {
			return nil, err
		}
	}
	var err error
	conn := func(desc *grpc.ServiceDesc) grpc.ClientConnInterface {
		if err != nil {
			return nil
		}
		var cc grpc.ClientConnInterface
		cc, err = c.o.connector(desc)
		return cc
	}
	c.retrieval = retrievalv1.NewRetrievalServiceClient(conn(&retrievalv1.RetrievalService_ServiceDesc))
	c.agents = agentsv1.NewAgentsServiceClient(conn(&agentsv1.AgentsService_ServiceDesc))
	c.inference = inferencev1.NewInferenceServiceClient(conn(&inferencev1.InferenceService_ServiceDesc))
	c.trainer = trainerv1.NewTrainerServiceClient(conn(&trainerv1.TrainerService_ServiceDesc))
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) dial(ctx context.Context, target string) error {
	target = strings.TrimSpace(target)
	var addr string
	switch {
	case target == "":
		return fmt.Errorf("%w: pdfqa.Dial: empty target (want etcd://HOST:PORT or HOST:PORT)", ErrInvalidArgument)
	case strings.HasPrefix(target, "etcd://"):
		var eps []string
		for _, ep := range strings.Split(strings.TrimPrefix(target, "etcd://"), ",") {
			if ep = strings.TrimSpace(ep); ep != "" {
				eps = append(eps, ep)
			}
		}
		if len(eps) == 0 {
			return fmt.Errorf("%w: pdfqa.Dial: no etcd endpoint in %q", ErrInvalidArgument, target)
		}
		cfg := clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, TLS: c.o.tls}
		if c.o.identity != nil {
			cfg.TLS = c.o.identity.EtcdConfig()
		}
		cli, err := clientv3.New(cfg)
		if err != nil {
			return fmt.Errorf("%w: etcd %v: %v", ErrUnavailable, eps, err)
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = cli.Status(sctx, eps[0])
		cancel()
		if err != nil {
			_ = cli.Close()
			return fmt.Errorf("%w: etcd %s does not answer: %v", ErrUnavailable, eps[0], err)
		}
		c.etcd = cli
	case strings.Contains(target, "://"):
		return fmt.Errorf("%w: pdfqa.Dial: unknown scheme in %q (want etcd://HOST:PORT or HOST:PORT)", ErrInvalidArgument, target)
	default:
		addr = target
	}
	f, err := client.NewFactory(c.etcd, nil)
	if err != nil {
		if c.etcd != nil {
			_ = c.etcd.Close()
		}
		return err
	}
	c.factory = f
	var dialOpts []grpc.DialOption
	if c.o.identity != nil {
		f.TLS(c.o.identity) // mutual TLS, each peer checked against the service it is dialed as
	} else if c.o.tls != nil {
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(credentials.NewTLS(c.o.tls)))
	}
	dialOpts = append(dialOpts, c.o.dialOpts...)
	c.o.connector = func(desc *grpc.ServiceDesc) (grpc.ClientConnInterface, error) {
		s, err := c.o.registry.Of(desc)
		if err != nil {
			return nil, err
		}
		d := s.Downstream()
		if t, ok := c.o.timeouts[s.Name]; ok {
			d.UnaryTimeout, d.StreamTimeout = t.Unary, t.Stream
		}
		d.Address = addr
		d.DialOptions = dialOpts
		return f.Conn(d)
	}
	return nil
}

// Close releases the client's connections.
func (c *Client) Close() error {
	var errs []error
	if c.factory != nil {
		errs = append(errs, c.factory.Close())
	}
	if c.etcd != nil {
		errs = append(errs, c.etcd.Close())
	}
	return errors.Join(errs...)
}

// call prepares ctx for one call: the API key, and metadata pairs.
func (c *Client) call(ctx context.Context, kv ...string) context.Context {
	if c.o.apiKey != "" {
		kv = append(kv, "authorization", "Bearer "+c.o.apiKey)
	}
	if len(kv) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, kv...)
	}
	return ctx
}
