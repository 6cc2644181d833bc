// Package registry describes the services of the mesh: for each one its
// registered name, gRPC service descriptor, REST registrar and default call
// deadlines, in start order. The table itself lives at the composition root
// (internal/mesh), next to how each service is built, so adding a service is
// one entry there; the mesh, the gateway and the CLI read it through this
// type, and platform stays free of the services' generated code.
package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	"github.com/pdfqa/pdfqa/platform/client"
)

// Timeouts are the deadlines given to calls that carry none (zero: the
// client defaults, 30s unary and 15m streams).
type Timeouts struct {
	Unary  time.Duration
	Stream time.Duration
}

// RESTRegistrar adds a service's REST routes to mux, forwarding over conn
// (the generated Register<Service>Handler functions).
type RESTRegistrar func(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error

// Service is one entry of the registry.
type Service struct {
	// Name is the name the service registers under in etcd and the one
	// `pdfqa serve` takes ("retrieval", ...).
	Name string
	// Desc is the gRPC service it serves.
	Desc *grpc.ServiceDesc
	// REST registers its REST routes on the gateway; nil: none through a
	// client connection (the gateway serves its own in-process).
	REST RESTRegistrar
	// Calls are the default deadlines of calls from other services.
	Calls Timeouts
	// CLICalls are the default deadlines of calls from the pdfqa command
	// (uploads, whole answers); zero fields fall back to Calls.
	CLICalls Timeouts
}

// GRPCService is the fully-qualified gRPC service name.
func (s Service) GRPCService() string { return s.Desc.ServiceName }

// Downstream is how another service calls this one.
func (s Service) Downstream() client.Downstream {
	return client.Downstream{Service: s.Name, GRPCService: s.GRPCService(), UnaryTimeout: s.Calls.Unary, StreamTimeout: s.Calls.Stream}
}

// CLIDownstream is how the pdfqa command calls this one.
func (s Service) CLIDownstream() client.Downstream {
	d := s.Downstream()
	if s.CLICalls.Unary != 0 {
		d.UnaryTimeout = s.CLICalls.Unary
	}
	if s.CLICalls.Stream != 0 {
		d.StreamTimeout = s.CLICalls.Stream
	}
	return d
}

// Registry is every service of the mesh, in start order.
type Registry []Service

// New checks services (each named once, with a descriptor, no descriptor
// twice) and returns them as a registry in the order given.
func New(services ...Service) (Registry, error) {
	names := map[string]bool{}
	descs := map[string]bool{}
	for i, s := range services {
		switch {
		case s.Name == "":
			return nil, fmt.Errorf("registry: service %d has no name", i)
		case s.Desc == nil:
			return nil, fmt.Errorf("registry: service %q has no gRPC descriptor", s.Name)
		case names[s.Name]:
			return nil, fmt.Errorf("registry: service %q listed twice", s.Name)
		case descs[s.Desc.ServiceName]:
			return nil, fmt.Errorf("registry: gRPC service %s listed twice", s.Desc.ServiceName)
		}
		names[s.Name], descs[s.Desc.ServiceName] = true, true
	}
	return Registry(services), nil
}

// Names lists the services in start order.
func (r Registry) Names() []string {
	out := make([]string, len(r))
	for i, s := range r {
		out[i] = s.Name
	}
	return out
}

// ErrUnknown: no service of that name or descriptor.
var ErrUnknown = errors.New("unknown service")

// Lookup returns the service registered as name.
func (r Registry) Lookup(name string) (Service, error) {
	for _, s := range r {
		if s.Name == name {
			return s, nil
		}
	}
	return Service{}, fmt.Errorf("%w %q (one of %v)", ErrUnknown, name, r.Names())
}

// Of returns the service that serves desc, so a caller names a service by
// the generated client it is about to use rather than by a string.
func (r Registry) Of(desc *grpc.ServiceDesc) (Service, error) {
	for _, s := range r {
		if s.Desc.ServiceName == desc.ServiceName {
			return s, nil
		}
	}
	return Service{}, fmt.Errorf("%w: no service serves %s", ErrUnknown, desc.ServiceName)
}

// Except returns the registry without the service that serves desc (the
// gateway's backends are every service but itself).
func (r Registry) Except(desc *grpc.ServiceDesc) Registry {
	out := make(Registry, 0, len(r))
	for _, s := range r {
		if s.Desc.ServiceName != desc.ServiceName {
			out = append(out, s)
		}
	}
	return out
}
