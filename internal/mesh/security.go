package mesh

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	gatewayv1 "github.com/pdfqa/pdfqa/gen/pdfqa/gateway/v1"
	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/auth"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/platform/limits"
	"github.com/pdfqa/pdfqa/platform/server"
	"github.com/pdfqa/pdfqa/services/gateway"
)

// Security is how a service instance authenticates and bounds its callers.
type Security struct {
	// Insecure runs without authentication or tenants (local development
	// only; logged as a warning).
	Insecure bool
	// ServiceToken is what mesh services present to each other (the same on
	// every instance: PDFQA_SERVICE_TOKEN); required unless Insecure.
	ServiceToken string
	// Keys holds the API keys (default: the mesh's etcd).
	Keys auth.Store
	// Limits bound each key's calls.
	Limits Limits
}

// Limits bound what one API key may take.
type Limits struct {
	// RPS and Burst are each key's request rate (REST and gRPC alike).
	RPS   float64
	Burst int
	// Asks caps one key's answers in flight.
	Asks int
	// MaxUploadBytes is the one upload limit: the REST body (base64 in
	// JSON), the gRPC message and retrieval's own check all derive from it.
	MaxUploadBytes int64
}

// ReadLimits reads the per-key limits (`pdfqa config` section "limits").
func ReadLimits(r *config.Reader) Limits {
	set := func(env, doc string) config.Setting { return config.Setting{Section: "limits", Env: env, Doc: doc} }
	return Limits{
		RPS:   r.Float(set("PDFQA_RATE_LIMIT", "requests per second per API key (0: unlimited)"), 20),
		Burst: r.Int(set("PDFQA_RATE_BURST", "requests an API key may burst above its rate"), 40),
		Asks:  r.Int(set("PDFQA_MAX_CONCURRENT_ASKS", "answers one API key may have in flight (0: unlimited)"), 4),
		MaxUploadBytes: int64(r.Int(set("PDFQA_MAX_UPLOAD_BYTES",
			"the largest PDF accepted, the same over REST, gRPC and in retrieval (REST bodies carry it base64-encoded)"), 200<<20)),
	}
}

// grpcMessageBytes is the largest gRPC message a server accepts: an upload
// plus room for the request's other fields.
func (l Limits) grpcMessageBytes() int {
	return int(l.MaxUploadBytes) + 1<<20
}

// restBodyBytes is the largest REST body: an upload base64-encoded in JSON.
func (l Limits) restBodyBytes() int64 {
	return (l.MaxUploadBytes+2)/3*4 + 1<<20
}

// ServiceTokenEnv is the environment variable `pdfqa serve` reads the mesh's
// service token from.
const ServiceTokenEnv = "PDFQA_SERVICE_TOKEN"

// Policy is the role every RPC needs; a method it does not list needs
// admin. Calls a mesh peer makes for a caller are not checked again: the
// caller's role was checked where it entered (the service it called, or the
// gateway for REST).
var Policy = auth.Policy{Default: auth.Admin, Methods: map[string]auth.Role{
	"/grpc.reflection.v1.ServerReflection/":      auth.Reader,
	"/grpc.reflection.v1alpha.ServerReflection/": auth.Reader,

	agentsv1.AgentsService_Ask_FullMethodName:      auth.Reader,
	agentsv1.AgentsService_GetRun_FullMethodName:   auth.Reader,
	agentsv1.AgentsService_ListRuns_FullMethodName: auth.Reader,

	retrievalv1.RetrievalService_ListCollections_FullMethodName:    auth.Reader,
	retrievalv1.RetrievalService_GetDocument_FullMethodName:        auth.Reader,
	retrievalv1.RetrievalService_ListDocuments_FullMethodName:      auth.Reader,
	retrievalv1.RetrievalService_GetDocumentContent_FullMethodName: auth.Reader,
	retrievalv1.RetrievalService_WatchIngestion_FullMethodName:     auth.Reader,
	retrievalv1.RetrievalService_Search_FullMethodName:             auth.Reader,
	retrievalv1.RetrievalService_ListChunks_FullMethodName:         auth.Reader,
	retrievalv1.RetrievalService_RenderPage_FullMethodName:         auth.Reader,
	retrievalv1.RetrievalService_CreateCollection_FullMethodName:   auth.Writer,
	retrievalv1.RetrievalService_DeleteCollection_FullMethodName:   auth.Writer,
	retrievalv1.RetrievalService_UploadDocument_FullMethodName:     auth.Writer,
	retrievalv1.RetrievalService_DeleteDocument_FullMethodName:     auth.Writer,
	// A streamed upload (the REST raw and multipart bodies go this way).
	retrievalv1.RetrievalService_UploadDocumentStream_FullMethodName: auth.Writer,

	inferencev1.InferenceService_ListModels_FullMethodName:   auth.Reader,
	inferencev1.InferenceService_ListAdapters_FullMethodName: auth.Reader,
	// Generate, Embed, CountTokens, ApplyChatTemplate, Load/UnloadAdapter:
	// raw model access and operator calls, admin.

	"/" + trainerv1.TrainerService_ServiceDesc.ServiceName + "/": auth.Admin,
	gatewayv1.GatewayService_GetStatus_FullMethodName:            auth.Admin,
}}

// askMethods are the calls Limits.Asks caps.
var askMethods = []string{agentsv1.AgentsService_Ask_FullMethodName}

// deadlines are a service's server-side maxima: what its registry entry
// gives the command line, at least 2 minutes unary and 15 streaming.
func deadlines(u Unit) limits.Deadlines {
	d := u.CLIDownstream()
	return limits.Deadlines{Unary: max(d.UnaryTimeout, 2*time.Minute), Stream: max(d.StreamTimeout, 15*time.Minute)}
}

// guard is one instance's authentication and limits.
type guard struct {
	sec      Security
	verifier *auth.Verifier
	rate     *limits.PerKey
	asks     *limits.Concurrent
}

func newGuard(sec Security, etcd *clientv3.Client) (*guard, error) {
	g := &guard{sec: sec, rate: &limits.PerKey{RPS: sec.Limits.RPS, Burst: sec.Limits.Burst},
		asks: &limits.Concurrent{Max: sec.Limits.Asks, What: "answers"}}
	if sec.Insecure {
		return g, nil
	}
	if sec.ServiceToken == "" {
		return nil, fmt.Errorf("no service token: set %s (the same on every service) or run with --insecure-no-auth", ServiceTokenEnv)
	}
	keys := sec.Keys
	if keys == nil {
		if etcd == nil {
			return nil, errors.New("no key store: API keys live in etcd")
		}
		keys = auth.Etcd{Client: etcd}
	}
	g.verifier = &auth.Verifier{Store: keys, ServiceToken: sec.ServiceToken}
	return g, nil
}

// interceptors is the instance's chain, outermost first.
func (g *guard) interceptors(u Unit, base []server.Interceptor) []server.Interceptor {
	links := base
	if g.verifier != nil {
		links = append(links, server.Auth(g.verifier, Policy), server.RateLimit(g.rate))
	}
	return append(links, server.Deadline(deadlines(u)), server.Concurrency(g.asks, askMethods...))
}

// publicPaths are the REST routes anyone may read: the health check and the
// API's description.
var publicPaths = map[string]bool{"/healthz": true, "/openapi.json": true}

// http guards the gateway's REST API: every route but publicPaths needs a
// key, at the key's rate.
func (g *guard) http(h http.Handler) http.Handler {
	if g.verifier == nil {
		return h
	}
	return g.verifier.HTTP(h, auth.HTTPOptions{
		Exempt:     func(r *http.Request) bool { return publicPaths[r.URL.Path] },
		WriteError: gateway.WriteAuthError, // OpenAI's error shape under /openai/v1
		Admit: func(r *http.Request) error {
			p, _ := auth.FromContext(r.Context())
			return g.rate.Allow(p, time.Now())
		},
	})
}

// AdminKeyFile is where `pdfqa up` keeps the admin key it made on first
// start (mode 0600); the CLI reads it from the data directory.
const AdminKeyFile = "admin.key"

// ReadKeyFile returns the key in data's admin key file, or "".
func ReadKeyFile(data string) string {
	b, err := os.ReadFile(filepath.Join(data, AdminKeyFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ensureAdminKey returns the data directory's admin key, making one (tenant
// default, role admin) when there is none or the store no longer knows it;
// created says whether it is new.
func ensureAdminKey(ctx context.Context, keys auth.Store, data string) (key string, created bool, err error) {
	if k := ReadKeyFile(data); k != "" {
		v := auth.Verifier{Store: keys}
		if _, err := v.Verify(ctx, k, nil); err == nil {
			return k, false, nil
		}
	}
	secret, rec, err := auth.NewKey(auth.DefaultTenant, auth.Admin, "pdfqa up", 0, time.Now())
	if err != nil {
		return "", false, err
	}
	if err := keys.Put(ctx, rec); err != nil {
		return "", false, err
	}
	if err := os.WriteFile(filepath.Join(data, AdminKeyFile), []byte(secret+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return secret, true, nil
}
