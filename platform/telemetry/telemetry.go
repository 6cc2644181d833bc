// Package telemetry holds the structured logger, request-id propagation,
// OpenTelemetry tracing (tracing.go) and Prometheus metrics shared by every
// pdfqa service.
package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// RequestIDHeader is the gRPC metadata key (and HTTP header) carrying the
// request id across service hops.
const RequestIDHeader = "x-request-id"

type ctxKey struct{}

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// NewRequestID returns a random 16-hex-digit id.
func NewRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ValidRequestID keeps ids from clients short and printable so they cannot be used to
// inject into logs.
func ValidRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// requestIDFromIncoming is the caller's request id when valid (tagged on
// the call's span when it is not its trace id), else the call's trace id.
func requestIDFromIncoming(ctx context.Context) string {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(RequestIDHeader); len(v) > 0 && ValidRequestID(v[0]) {
			TagRequestID(ctx, v[0])
			return v[0]
		}
	}
	return NewRequestIDFor(ctx)
}

// UnaryServerRequestID takes the caller's request id (or makes one), puts it
// in the handler's context and echoes it in the response header.
func UnaryServerRequestID() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		id := requestIDFromIncoming(ctx)
		_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDHeader, id))
		return h(WithRequestID(ctx, id), req)
	}
}

// StreamServerRequestID is UnaryServerRequestID for streams.
func StreamServerRequestID() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		id := requestIDFromIncoming(ss.Context())
		_ = ss.SetHeader(metadata.Pairs(RequestIDHeader, id))
		return h(srv, &ctxStream{ServerStream: ss, ctx: WithRequestID(ss.Context(), id)})
	}
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }

func outgoing(ctx context.Context) context.Context {
	id := RequestID(ctx)
	if id == "" {
		return ctx
	}
	if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md.Get(RequestIDHeader)) > 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, RequestIDHeader, id)
}

// UnaryClientRequestID forwards the context's request id to the callee.
func UnaryClientRequestID() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, inv grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return inv(outgoing(ctx), method, req, reply, cc, opts...)
	}
}

// StreamClientRequestID forwards the context's request id on streams.
func StreamClientRequestID() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, s grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return s(outgoing(ctx), desc, cc, method, opts...)
	}
}

// contextHandler adds the request id of the record's context to every
// record, and the trace and span ids of its span (the request id is the
// trace id unless the caller chose its own).
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(as)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// NewLogger returns a JSON slog logger writing to w (stderr when nil) at the
// given level ("debug", "info", "warn", "error"), tagged with the service
// name, that adds the context's request id to every record.
func NewLogger(w io.Writer, level, service string) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})
	lg := slog.New(contextHandler{h})
	if service != "" {
		lg = lg.With(slog.String("service", service))
	}
	return lg
}
