// Package limits bounds what one caller may take: a request rate per API
// key, a cap on one key's concurrent calls of a kind (answers), and a
// server-side maximum deadline no client header can stretch.
//
// Each is a gRPC interceptor (the rate limit through go-grpc-middleware's
// ratelimit) placed at the composition root; the rate limit also admits REST
// requests at the gateway.
package limits

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	grpcmw "github.com/grpc-ecosystem/go-grpc-middleware/v2"

	"github.com/pdfqa/pdfqa/platform/auth"
)

// RetryAfterHeader is the response metadata (and REST header) saying when
// to retry a ResourceExhausted call, in whole seconds.
const RetryAfterHeader = "retry-after"

// Limited is a refusal that says when to retry.
type Limited struct {
	What  string
	Retry time.Duration
}

func (l *Limited) Error() string {
	return fmt.Sprintf("%s; retry after %s", l.What, l.Retry.Round(time.Millisecond))
}

// RetryAfter is when to retry.
func (l *Limited) RetryAfter() time.Duration { return l.Retry }

func seconds(d time.Duration) string {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s)
}

// PerKey is a token bucket per API key: RPS requests a second, bursts of
// Burst. Calls a mesh peer makes for a caller pass (the caller was admitted
// where it entered), as do calls without a principal (auth off).
type PerKey struct {
	RPS   float64
	Burst int

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// Allow admits or refuses one request of p.
func (l *PerKey) Allow(p auth.Principal, now time.Time) error {
	if p.Peer || l.RPS <= 0 {
		return nil
	}
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*rate.Limiter{}
	}
	lim, ok := l.m[p.KeyID]
	if !ok {
		b := l.Burst
		if b < 1 {
			b = 1
		}
		lim = rate.NewLimiter(rate.Limit(l.RPS), b)
		l.m[p.KeyID] = lim // keys are authenticated ids: a bounded set
	}
	l.mu.Unlock()
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return &Limited{What: fmt.Sprintf("rate limit of %g requests/s for key %s exceeded", l.RPS, p.KeyID), Retry: d}
	}
	return nil
}

// Limit implements ratelimit.Limiter, setting the retry-after header.
func (l *PerKey) Limit(ctx context.Context) error {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return nil
	}
	err := l.Allow(p, time.Now())
	if lim, ok := err.(*Limited); ok {
		_ = grpc.SetHeader(ctx, metadata.Pairs(RetryAfterHeader, seconds(lim.Retry)))
	}
	return err
}

// Interceptors are l as go-grpc-middleware's ratelimit interceptors.
func (l *PerKey) Interceptors() (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	var lim ratelimit.Limiter = l
	return ratelimit.UnaryServerInterceptor(lim), ratelimit.StreamServerInterceptor(lim)
}

// Concurrent caps one key's calls in flight at Max (the methods it is
// applied to, e.g. Ask); the one over is ResourceExhausted with
// retry-after. Unlike the rate, it counts calls peers make for a key too:
// an answer started through REST holds its slot at the agents.
type Concurrent struct {
	Max int
	// What names the calls in the error ("answers").
	What string

	mu sync.Mutex
	n  map[string]int
}

// Acquire takes one of p's slots; release gives it back.
func (c *Concurrent) Acquire(p auth.Principal) (release func(), err error) {
	if c.Max <= 0 {
		return func() {}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	if c.n[p.KeyID] >= c.Max {
		return nil, &Limited{What: fmt.Sprintf("%d concurrent %s for key %s already running", c.Max, c.What, p.KeyID), Retry: time.Second}
	}
	c.n[p.KeyID]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			if c.n[p.KeyID]--; c.n[p.KeyID] <= 0 {
				delete(c.n, p.KeyID)
			}
			c.mu.Unlock()
		})
	}, nil
}

func (c *Concurrent) acquire(ctx context.Context) (func(), error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return func() {}, nil
	}
	rel, err := c.Acquire(p)
	if err != nil {
		_ = grpc.SetHeader(ctx, metadata.Pairs(RetryAfterHeader, "1"))
		return nil, status.Error(codes.ResourceExhausted, err.Error())
	}
	return rel, nil
}

// Interceptors are c as server interceptors (apply with Only to the
// methods it caps).
func (c *Concurrent) Interceptors() (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			rel, err := c.acquire(ctx)
			if err != nil {
				return nil, err
			}
			defer rel()
			return h(ctx, req)
		}, func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			rel, err := c.acquire(ss.Context())
			if err != nil {
				return err
			}
			defer rel()
			return h(srv, ss)
		}
}

// Deadlines bound every call's deadline on the server: a call whose client
// asked for longer (or for none) runs under the maximum for its kind.
type Deadlines struct {
	// Unary and Stream are the maxima (0: unbounded).
	Unary, Stream time.Duration
}

// Bound returns ctx with its deadline capped at max from now.
func Bound(ctx context.Context, max time.Duration) (context.Context, context.CancelFunc) {
	if max <= 0 {
		return ctx, func() {}
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= max {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, max)
}

// Interceptors are d as server interceptors.
func (d Deadlines) Interceptors() (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			ctx, cancel := Bound(ctx, d.Unary)
			defer cancel()
			return h(ctx, req)
		}, func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			ctx, cancel := Bound(ss.Context(), d.Stream)
			defer cancel()
			w := grpcmw.WrapServerStream(ss)
			w.WrappedContext = ctx
			return h(srv, w)
		}
}
