package server

import (
	"context"
	"log/slog"
	"runtime/debug"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/pdfqa/pdfqa/platform/auth"
	"github.com/pdfqa/pdfqa/platform/limits"
	"github.com/pdfqa/pdfqa/platform/telemetry"
)

// Interceptor is one link of a server's interceptor chain: its unary and
// stream halves (either may be nil: that kind of call passes through).
// Options.Interceptors lists the links outermost first, so a cross-cutting
// check (auth, rate limits, tracing) is one entry at the composition root.
type Interceptor struct {
	// Name identifies the link in logs and tests ("request-id", "auth", ...).
	Name   string
	Unary  grpc.UnaryServerInterceptor
	Stream grpc.StreamServerInterceptor
}

// Only returns the link applied to the calls m matches; the others skip it
// (e.g. auth for everything but grpc.health.v1).
func (i Interceptor) Only(m selector.Matcher) Interceptor {
	out := Interceptor{Name: i.Name}
	if i.Unary != nil {
		out.Unary = selector.UnaryServerInterceptor(i.Unary, m)
	}
	if i.Stream != nil {
		out.Stream = selector.StreamServerInterceptor(i.Stream, m)
	}
	return out
}

// chain turns links into the two grpc chain options.
func chain(links []Interceptor) []grpc.ServerOption {
	var us []grpc.UnaryServerInterceptor
	var ss []grpc.StreamServerInterceptor
	for _, l := range links {
		if l.Unary != nil {
			us = append(us, l.Unary)
		}
		if l.Stream != nil {
			ss = append(ss, l.Stream)
		}
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(us...), grpc.ChainStreamInterceptor(ss...)}
}

// DefaultInterceptors is the chain every pdfqa server runs unless its
// Options say otherwise: request id, metrics, logging, recovery.
func DefaultInterceptors(log *slog.Logger, m *telemetry.Metrics) []Interceptor {
	return []Interceptor{RequestID(), Metrics(m), Logging(log), Recovery(log)}
}

// RequestID gives every call a request id (the caller's when valid), in its
// context, logs and response header.
func RequestID() Interceptor {
	return Interceptor{Name: "request-id", Unary: telemetry.UnaryServerRequestID(), Stream: telemetry.StreamServerRequestID()}
}

// Metrics counts and times every call in m's server metrics.
func Metrics(m *telemetry.Metrics) Interceptor {
	return Interceptor{Name: "metrics", Unary: m.Server.UnaryServerInterceptor(), Stream: m.Server.StreamServerInterceptor()}
}

// Logging logs every finished call: client errors at debug, overload and
// deadlines at warn, server faults at error.
func Logging(log *slog.Logger) Interceptor {
	lg := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		log.Log(ctx, slog.Level(lvl), msg, fields...)
	})
	opts := []logging.Option{logging.WithLogOnEvents(logging.FinishCall), logging.WithLevels(serverCodeToLevel)}
	return Interceptor{Name: "logging", Unary: logging.UnaryServerInterceptor(lg, opts...), Stream: logging.StreamServerInterceptor(lg, opts...)}
}

// Recovery turns a handler panic into codes.Internal naming the request id,
// and logs the stack.
func Recovery(log *slog.Logger) Interceptor {
	rec := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in handler", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
		return status.Errorf(codes.Internal, "internal error (request %s)", telemetry.RequestID(ctx))
	})
	return Interceptor{Name: "recovery", Unary: recovery.UnaryServerInterceptor(rec), Stream: recovery.StreamServerInterceptor(rec)}
}

// serverCodeToLevel logs client errors at info and server faults at error.
func serverCodeToLevel(c codes.Code) logging.Level {
	switch c {
	case codes.OK, codes.Canceled, codes.InvalidArgument, codes.NotFound, codes.AlreadyExists,
		codes.PermissionDenied, codes.Unauthenticated, codes.FailedPrecondition, codes.OutOfRange, codes.Unimplemented:
		return logging.LevelDebug
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return logging.LevelWarn
	default:
		return logging.LevelError
	}
}

// notHealth matches every call but grpc.health.v1's (probes carry no key).
var notHealth = selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
	return c.Service != healthpb.Health_ServiceDesc.ServiceName
})

// Auth authenticates every call but health checks (go-grpc-middleware's
// auth interceptor over v) and checks the role p says its method needs.
func Auth(v *auth.Verifier, p auth.Policy) Interceptor {
	u, s := v.ServerInterceptors(p)
	return Interceptor{Name: "auth", Unary: u, Stream: s}.Only(notHealth)
}

// RateLimit admits each API key's calls at l's rate (go-grpc-middleware's
// ratelimit interceptor): ResourceExhausted with retry-after beyond it.
func RateLimit(l *limits.PerKey) Interceptor {
	u, s := l.Interceptors()
	return Interceptor{Name: "ratelimit", Unary: u, Stream: s}.Only(notHealth)
}

// Concurrency caps each key's calls in flight of the given full methods.
func Concurrency(c *limits.Concurrent, methods ...string) Interceptor {
	set := map[string]bool{}
	for _, m := range methods {
		set[m] = true
	}
	u, s := c.Interceptors()
	return Interceptor{Name: "concurrency", Unary: u, Stream: s}.Only(selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		return set[c.FullMethod()]
	}))
}

// Deadline caps every call's deadline at d's maximum for its method,
// whatever the client's grpc-timeout says.
func Deadline(d limits.Deadlines) Interceptor {
	u, s := d.Interceptors()
	return Interceptor{Name: "deadline", Unary: u, Stream: s}
}
