// Package agents is the agents service: the multi-agent coordinator that
// plans, researches, answers and verifies questions over a collection.
package agents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/platform/auth"
	"github.com/pdfqa/pdfqa/platform/grpcerr"
	"github.com/pdfqa/pdfqa/services/agents/ask"
	"github.com/pdfqa/pdfqa/services/agents/prompts"
	"github.com/pdfqa/pdfqa/services/agents/runstore"
)

// errs is the service's one error table.
var errs = grpcerr.Table{
	{Err: ask.ErrInvalid, Code: codes.InvalidArgument},
	{Err: runstore.ErrNotFound, Code: codes.NotFound},
	{Err: ask.ErrRetrieval, Code: codes.Unavailable},
	{Err: ask.ErrNotFound, Code: codes.NotFound},
	{Err: runstore.ErrUnavailable, Code: codes.Unavailable},
}

// Service implements agentsv1.AgentsServiceServer.
type Service struct {
	agentsv1.UnimplementedAgentsServiceServer
	log    *slog.Logger
	engine *ask.Engine
	runs   runstore.Runs
	// retain stops the run retention loop (RetainRuns) and waits for it.
	retain func()
	// scrub stops the deleted documents' scrub loop (ScrubDeleted).
	scrub func()
}

// PromptSetHeader is the gRPC metadata key that picks the prompt set of one
// Ask (`pdfqa eval --prompt-set`); without it the service's set applies.
const PromptSetHeader = "pdfqa-prompt-set"

// AblateHeader is the gRPC metadata key that turns agentic steps off for
// one Ask, comma-separated (ask.Steps; `pdfqa eval --ablate`), to measure
// what each step adds.
const AblateHeader = "pdfqa-ablate"

// New returns the service over an engine and a run store in dataDir. An
// engine without a logger logs to log; one without a prompt set gets the
// default set (Config.Apply gives it the configured one).
func New(log *slog.Logger, engine *ask.Engine, dataDir string) (*Service, error) {
	runs, err := runstore.Open(dataDir)
	if err != nil {
		return nil, err
	}
	return NewWithRuns(log, engine, runs), nil
}

// NewWithRuns is New over a run store of the caller's (the shared one,
// runstore.OpenRuns), which the service closes.
func NewWithRuns(log *slog.Logger, engine *ask.Engine, runs runstore.Runs) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if engine.Log == nil {
		engine.Log = log
	}
	if engine.Prompts == nil {
		engine.Prompts = prompts.Default()
	}
	return &Service{log: log, engine: engine, runs: runs}
}

// Register adds the service to g.
func (s *Service) Register(g *grpc.Server) { agentsv1.RegisterAgentsServiceServer(g, s) }

// RetainRuns purges runs older than keep (Config.RunRetention) now and
// then periodically until Close; keep <= 0 keeps them forever.
func (s *Service) RetainRuns(keep time.Duration) {
	if keep <= 0 || s.retain != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runstore.Retain(ctx, s.runs, keep, 0, s.log)
	}()
	s.retain = func() { cancel(); <-done }
}

// Close releases the service's resources.
func (s *Service) Close() error {
	if s.retain != nil {
		s.retain()
	}
	if s.scrub != nil {
		s.scrub()
	}
	return s.runs.Close()
}

// Ask answers a question, streaming the run's events.
func (s *Service) Ask(req *agentsv1.AskRequest, stream grpc.ServerStreamingServer[agentsv1.AskResponse]) error {
	if err := ask.Validate(req); err != nil {
		return errs.Status(err)
	}
	engine, err := s.engineFor(stream.Context())
	if err != nil {
		return errs.Status(err)
	}
	run := ask.NewRun(runstore.NewID(), req)
	run.Tenant = auth.Tenant(stream.Context())
	err = engine.Invoke(stream.Context(), req, run, ask.Sink{Emit: stream.Send, Save: s.save})
	s.log.Info("ask", slog.String("run_id", run.GetId()), slog.String("status", run.GetStatus().String()),
		slog.Bool("degraded", run.GetDegraded()), slog.Any("err", err))
	return errs.Status(err)
}

// save checkpoints a run; a run that cannot be saved is still answered.
func (s *Service) save(r *agentsv1.Run) {
	if err := s.runs.Put(r); err != nil {
		s.log.Warn("saving run", slog.String("run_id", r.GetId()), slog.Any("err", err))
	}
}

// engineFor is the engine with the prompt set and the steps turned off
// that the call's metadata names.
func (s *Service) engineFor(ctx context.Context) (*ask.Engine, error) {
	e := s.engine
	if names := metadata.ValueFromIncomingContext(ctx, PromptSetHeader); len(names) > 0 {
		ps, err := prompts.Lookup(names[0])
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ask.ErrInvalid, err)
		}
		e = e.With(ps)
	}
	if off := metadata.ValueFromIncomingContext(ctx, AblateHeader); len(off) > 0 {
		var steps []string
		for _, v := range off {
			for _, st := range strings.Split(v, ",") {
				if st = strings.TrimSpace(st); st != "" {
					steps = append(steps, st)
				}
			}
		}
		var err error
		if e, err = e.Without(steps...); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// GetRun returns a run.
func (s *Service) GetRun(ctx context.Context, req *agentsv1.GetRunRequest) (*agentsv1.GetRunResponse, error) {
	if req.GetRunId() == "" {
		return nil, errs.Status(errors.Join(ask.ErrInvalid, errors.New("run_id is required")))
	}
	run, err := s.runs.Get(req.GetRunId())
	if err != nil {
		return nil, errs.Status(err)
	}
	if !ownRun(ctx, run) {
		return nil, errs.Status(runstore.ErrNotFound) // another tenant's run is not found, not forbidden
	}
	s.markDeleted(ctx, run)
	return &agentsv1.GetRunResponse{Run: s.scrubRun(ctx, run)}, nil
}

// ListRuns lists runs, newest first.
func (s *Service) ListRuns(ctx context.Context, req *agentsv1.ListRunsRequest) (*agentsv1.ListRunsResponse, error) {
	limit := int(req.GetLimit())
	if limit <= 0 {
		limit = 50
	}
	if limit > 1000 {
		return nil, errs.Status(errors.Join(ask.ErrInvalid, errors.New("limit must be at most 1000")))
	}
	runs, err := s.runs.List(limit, func(r *agentsv1.Run) bool { return ownRun(ctx, r) })
	if err != nil {
		return nil, errs.Status(err)
	}
	return &agentsv1.ListRunsResponse{Runs: runs}, nil
}

// ownRun says whether run belongs to the caller's tenant (runs from before
// tenants are the default tenant's).
func ownRun(ctx context.Context, run *agentsv1.Run) bool {
	t := run.GetTenant()
	if t == "" {
		t = auth.DefaultTenant
	}
	return t == auth.Tenant(ctx)
}
