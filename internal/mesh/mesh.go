// Package mesh assembles pdfqa services into processes: one service against
// an external etcd (`pdfqa serve`), or the whole mesh with an embedded etcd in
// one process (`pdfqa up`).
package mesh

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	gatewayv1 "github.com/pdfqa/pdfqa/gen/pdfqa/gateway/v1"
	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/server"
	"github.com/pdfqa/pdfqa/services/agents"
	"github.com/pdfqa/pdfqa/services/agents/ask"
	"github.com/pdfqa/pdfqa/services/agents/remote"
	"github.com/pdfqa/pdfqa/services/gateway"
	"github.com/pdfqa/pdfqa/services/inference"
	"github.com/pdfqa/pdfqa/services/retrieval"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/trainer"
)

// Deps is what a service may use while it is built.
type Deps struct {
	Log     *slog.Logger
	Etcd    *clientv3.Client
	Clients *client.Factory
	Server  *server.Server
	Data    string
	Cache   string
}

// Service is a built service ready to register on a gRPC server.
type Service interface {
	Register(*grpc.Server)
	Close() error
}

// Unit describes one service the mesh can run.
type Unit struct {
	Name        string
	GRPCService string
	Build       func(ctx context.Context, d Deps) (Service, error)
}

// Units lists every service, gateway first.
var Units = map[string]Unit{
	"gateway": {"gateway", gatewayv1.GatewayService_ServiceDesc.ServiceName, func(_ context.Context, d Deps) (Service, error) {
		return gateway.New(d.Etcd, d.Clients, d.Log), nil
	}},
	"retrieval": {"retrieval", retrievalv1.RetrievalService_ServiceDesc.ServiceName, func(_ context.Context, d Deps) (Service, error) {
		var emb, refiner embed.Embedder
		if d.Clients != nil {
			// Index with the static model (parse speed), then refine in the
			// background with the contextual one ("none": no refinement).
			fast := config.Env("PDFQA_RETRIEVAL_EMBED_MODEL", inference.StaticAlias)
			emb = &embed.Inference{Clients: d.Clients, Model: fast}
			if ref := os.Getenv("PDFQA_RETRIEVAL_REFINE_MODEL"); ref != "none" && ref != fast {
				refiner = &embed.Inference{Clients: d.Clients, Model: ref}
			}
		}
		return retrieval.New(retrieval.Config{Dir: d.Data, Cache: d.Cache, Log: d.Log, Embedder: emb, Refiner: refiner})
	}},
	"inference": {"inference", inferencev1.InferenceService_ServiceDesc.ServiceName, func(_ context.Context, d Deps) (Service, error) {
		return inference.New(inference.Options{
			Config: inference.FromEnv(d.Cache), DataDir: d.Data, Log: d.Log,
			Registry: d.Server.Metrics.Registry, SetServing: d.Server.SetServing,
		})
	}},
	"agents": {"agents", agentsv1.AgentsService_ServiceDesc.ServiceName, func(_ context.Context, d Deps) (Service, error) {
		inf, ret, err := modelAndSearch(d)
		if err != nil {
			return nil, err
		}
		return agents.New(d.Log, &ask.Engine{LLM: remote.NewLLM(inf), Search: remote.NewSearcher(ret)}, d.Data)
	}},
	"trainer": {"trainer", trainerv1.TrainerService_ServiceDesc.ServiceName, func(_ context.Context, d Deps) (Service, error) {
		inf, ret, err := modelAndSearch(d)
		if err != nil {
			return nil, err
		}
		ic := inferencev1.NewInferenceServiceClient(inf)
		return trainer.New(trainer.Options{
			Config: trainer.FromEnv(d.Cache), DataDir: d.Data, Log: d.Log, Registry: d.Server.Metrics.Registry,
			Chunks:    trainer.RetrievalChunks{Client: retrievalv1.NewRetrievalServiceClient(ret)},
			Generator: trainer.InferenceQA{Client: ic}, Adapters: trainer.InferenceAdapters{Client: ic},
		})
	}},
}

// Names lists the services in a stable order.
func Names() []string {
	n := make([]string, 0, len(Units))
	for k := range Units {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Lookup returns the unit for name.
func Lookup(name string) (Unit, error) {
	u, ok := Units[name]
	if !ok {
		return Unit{}, fmt.Errorf("unknown service %q (one of %v)", name, Names())
	}
	return u, nil
}

// modelAndSearch dials the two downstreams the agents and the trainer share.
func modelAndSearch(d Deps) (inf, ret *grpc.ClientConn, err error) {
	inf, err = d.Clients.Conn(client.Downstream{Service: "inference", GRPCService: inferencev1.InferenceService_ServiceDesc.ServiceName})
	if err != nil {
		return nil, nil, err
	}
	ret, err = d.Clients.Conn(client.Downstream{Service: "retrieval", GRPCService: retrievalv1.RetrievalService_ServiceDesc.ServiceName})
	return inf, ret, err
}
