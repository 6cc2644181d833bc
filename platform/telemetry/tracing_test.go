package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// clearOTel unsets every variable NewTracing reads, for the test.
func clearOTel(t *testing.T) {
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		t.Setenv(k, "")
	}
}

func TestNewTracingReadsTheStandardEnvironment(t *testing.T) {
	for _, c := range []struct {
		name     string
		env      map[string]string
		exporter string
		fails    bool
	}{
		{name: "off by default", exporter: ""},
		{name: "an endpoint turns OTLP on, http/protobuf by default", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, exporter: "otlp/http"},
		{name: "a traces endpoint does too", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, exporter: "otlp/http"},
		{name: "grpc protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, exporter: "otlp/grpc"},
		{name: "the traces protocol wins", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
			"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, exporter: "otlp/grpc"},
		{name: "exporter otlp without endpoint (the exporter's default)", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, exporter: "otlp/http"},
		{name: "exporter none wins over an endpoint", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, exporter: ""},
		{name: "an unsupported exporter fails", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, fails: true},
		{name: "an unsupported protocol fails", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, fails: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			clearOTel(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			tr, err := NewTracing(context.Background())
			if c.fails {
				if err == nil {
					t.Fatalf("NewTracing succeeded with %v (exporter %q), want an error", c.env, tr.Exporter())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Shutdown(context.Background())
			if tr.Exporter() != c.exporter {
				t.Errorf("exporter %q, want %q", tr.Exporter(), c.exporter)
			}
			// Whatever the exporter, instances trace: ids are made. (The
			// span is not ended: nothing is sent to the endpoints above.)
			_, span := tr.Provider("agents").Tracer("test").Start(context.Background(), "op")
			if !span.SpanContext().IsValid() || !span.IsRecording() {
				t.Errorf("span %v recording=%v, want a valid recording span", span.SpanContext(), span.IsRecording())
			}
		})
	}
}

func TestSDKDisabledMakesNoSpans(t *testing.T) {
	clearOTel(t)
	t.Setenv("OTEL_SDK_DISABLED", "true")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	tr, err := NewTracing(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := tr.Provider("agents").Tracer("test").Start(context.Background(), "op")
	if span.SpanContext().IsValid() || tr.Exporter() != "" {
		t.Errorf("disabled SDK: span %v, exporter %q; want no span, no exporter", span.SpanContext(), tr.Exporter())
	}
	if id := NewRequestIDFor(ctx); len(id) != 16 {
		t.Errorf("request id %q without a trace, want a random 16-hex id", id)
	}
}

// TestOTLPExportsOverHTTP runs a collector on loopback that decodes what
// the exporter sends: the span, named by its instance's service.
func TestOTLPExportsOverHTTP(t *testing.T) {
	var mu sync.Mutex
	var got []*coltracepb.ExportTraceServiceRequest
	coll := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		req := &coltracepb.ExportTraceServiceRequest{}
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(b, req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, req)
		mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	defer coll.Close()
	clearOTel(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", coll.URL)
	tr, err := NewTracing(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Provider("retrieval").Tracer("test").Start(context.Background(), "Search")
	tid := span.SpanContext().TraceID()
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil { // flushes the batch
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, req := range got {
		for _, rs := range req.GetResourceSpans() {
			svc := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					svc = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					if s.GetName() == "Search" && bytes.Equal(s.GetTraceId(), tid[:]) && svc == "retrieval" {
						found = true
					}
				}
			}
		}
	}
	if !found {
		t.Fatalf("collector got %d exports without span Search of service retrieval in trace %s", len(got), tid)
	}
}

func TestRequestIDIsTheTraceIDUnlessTheCallerSentOne(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	intercept := UnaryServerRequestID()
	call := func(md metadata.MD) (string, string) {
		ctx, span := tp.Tracer("test").Start(context.Background(), "call")
		ctx = metadata.NewIncomingContext(ctx, md)
		var id string
		_, err := intercept(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/x.S/M"}, func(ctx context.Context, _ any) (any, error) {
			id = RequestID(ctx)
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		span.End()
		return id, span.SpanContext().TraceID().String()
	}
	id, tid := call(metadata.MD{})
	if id != tid {
		t.Errorf("request id %q without a caller's, want the trace id %s", id, tid)
	}
	id, tid = call(metadata.Pairs(RequestIDHeader, "caller-42"))
	if id != "caller-42" {
		t.Errorf("request id %q, want the caller's caller-42", id)
	}
	spans := rec.Ended()
	last := spans[len(spans)-1]
	tagged := false
	for _, kv := range last.Attributes() {
		tagged = tagged || kv.Key == RequestIDAttr && kv.Value.AsString() == "caller-42"
	}
	if !tagged || last.SpanContext().TraceID().String() != tid {
		t.Errorf("span attributes %v: want %s=caller-42 so the trace can be found by it", last.Attributes(), RequestIDAttr)
	}
}

func TestLogsCarryRequestTraceAndSpanIDs(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	ctx = WithRequestID(ctx, NewRequestIDFor(ctx))
	var buf bytes.Buffer
	NewLogger(&buf, "info", "agents").InfoContext(ctx, "hello")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	sc := span.SpanContext()
	if rec["request_id"] != sc.TraceID().String() || rec["trace_id"] != sc.TraceID().String() || rec["span_id"] != sc.SpanID().String() {
		t.Errorf("log record %v: want request_id = trace_id = %s, span_id %s", rec, sc.TraceID(), sc.SpanID())
	}
}
