package auth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type slowDown struct{}

func (slowDown) Error() string             { return "rate limited" }
func (slowDown) RetryAfter() time.Duration { return 3 * time.Second }

// TestHTTPRefusalsTakeTheRoutesShape checks that the middleware admits a
// valid key with its principal, and writes its refusals (no key, a bad key,
// a rate limit) through WriteError when one is given, else in the REST
// API's shape.
func TestHTTPRefusalsTakeTheRoutesShape(t *testing.T) {
	ctx := context.Background()
	st := NewMem()
	good, k, err := NewKey("acme", Reader, "", 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, k); err != nil {
		t.Fatal(err)
	}
	v := &Verifier{Store: st}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := FromContext(r.Context())
		fmt.Fprintf(w, "as %s %s", p.Tenant, p.Role)
	})
	limited := false
	admit := func(*http.Request) error {
		if limited {
			return slowDown{}
		}
		return nil
	}
	custom := func(w http.ResponseWriter, r *http.Request, err error, retry time.Duration) {
		w.WriteHeader(418)
		fmt.Fprintf(w, "%s %s %s %v", r.URL.Path, status.Code(err), status.Convert(err).Message(), retry)
	}
	do := func(h http.Handler, key string) (int, string, http.Header) {
		req := httptest.NewRequest("GET", "/x", nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String(), rec.Header()
	}
	rest := v.HTTP(next, HTTPOptions{Admit: admit})
	shaped := v.HTTP(next, HTTPOptions{Admit: admit, WriteError: custom})
	for _, h := range []http.Handler{rest, shaped} {
		if code, body, _ := do(h, good); code != 200 || body != "as acme reader" {
			t.Errorf("a valid key: %d %q", code, body)
		}
	}
	if code, body, hdr := do(rest, ""); code != 401 || !strings.Contains(body, `"code":16`) || hdr.Get("WWW-Authenticate") == "" {
		t.Errorf("REST shape, no key: %d %q %v", code, body, hdr)
	}
	if code, body, hdr := do(shaped, "pdfqa_bad"); code != 418 || !strings.HasPrefix(body, "/x Unauthenticated ") || hdr.Get("WWW-Authenticate") == "" {
		t.Errorf("route's shape, bad key: %d %q %v", code, body, hdr)
	}
	limited = true
	if code, body, hdr := do(rest, good); code != 429 || hdr.Get("Retry-After") != "3" {
		t.Errorf("REST shape, limited: %d %q %v", code, body, hdr)
	}
	if code, body, _ := do(shaped, good); code != 418 || body != "/x ResourceExhausted rate limited 3s" {
		t.Errorf("route's shape, limited: %d %q", code, body)
	}
}

// WriteError answers each gRPC code with the HTTP status the REST API's
// other errors get (grpc-gateway's table); a deadline was a 500 here.
func TestWriteErrorStatus(t *testing.T) {
	for c, want := range map[codes.Code]int{
		codes.Unauthenticated: 401, codes.PermissionDenied: 403, codes.NotFound: 404, codes.InvalidArgument: 400,
		codes.ResourceExhausted: 429, codes.Unavailable: 503, codes.DeadlineExceeded: 504,
		codes.FailedPrecondition: 400, codes.AlreadyExists: 409, codes.Internal: 500,
	} {
		rec := httptest.NewRecorder()
		WriteError(rec, status.Error(c, "x"), 2*time.Second)
		if rec.Code != want || rec.Header().Get("Retry-After") != "2" {
			t.Errorf("%v: HTTP %d Retry-After %q, want %d and 2", c, rec.Code, rec.Header().Get("Retry-After"), want)
		}
	}
}
