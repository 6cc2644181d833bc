// Package discovery registers service instances in etcd under a lease and
// resolves them, using etcd's own naming packages (endpoints manager and gRPC
// resolver); it adds only key layout and lease upkeep.
package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/naming/endpoints"
	"go.etcd.io/etcd/client/v3/naming/resolver"
	gresolver "google.golang.org/grpc/resolver"
)

// Prefix is the etcd key prefix under which services register.
const Prefix = "pdfqa/services/"

// Target is the gRPC dial target of a service, resolved through etcd.
func Target(service string) string { return "etcd:///" + Prefix + service }

// Resolver returns the gRPC resolver builder for etcd:/// targets.
func Resolver(cli *clientv3.Client) (gresolver.Builder, error) {
	return resolver.NewBuilder(cli)
}

// Instance is one registered endpoint.
type Instance struct {
	Service string
	ID      string
	Addr    string
	// Metadata is what the instance published (e.g. its metrics address).
	Metadata map[string]string
}

// Registration keeps one instance registered until Close.
type Registration struct {
	cli     *clientv3.Client
	em      endpoints.Manager
	key     string
	ep      endpoints.Endpoint
	ttl     int64
	log     *slog.Logger
	cancel  context.CancelFunc
	stopped chan struct{}
	lease   clientv3.LeaseID
}

// Register publishes addr for service under a lease of ttl seconds and keeps
// the lease alive (re-registering after an etcd outage) until Close.
func Register(ctx context.Context, cli *clientv3.Client, service, id, addr string, meta map[string]string, ttl int64, log *slog.Logger) (*Registration, error) {
	if ttl <= 0 {
		ttl = 10
	}
	if log == nil {
		log = slog.Default()
	}
	em, err := endpoints.NewManager(cli, Prefix+service)
	if err != nil {
		return nil, fmt.Errorf("discovery: endpoints manager: %w", err)
	}
	r := &Registration{
		cli: cli, em: em, key: Prefix + service + "/" + id,
		ep: endpoints.Endpoint{Addr: addr, Metadata: meta}, ttl: ttl, log: log,
		stopped: make(chan struct{}),
	}
	kctx, cancel := context.WithCancel(context.Background())
	ka, err := r.publish(ctx, kctx)
	if err != nil {
		cancel()
		return nil, err
	}
	r.cancel = cancel
	go r.keepAlive(kctx, ka)
	return r, nil
}

// publish grants a lease, writes the endpoint under it and starts keeping it
// alive for as long as keepCtx lives.
func (r *Registration) publish(ctx, keepCtx context.Context) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	lease, err := r.cli.Grant(cctx, r.ttl)
	if err != nil {
		return nil, fmt.Errorf("discovery: lease grant: %w", err)
	}
	if err := r.em.AddEndpoint(cctx, r.key, r.ep, clientv3.WithLease(lease.ID)); err != nil {
		return nil, fmt.Errorf("discovery: add endpoint: %w", err)
	}
	r.lease = lease.ID
	return r.cli.KeepAlive(keepCtx, lease.ID)
}

func (r *Registration) keepAlive(ctx context.Context, ka <-chan *clientv3.LeaseKeepAliveResponse) {
	defer close(r.stopped)
	backoff := 200 * time.Millisecond
	for {
		for range ka {
		}
		if ctx.Err() != nil {
			return
		}
		LeaseLost.Inc()
		r.log.Warn("etcd lease lost; re-registering", slog.String("key", r.key))
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			var err error
			if ka, err = r.publish(ctx, ctx); err == nil {
				backoff = 200 * time.Millisecond
				break
			}
			r.log.Warn("re-registration failed", slog.String("key", r.key), slog.Any("err", err))
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

// Close removes the instance from etcd and revokes its lease.
func (r *Registration) Close(ctx context.Context) error {
	r.cancel()
	<-r.stopped
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err := r.em.DeleteEndpoint(cctx, r.key)
	if _, rerr := r.cli.Revoke(cctx, r.lease); err == nil && rerr != nil && !strings.Contains(rerr.Error(), "not found") {
		err = rerr
	}
	return err
}

// List returns every registered instance, sorted by service then id.
func List(ctx context.Context, cli *clientv3.Client) ([]Instance, error) {
	em, err := endpoints.NewManager(cli, strings.TrimSuffix(Prefix, "/"))
	if err != nil {
		return nil, err
	}
	m, err := em.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Instance, 0, len(m))
	for key, ep := range m {
		rest := strings.TrimPrefix(key, Prefix)
		svc, id, _ := strings.Cut(rest, "/")
		md, _ := ep.Metadata.(map[string]any)
		meta := map[string]string{}
		for k, v := range md {
			meta[k] = fmt.Sprint(v)
		}
		out = append(out, Instance{Service: svc, ID: id, Addr: ep.Addr, Metadata: meta})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}
