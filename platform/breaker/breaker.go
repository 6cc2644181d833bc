// Package breaker puts one sony/gobreaker circuit breaker in front of each
// downstream service, as gRPC client interceptors, with its state exported as
// a Prometheus gauge.
package breaker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Settings tune a breaker; zero values take the defaults noted.
type Settings struct {
	// ConsecutiveFailures that open the breaker (default 5).
	ConsecutiveFailures uint32
	// OpenTimeout is how long the breaker stays open before letting a probe
	// through (default 5s).
	OpenTimeout time.Duration
	// HalfOpenProbes successful probes needed to close again (default 1).
	HalfOpenProbes uint32
	// Interval after which failure counts reset while closed (default 60s).
	Interval time.Duration
	// IsFailure overrides which errors count against the callee (default:
	// the package's IsFailure, for gRPC status errors).
	IsFailure func(error) bool
}

// clientCodes are answers about the request, not the health of the callee:
// they never trip a breaker. ResourceExhausted is among them: a callee that
// sheds load or refuses a caller over its quota answered at once and said
// when to retry; opening the breaker on it would turn one caller's 429 into
// every caller's Unavailable for OpenTimeout.
var clientCodes = map[codes.Code]bool{
	codes.ResourceExhausted:  true,
	codes.InvalidArgument:    true,
	codes.NotFound:           true,
	codes.AlreadyExists:      true,
	codes.PermissionDenied:   true,
	codes.Unauthenticated:    true,
	codes.FailedPrecondition: true,
	codes.OutOfRange:         true,
	codes.Unimplemented:      true,
}

// IsFailure reports whether err counts against the callee's health.
func IsFailure(err error) bool {
	if err == nil {
		return false
	}
	c := status.Code(err)
	return !clientCodes[c] && c != codes.Canceled
}

func isExcluded(err error) bool {
	return status.Code(err) == codes.Canceled || errors.Is(err, context.Canceled)
}

// State values of the breaker gauge.
const (
	GaugeClosed   = 0
	GaugeHalfOpen = 1
	GaugeOpen     = 2
)

// Breaker guards calls to one downstream service.
type Breaker struct {
	name string
	cb   *gobreaker.TwoStepCircuitBreaker[struct{}]
}

// StateGauge is the gauge vector holding every breaker's state, labelled by
// downstream; register it once per registry.
func StateGauge() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "pdfqa_breaker_state",
		Help: "Circuit breaker state per downstream: 0 closed, 1 half-open, 2 open.",
	}, []string{"downstream"})
}

// New returns a breaker for downstream. gauge may be nil.
func New(downstream string, s Settings, gauge *prometheus.GaugeVec) *Breaker {
	if s.ConsecutiveFailures == 0 {
		s.ConsecutiveFailures = 5
	}
	if s.OpenTimeout == 0 {
		s.OpenTimeout = 5 * time.Second
	}
	if s.HalfOpenProbes == 0 {
		s.HalfOpenProbes = 1
	}
	if s.Interval == 0 {
		s.Interval = 60 * time.Second
	}
	failure := s.IsFailure
	if failure == nil {
		failure = IsFailure
	}
	set := func(st gobreaker.State) {
		if gauge == nil {
			return
		}
		v := GaugeClosed
		switch st {
		case gobreaker.StateHalfOpen:
			v = GaugeHalfOpen
		case gobreaker.StateOpen:
			v = GaugeOpen
		}
		gauge.WithLabelValues(downstream).Set(float64(v))
	}
	set(gobreaker.StateClosed)
	cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        downstream,
		MaxRequests: s.HalfOpenProbes,
		Interval:    s.Interval,
		Timeout:     s.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= s.ConsecutiveFailures
		},
		OnStateChange: func(_ string, _, to gobreaker.State) { set(to) },
		IsSuccessful:  func(err error) bool { return !failure(err) },
		IsExcluded:    isExcluded,
	})
	return &Breaker{name: downstream, cb: cb}
}

// State returns the breaker's current state ("closed", "half-open", "open").
func (b *Breaker) State() string { return b.cb.State().String() }

func (b *Breaker) allow() (func(error), error) {
	done, err := b.cb.Allow()
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%s: circuit breaker %s (downstream failing, retry later)", b.name, b.cb.State())
	}
	return done, nil
}

// Do runs fn through the breaker (for non-gRPC downstreams such as an HTTP
// upstream); an open breaker returns ErrOpen without calling fn.
func (b *Breaker) Do(fn func() error) error {
	done, err := b.cb.Allow()
	if err != nil {
		return fmt.Errorf("%w: %s is %s", ErrOpen, b.name, b.cb.State())
	}
	err = fn()
	done(err)
	return err
}

// ErrOpen is returned by Do while the breaker rejects calls.
var ErrOpen = errors.New("circuit breaker open")

// Unary is the client interceptor for unary calls.
func (b *Breaker) Unary() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, inv grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		done, err := b.allow()
		if err != nil {
			return err
		}
		err = inv(ctx, method, req, reply, cc, opts...)
		done(err)
		return err
	}
}

// Stream is the client interceptor for streams: the outcome is the stream's
// final status (io.EOF counts as success).
func (b *Breaker) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, s grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		done, err := b.allow()
		if err != nil {
			return nil, err
		}
		cs, err := s(ctx, desc, cc, method, opts...)
		if err != nil {
			done(err)
			return nil, err
		}
		return &trackedStream{ClientStream: cs, done: done}, nil
	}
}

type trackedStream struct {
	grpc.ClientStream
	done     func(error)
	reported bool
}

func (t *trackedStream) report(err error) {
	if t.reported {
		return
	}
	t.reported = true
	if errors.Is(err, io.EOF) {
		err = nil
	}
	t.done(err)
}

func (t *trackedStream) RecvMsg(m any) error {
	err := t.ClientStream.RecvMsg(m)
	if err != nil {
		t.report(err)
	}
	return err
}

func (t *trackedStream) SendMsg(m any) error {
	err := t.ClientStream.SendMsg(m)
	if err != nil && !errors.Is(err, io.EOF) {
		t.report(err)
	}
	return err
}
