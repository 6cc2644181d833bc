package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/stats"
)

// Tracing is a process's span pipeline: the span processors that every
// service instance's TracerProvider feeds. NewTracing builds it from the
// standard OpenTelemetry environment; a nil *Tracing still traces (trace
// ids are made and propagated, so request ids are trace ids) but exports
// nothing.
type Tracing struct {
	procs    []sdktrace.SpanProcessor
	disabled bool
	exporter string // "otlp/grpc", "otlp/http" or "" (none)
}

// NewTracing reads the standard OpenTelemetry variables:
//   - OTEL_SDK_DISABLED=true: no tracing at all (no spans, random request ids);
//   - OTEL_TRACES_EXPORTER: "otlp" or "none"; unset, spans are exported over
//     OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT or
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (off by default);
//   - OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL:
//     "grpc" or "http/protobuf" (the default);
//   - the exporter's own OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout,
//     insecure, certificate, compression), OTEL_BSP_* for its batching, and
//     OTEL_TRACES_SAMPLER(_ARG) and OTEL_RESOURCE_ATTRIBUTES for every
//     provider.
//
// extra processors (a test's tracetest.SpanRecorder) are fed as well.
func NewTracing(ctx context.Context, extra ...sdktrace.SpanProcessor) (*Tracing, error) {
	t := &Tracing{procs: extra}
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		t.disabled = true
		return t, nil
	}
	want := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER")))
	switch want {
	case "":
		if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
			return t, nil
		}
	case "none":
		return t, nil
	case "otlp":
	default:
		return nil, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER=%q: only otlp and none are supported", want)
	}
	proto := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var exp sdktrace.SpanExporter
	var err error
	switch strings.ToLower(strings.TrimSpace(proto)) {
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
		t.exporter = "otlp/grpc"
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
		t.exporter = "otlp/http"
	default:
		return nil, fmt.Errorf("tracing: OTLP protocol %q: want grpc or http/protobuf", proto)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	t.procs = append(t.procs, sdktrace.NewBatchSpanProcessor(exp))
	return t, nil
}

// Exporter names the exporter in use ("otlp/grpc", "otlp/http") or "".
func (t *Tracing) Exporter() string {
	if t == nil {
		return ""
	}
	return t.exporter
}

// Provider returns the TracerProvider of one service instance: its spans
// carry service.name=service (over OTEL_RESOURCE_ATTRIBUTES) and go to
// every processor of t. Providers are not shut down one by one; Shutdown
// flushes the processors they share.
func (t *Tracing) Provider(service string) trace.TracerProvider {
	if t != nil && t.disabled {
		return noop.NewTracerProvider()
	}
	res, err := resource.Merge(resource.Environment(), resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(service), semconv.ServiceNamespace("pdfqa")))
	if err != nil { // conflicting schema URLs: keep ours
		res = resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service), semconv.ServiceNamespace("pdfqa"))
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if t != nil {
		for _, p := range t.procs {
			opts = append(opts, sdktrace.WithSpanProcessor(p))
		}
	}
	return sdktrace.NewTracerProvider(opts...)
}

// Shutdown flushes and stops every processor (the exporter's batches).
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	var errs []error
	for _, p := range t.procs {
		errs = append(errs, p.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// Propagator carries the W3C trace context and baggage across hops.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// untraced leaves grpc.health.v1 (probes every few seconds) out of traces.
var untraced = filters.Not(filters.HealthCheck())

// GRPCServerTracing is the otelgrpc stats handler of a server: a span per
// call, child of the caller's (W3C traceparent), health checks left out.
func GRPCServerTracing(tp trace.TracerProvider) stats.Handler {
	return otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(Propagator()), otelgrpc.WithFilter(untraced))
}

// GRPCClientTracing is the otelgrpc stats handler of a client connection:
// a span per call whose context travels to the callee.
func GRPCClientTracing(tp trace.TracerProvider) stats.Handler {
	return otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(Propagator()), otelgrpc.WithFilter(untraced))
}

// HTTPServerTracing wraps an HTTP front (the gateway's REST API) in
// otelhttp: a server span per request ("POST /v1/ask"), child of the
// caller's traceparent when it sends one; /healthz and /metrics are left
// out.
func HTTPServerTracing(h http.Handler, tp trace.TracerProvider, service string) http.Handler {
	return otelhttp.NewHandler(h, service,
		otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(Propagator()),
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" && r.URL.Path != "/metrics" }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
}

// HTTPClientTracing wraps an HTTP client's transport (an engine or an
// OpenAI-compatible upstream) in otelhttp: a client span per request under
// the caller's span (its TracerProvider), and the traceparent header sent.
func HTTPClientTracing(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return otelhttp.NewTransport(rt, otelhttp.WithPropagators(Propagator()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
}

// RequestIDAttr is the span attribute naming a request id that is not the
// trace id (one a caller chose).
const RequestIDAttr = attribute.Key("pdfqa.request_id")

// NewRequestIDFor returns the request id of a request that came without
// one: the trace id of ctx's span when it has one (so logs and traces share
// an id), else a random id.
func NewRequestIDFor(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return NewRequestID()
}

// TagRequestID records a caller's request id on ctx's span when it is not
// the trace id, so a trace can be found by the id the caller knows.
func TagRequestID(ctx context.Context, id string) {
	span := trace.SpanFromContext(ctx)
	if sc := span.SpanContext(); sc.IsValid() && sc.TraceID().String() != id {
		span.SetAttributes(RequestIDAttr.String(id))
	}
}
