package mesh

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	gatewayv1 "github.com/pdfqa/pdfqa/gen/pdfqa/gateway/v1"
	"github.com/pdfqa/pdfqa/services/gateway"
)

func TestUpRunsWholeMeshInOneProcess(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *Mesh, 1)
	done := make(chan error, 1)
	data := t.TempDir()
	go func() {
		done <- Up(ctx, UpOptions{Data: data, HTTPAddr: "127.0.0.1:0", LogLevel: "error", Ready: func(m *Mesh) { ready <- m }})
	}()
	var m *Mesh
	select {
	case m = <-ready:
	case err := <-done:
		t.Fatalf("Up returned early: %v", err)
	case <-time.After(3 * time.Minute): // a bound against hangs, not a speed target (CI machines are shared)
		t.Fatal("mesh not ready")
	}
	base := "http://" + m.Gateway().HTTPAddr

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// /healthz is 200 once every service answers its health check.
	var code int
	var body string
	// The inference engines take a few seconds to load their models.
	for i := 0; i < 600; i++ {
		if code, body = get("/healthz"); code == 200 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code != 200 {
		t.Fatalf("/healthz: got %d %s, want 200", code, body)
	}
	if code, body = get("/openapi.json"); code != 200 || !strings.Contains(body, "/v1/collections/{collection}:search") {
		t.Errorf("/openapi.json: got %d, missing the search route", code)
	}
	// /metrics is on the instance's own listener, not the public port.
	if code, _ = get("/metrics"); code != 401 && code != 404 {
		t.Errorf("/metrics on the public port: got %d, want it absent", code)
	}
	if mr, err := http.Get("http://" + m.Gateway().Server.MetricsAddr() + "/metrics"); err != nil {
		t.Error(err)
	} else {
		b, _ := io.ReadAll(mr.Body)
		mr.Body.Close()
		if mr.StatusCode != 200 || !strings.Contains(string(b), "grpc_client_handled_total") {
			t.Errorf("gateway /metrics listener: got %d without gRPC client metrics", mr.StatusCode)
		}
	}
	// The first start made an admin key, kept in the data directory.
	if m.AdminKey == "" || !m.AdminKeyCreated || ReadKeyFile(data) != m.AdminKey {
		t.Fatalf("admin key %q (created %v) not in %s", m.AdminKey, m.AdminKeyCreated, data)
	}
	if code, _ = get("/v1/adapters"); code != 401 {
		t.Errorf("GET /v1/adapters without a key: got %d, want 401", code)
	}
	// Every service is registered in the embedded etcd and serving.
	st, err := gateway.New(m.Client, nil, nil, Registry()).GetStatus(ctx, &gatewayv1.GetStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	services := map[string]bool{}
	for _, in := range st.Instances {
		if in.Status == gatewayv1.ServingStatus_SERVING_STATUS_SERVING {
			services[in.Service] = true
		}
	}
	for _, want := range []string{"gateway", "retrieval", "inference", "agents", "trainer"} {
		if !services[want] {
			t.Errorf("service %s not registered and serving; status %v", want, st)
		}
	}
	// REST reaches a service through the gateway, and the request id comes back.
	req, _ := http.NewRequest("GET", base+"/v1/adapters", nil)
	req.Header.Set("X-Request-Id", "test-req-1")
	req.Header.Set("Authorization", "Bearer "+m.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var la map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&la)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") != "test-req-1" {
		t.Errorf("GET /v1/adapters: status %d, request id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Up: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Up did not drain and stop within 30s")
	}
}
