// Package tracing_test starts the whole mesh with an in-memory span
// recorder, asks one question through the gateway's REST API and checks
// that the Ask is one trace: the gateway's HTTP span at its root, and
// spans from the gateway, agents, retrieval and inference under it, each
// service's with its own service.name, with the request id the gateway
// answered being the trace id.
package tracing_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/telemetry"
)

func service(s sdktrace.ReadOnlySpan) string {
	for _, kv := range s.Resource().Attributes() {
		if kv.Key == semconv.ServiceNameKey {
			return kv.Value.AsString()
		}
	}
	return ""
}

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) string {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value.AsString()
		}
	}
	return ""
}

func TestOneAskIsOneTraceAcrossEveryHop(t *testing.T) {
	// Only the recorder: an OTLP endpoint in the environment must not matter.
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	rec := tracetest.NewSpanRecorder()
	tr, err := telemetry.NewTracing(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Exporter() != "" {
		t.Fatalf("exporter %q with OTEL_TRACES_EXPORTER=none", tr.Exporter())
	}

	m := mesh.StartForTest(t, mesh.UpOptions{Data: t.TempDir(), HTTPAddr: "127.0.0.1:0", LogLevel: "error", Tracing: tr})
	base := "http://" + m.Gateway().HTTPAddr
	call := func(method, path string, body any) *http.Response {
		t.Helper()
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req, err := http.NewRequest(method, base+path, r)
		if err != nil {
			t.Fatal(err)
		}
		if m.AdminKey != "" {
			req.Header.Set("Authorization", "Bearer "+m.AdminKey)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	healthy := false
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp := call("GET", "/healthz", nil)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			healthy = true
			break
		}
	}
	if !healthy {
		t.Fatal("/healthz did not answer 200 within 2 minutes")
	}
	for _, s := range rec.Ended() {
		if strings.Contains(s.Name(), "grpc.health.v1") || strings.HasSuffix(s.Name(), "/healthz") {
			t.Errorf("health check traced: span %q of %s", s.Name(), service(s))
		}
	}

	resp := call("POST", "/v1/collections", map[string]string{"name": "traced"})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("create collection: %s %s", resp.Status, b)
	}

	resp = call("POST", "/v1/ask", map[string]any{"collection": "traced", "question": "What was the revenue in 2023?"})
	reqID := resp.Header.Get("X-Request-Id")
	var events int
	var last string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			events++
			last = line
		}
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || events == 0 || strings.Contains(last, `"error"`) {
		t.Fatalf("ask: %s, %d events, last %s", resp.Status, events, last)
	}

	// The gateway's HTTP span for the Ask is a root; its trace id is the
	// request id the gateway answered with.
	var root sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "POST /v1/ask" {
			if root != nil {
				t.Fatalf("two spans named %q", s.Name())
			}
			root = s
		}
	}
	if root == nil {
		t.Fatal("no gateway span for POST /v1/ask")
	}
	if root.Parent().IsValid() || root.SpanKind() != trace.SpanKindServer || service(root) != "gateway" {
		t.Errorf("ask span: parent %v, kind %v, service %q; want a root server span of the gateway", root.Parent(), root.SpanKind(), service(root))
	}
	tid := root.SpanContext().TraceID()
	if reqID != tid.String() {
		t.Errorf("X-Request-Id %q, trace id %s: want them equal", reqID, tid)
	}

	// Every span of the trace hangs off the root; each hop's server span
	// belongs to the service that served it. A server span ends when its
	// handler returns, which can be a moment after the client has read the
	// stream's last message: wait (bounded) until no recorded span's
	// parent is missing before judging.
	var spans map[trace.SpanID]sdktrace.ReadOnlySpan
	var inTrace []sdktrace.ReadOnlySpan
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		spans, inTrace = map[trace.SpanID]sdktrace.ReadOnlySpan{}, nil
		for _, s := range rec.Ended() {
			if s.SpanContext().TraceID() == tid {
				spans[s.SpanContext().SpanID()] = s
				inTrace = append(inTrace, s)
			}
		}
		complete := true
		for _, s := range inTrace {
			if s != root && spans[s.Parent().SpanID()] == nil {
				complete = false
			}
		}
		if complete || time.Now().After(deadline) {
			break
		}
	}
	services := map[string]int{}
	servers := map[string]map[string]bool{} // service → RPCs it served
	for _, s := range inTrace {
		services[service(s)]++
		if s.SpanKind() == trace.SpanKindServer && s != root {
			svc := service(s)
			if servers[svc] == nil {
				servers[svc] = map[string]bool{}
			}
			servers[svc][s.Name()] = true
			if rpc := attr(s, semconv.RPCMethodKey); rpc != "" && !strings.Contains(rpc, "pdfqa."+svc+".") {
				t.Errorf("server span %q (rpc.method %s) recorded by %s", s.Name(), rpc, svc)
			}
		}
		// Walk up to the root: no span of the trace is orphaned.
		p, hops := s, 0
		for p != root && hops < 64 {
			next, ok := spans[p.Parent().SpanID()]
			if !ok {
				t.Errorf("span %q of %s: parent %s is not in the trace's recorded spans", p.Name(), service(p), p.Parent().SpanID())
				break
			}
			p, hops = next, hops+1
		}
	}
	for _, want := range []string{"gateway", "agents", "retrieval", "inference"} {
		if services[want] == 0 {
			t.Errorf("no span from %s in the Ask's trace", want)
		}
	}
	if !servers["agents"]["pdfqa.agents.v1.AgentsService/Ask"] {
		t.Errorf("agents served no Ask in the trace: %v", servers["agents"])
	}
	if len(servers["retrieval"]) == 0 || len(servers["inference"]) == 0 {
		t.Errorf("server spans: retrieval %v, inference %v; want calls into both", servers["retrieval"], servers["inference"])
	}
	// No span of any other trace served the Ask.
	for _, s := range rec.Ended() {
		if s.Name() == "pdfqa.agents.v1.AgentsService/Ask" && s.SpanContext().TraceID() != tid {
			t.Errorf("an Ask span in another trace %s", s.SpanContext().TraceID())
		}
	}
	if t.Failed() || testing.Verbose() {
		var names []string
		for _, s := range inTrace {
			names = append(names, fmt.Sprintf("%s: %s (%v)", service(s), s.Name(), s.SpanKind()))
		}
		sort.Strings(names)
		t.Logf("trace %s, %d spans:\n  %s", tid, len(inTrace), strings.Join(names, "\n  "))
	}
}
