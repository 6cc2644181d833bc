package registry

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/pdfqa/pdfqa/platform/client"
)

var (
	descA = &grpc.ServiceDesc{ServiceName: "test.v1.A"}
	descB = &grpc.ServiceDesc{ServiceName: "test.v1.B"}
)

func TestNewRejectsAmbiguousTables(t *testing.T) {
	for name, svcs := range map[string][]Service{
		"no name":            {{Desc: descA}},
		"no descriptor":      {{Name: "a"}},
		"name twice":         {{Name: "a", Desc: descA}, {Name: "a", Desc: descB}},
		"descriptor twice":   {{Name: "a", Desc: descA}, {Name: "b", Desc: descA}},
		"same proto service": {{Name: "a", Desc: descA}, {Name: "b", Desc: &grpc.ServiceDesc{ServiceName: "test.v1.A"}}},
	} {
		if _, err := New(svcs...); err == nil {
			t.Errorf("%s: New accepted %v", name, svcs)
		}
	}
}

func TestLookupOfExceptKeepStartOrder(t *testing.T) {
	r, err := New(Service{Name: "b", Desc: descB}, Service{Name: "a", Desc: descA}, Service{Name: "health", Desc: &healthpb.Health_ServiceDesc})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Names(); !reflect.DeepEqual(got, []string{"b", "a", "health"}) {
		t.Errorf("Names = %v, want the table's order", got)
	}
	if s, err := r.Lookup("a"); err != nil || s.Desc != descA {
		t.Errorf("Lookup(a) = %v, %v", s, err)
	}
	if _, err := r.Lookup("nope"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Lookup(nope) err = %v, want ErrUnknown", err)
	}
	if s, err := r.Of(&grpc.ServiceDesc{ServiceName: "test.v1.B"}); err != nil || s.Name != "b" {
		t.Errorf("Of(B) = %v, %v", s, err)
	}
	if _, err := r.Of(&grpc.ServiceDesc{ServiceName: "test.v1.C"}); !errors.Is(err, ErrUnknown) {
		t.Errorf("Of(C) err = %v, want ErrUnknown", err)
	}
	if got := r.Except(descB).Names(); !reflect.DeepEqual(got, []string{"a", "health"}) {
		t.Errorf("Except(B) = %v", got)
	}
	if got := r.Names(); !reflect.DeepEqual(got, []string{"b", "a", "health"}) {
		t.Errorf("Except changed the registry it was called on: %v", got)
	}
}

func TestDownstreamsCarryTheTimeouts(t *testing.T) {
	s := Service{Name: "a", Desc: descA, Calls: Timeouts{Unary: time.Second}, CLICalls: Timeouts{Stream: time.Hour}}
	want := client.Downstream{Service: "a", GRPCService: "test.v1.A", UnaryTimeout: time.Second}
	if got := s.Downstream(); !reflect.DeepEqual(got, want) {
		t.Errorf("Downstream = %+v, want %+v", got, want)
	}
	want.StreamTimeout = time.Hour
	if got := s.CLIDownstream(); !reflect.DeepEqual(got, want) {
		t.Errorf("CLIDownstream = %+v, want %+v (unset CLI fields fall back to Calls)", got, want)
	}
	if got := (Service{Name: "b", Desc: descB}).CLIDownstream(); got.UnaryTimeout != 0 || got.StreamTimeout != 0 {
		t.Errorf("no timeouts anywhere: got %+v, want the client defaults (zero)", got)
	}
}
