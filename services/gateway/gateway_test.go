package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	gatewayv1 "github.com/pdfqa/pdfqa/gen/pdfqa/gateway/v1"
	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/registry"
)

// TestGatewayFrontsTheRegistry: the gateway registers the REST routes of
// every other service the registry lists and health-checks each of them,
// without naming any service itself.
func TestGatewayFrontsTheRegistry(t *testing.T) {
	var rest []string
	recorder := func(name string) registry.RESTRegistrar {
		return func(_ context.Context, _ *runtime.ServeMux, conn *grpc.ClientConn) error {
			if conn == nil {
				t.Errorf("%s: REST registrar got no connection", name)
			}
			rest = append(rest, name)
			return nil
		}
	}
	reg, err := registry.New(
		registry.Service{Name: "alpha", Desc: &grpc.ServiceDesc{ServiceName: "test.v1.Alpha"}, REST: recorder("alpha")},
		registry.Service{Name: "beta", Desc: &grpc.ServiceDesc{ServiceName: "test.v1.Beta"}}, // no REST routes
		registry.Service{Name: "gamma", Desc: &grpc.ServiceDesc{ServiceName: "test.v1.Gamma"}, REST: recorder("gamma")},
		registry.Service{Name: "front", Desc: &gatewayv1.GatewayService_ServiceDesc, REST: recorder("front")},
	)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing listens there: every backend is unreachable.
	h := testHandler(t, reg, map[string]string{"alpha": "127.0.0.1:1", "beta": "127.0.0.1:1", "gamma": "127.0.0.1:1", "front": "127.0.0.1:1"})
	if want := []string{"alpha", "gamma"}; !reflect.DeepEqual(rest, want) {
		t.Errorf("REST routes registered for %v, want %v (not the gateway's own entry)", rest, want)
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/healthz with every backend down: %d, want 503", rec.Code)
	}
	var body struct {
		OK       bool              `json:"ok"`
		Services map[string]string `json:"services"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	var checked []string
	for n := range body.Services {
		checked = append(checked, n)
	}
	sort.Strings(checked)
	if want := []string{"alpha", "beta", "gamma"}; body.OK || !reflect.DeepEqual(checked, want) {
		t.Errorf("/healthz checked %v (ok %v), want %v", checked, body.OK, want)
	}
}

// testHandler is the REST handler of a gateway over reg whose client
// factory reaches each service named in backends at its address; the
// gateway and the factory are closed when the test ends.
func testHandler(t *testing.T, reg registry.Registry, backends map[string]string) http.Handler {
	t.Helper()
	f, err := client.NewFactory(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	for name, addr := range backends {
		if _, err := f.Conn(client.Downstream{Service: name, Address: addr}); err != nil {
			t.Fatal(err)
		}
	}
	s := New(nil, f, nil, reg)
	t.Cleanup(func() { _ = s.Close() })
	h, err := s.HTTPHandler(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
