// Package mesh assembles pdfqa services into processes: one service against
// an external etcd (`pdfqa serve`), or the whole mesh with an embedded etcd in
// one process (`pdfqa up`).
package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	gatewayv1 "github.com/pdfqa/pdfqa/gen/pdfqa/gateway/v1"
	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/registry"
	"github.com/pdfqa/pdfqa/platform/server"
	"github.com/pdfqa/pdfqa/services/agents"
	"github.com/pdfqa/pdfqa/services/agents/ask"
	"github.com/pdfqa/pdfqa/services/agents/remote"
	"github.com/pdfqa/pdfqa/services/agents/runstore"
	"github.com/pdfqa/pdfqa/services/gateway"
	"github.com/pdfqa/pdfqa/services/inference"
	"github.com/pdfqa/pdfqa/services/retrieval"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
	"github.com/pdfqa/pdfqa/services/trainer"
)

// Deps is what a service may use while it is built.
type Deps struct {
	Log     *slog.Logger
	Etcd    *clientv3.Client
	Clients *client.Factory
	Server  *server.Server
	// Registry is every service of the mesh (Registry()).
	Registry registry.Registry
	// Env reads the service's settings (Unit.Settings says which).
	Env   *config.Reader
	Data  string
	Cache string
	// Store is the shared state's server (postgres://…); empty: the
	// embedded stores in Data.
	Store string
	// Limits are the mesh's per-caller bounds (the upload limit for one).
	Limits Limits
}

// Service is a built service ready to register on a gRPC server.
type Service interface {
	Register(*grpc.Server)
	Close() error
}

// Unit is one service the mesh can run: its registry entry, its settings
// and how to build it.
type Unit struct {
	registry.Service
	// Settings reads the service's settings through r, as Build does
	// (`pdfqa config` lists them); nil: none.
	Settings func(r *config.Reader, cache string) error
	Build    func(ctx context.Context, d Deps) (Service, error)
	// Fronts: the service's outgoing calls are its callers' own requests
	// (the REST gateway), so they are checked against Policy.
	Fronts bool
}

// Units is the mesh's one service table, in start order: the gateway last,
// once every service it fronts is up. Adding a service is one entry here.
var Units = []Unit{{
	Service:  registry.Service{Name: "inference", Desc: &inferencev1.InferenceService_ServiceDesc, REST: inferencev1.RegisterInferenceServiceHandler},
	Settings: func(r *config.Reader, cache string) error { inference.Read(r, cache); return nil },
	Build:    buildInference,
}, {
	Service: registry.Service{Name: "retrieval", Desc: &retrievalv1.RetrievalService_ServiceDesc, REST: retrievalv1.RegisterRetrievalServiceHandler,
		// Uploads, and following an ingestion.
		CLICalls: registry.Timeouts{Unary: 5 * time.Minute, Stream: time.Hour}},
	Settings: func(r *config.Reader, _ string) error { retrieval.ReadSettings(r); return nil },
	Build:    buildRetrieval,
}, {
	Service: registry.Service{Name: "agents", Desc: &agentsv1.AgentsService_ServiceDesc, REST: agentsv1.RegisterAgentsServiceHandler,
		// An answer may take minutes on a CPU.
		CLICalls: registry.Timeouts{Stream: 30 * time.Minute}},
	Settings: func(r *config.Reader, _ string) error { _, err := agents.ReadConfig(r); return err },
	Build:    buildAgents,
}, {
	Service:  registry.Service{Name: "trainer", Desc: &trainerv1.TrainerService_ServiceDesc, REST: trainerv1.RegisterTrainerServiceHandler},
	Settings: func(r *config.Reader, cache string) error { trainer.Read(r, cache); return nil },
	Build:    buildTrainer,
}, {
	// The gateway serves its own REST routes in-process.
	Service: registry.Service{Name: "gateway", Desc: &gatewayv1.GatewayService_ServiceDesc},
	Build:   buildGateway,
	Fronts:  true,
}}

// ReadSettings reads every service's settings through r (`pdfqa config`).
func ReadSettings(r *config.Reader, cache string) error {
	var errs []error
	for _, u := range Units {
		if u.Settings != nil {
			if err := u.Settings(r, cache); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", u.Name, err))
			}
		}
	}
	// the mesh's own limits, enforced alike at every front door (the
	// gateway has no settings of its own)
	ReadLimits(r)
	return errors.Join(errs...)
}

// Registry is the services of Units, in start order.
func Registry() registry.Registry {
	svcs := make([]registry.Service, len(Units))
	for i, u := range Units {
		svcs[i] = u.Service
	}
	r, err := registry.New(svcs...)
	if err != nil {
		panic(err) // the table above is wrong; TestRegistry says how
	}
	return r
}

// Names lists the services in a stable order.
func Names() []string {
	n := Registry().Names()
	sort.Strings(n)
	return n
}

// Lookup returns the unit for name.
func Lookup(name string) (Unit, error) {
	for _, u := range Units {
		if u.Name == name {
			return u, nil
		}
	}
	return Unit{}, fmt.Errorf("unknown service %q (one of %v)", name, Names())
}

func buildGateway(_ context.Context, d Deps) (Service, error) {
	set := gateway.Read(d.Env)
	set.MaxUploadBytes = d.Limits.MaxUploadBytes
	return gateway.New(d.Etcd, d.Clients, d.Log, d.Registry).Configure(set), nil
}

func buildRetrieval(_ context.Context, d Deps) (Service, error) {
	set := retrieval.ReadSettings(d.Env)
	cfg := retrieval.Config{Dir: d.Data, Cache: d.Cache, Log: d.Log, StoreURL: d.Store, BlobsURL: set.Blobs, MaxUploadBytes: d.Limits.MaxUploadBytes}
	set.Apply(&cfg)
	if d.Clients != nil {
		inf, err := d.Registry.Of(&inferencev1.InferenceService_ServiceDesc)
		if err != nil {
			return nil, err
		}
		// Index with the static model (parse speed), then refine in the
		// background with the contextual one ("none": no refinement).
		cfg.Embedder = &embed.Inference{Clients: d.Clients, Downstream: inf.Downstream(), Model: set.EmbedModel}
		if ref, ok := set.Refines(); ok {
			cfg.Refiner = &embed.Inference{Clients: d.Clients, Downstream: inf.Downstream(), Model: ref}
		}
	}
	svc, err := retrieval.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := svc.RegisterMetrics(d.Server.Metrics.Registry); err != nil {
		_ = svc.Close()
		return nil, err
	}
	return svc, nil
}

func buildInference(_ context.Context, d Deps) (Service, error) {
	o := inference.Options{
		Config: inference.Read(d.Env, d.Cache), DataDir: d.Data, Log: d.Log,
		Registry: d.Server.Metrics.Registry, SetServing: d.Server.SetServing,
	}
	if d.Store != "" && d.Etcd != nil {
		// With the shared store the adapter set is the mesh's: a key prefix
		// in etcd, the bytes in the shared bucket.
		u, err := sharedBlobs(d)
		if err != nil {
			return nil, err
		}
		o.Shared = &inference.SharedAdapters{Etcd: d.Etcd, BlobsURL: u, CacheDir: filepath.Join(d.Data, "adapter-cache")}
	}
	return inference.New(o)
}

// sharedBlobs is the blob bucket every replica shares with the shared
// store: PDFQA_BLOBS, else a folder beside the services' data folders.
func sharedBlobs(d Deps) (string, error) {
	if u := retrieval.ReadSettings(d.Env).Blobs; u != "" {
		return u, nil
	}
	return store.FileBucketURL(filepath.Join(filepath.Dir(d.Data), "blobs"))
}

func buildAgents(ctx context.Context, d Deps) (Service, error) {
	inf, ret, err := modelAndSearch(d)
	if err != nil {
		return nil, err
	}
	cfg, err := agents.ReadConfig(d.Env)
	if err != nil {
		return nil, err
	}
	engine := &ask.Engine{LLM: remote.NewLLM(inf), Search: remote.NewSearcher(ret)}
	cfg.Apply(engine)
	runs, err := runstore.OpenRuns(ctx, d.Data, d.Store, d.Log)
	if err != nil {
		return nil, err
	}
	svc := agents.NewWithRuns(d.Log, engine, runs)
	svc.RetainRuns(cfg.RunRetention)
	svc.ScrubDeleted(0)
	return agents.Instrument(svc, d.Server.Metrics.Registry)
}

func buildTrainer(ctx context.Context, d Deps) (Service, error) {
	inf, ret, err := modelAndSearch(d)
	if err != nil {
		return nil, err
	}
	ic := inferencev1.NewInferenceServiceClient(inf)
	var adapters trainer.AdapterLoader = trainer.InferenceAdapters{Client: ic}
	if d.Store != "" && d.Etcd != nil {
		// Publish through the shared bucket inference's replicas read.
		u, err := sharedBlobs(d)
		if err != nil {
			return nil, err
		}
		if adapters, err = trainer.NewBlobAdapters(ctx, ic, u); err != nil {
			return nil, err
		}
	}
	o := trainer.Options{
		Config: trainer.Read(d.Env, d.Cache), DataDir: d.Data, Log: d.Log, Registry: d.Server.Metrics.Registry,
		Chunks:    trainer.RetrievalChunks{Client: retrievalv1.NewRetrievalServiceClient(ret)},
		Generator: trainer.InferenceQA{Client: ic}, Adapters: adapters,
	}
	if d.Store != "" {
		// Datasets, jobs and checkpoints on the shared store, their bytes
		// in the shared bucket: any trainer replica serves and resumes them.
		if o.BlobsURL, err = sharedBlobs(d); err != nil {
			return nil, err
		}
		o.StoreURL = d.Store
		if o.Lease, err = trainer.ReadLease(d.Env); err != nil {
			return nil, err
		}
	}
	return trainer.New(o)
}

// modelAndSearch dials the two downstreams the agents and the trainer share.
func modelAndSearch(d Deps) (inf, ret *grpc.ClientConn, err error) {
	if inf, err = conn(d, &inferencev1.InferenceService_ServiceDesc); err != nil {
		return nil, nil, err
	}
	ret, err = conn(d, &retrievalv1.RetrievalService_ServiceDesc)
	return inf, ret, err
}

// conn dials the service that serves desc, as the registry describes it.
func conn(d Deps, desc *grpc.ServiceDesc) (*grpc.ClientConn, error) {
	s, err := d.Registry.Of(desc)
	if err != nil {
		return nil, err
	}
	return d.Clients.Conn(s.Downstream())
}
