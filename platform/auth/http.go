package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// HTTPOptions configure the REST middleware.
type HTTPOptions struct {
	// Exempt paths skip authentication (health checks, static assets).
	Exempt func(r *http.Request) bool
	// Admit runs after authentication (rate limits); an error that has a
	// RetryAfter() time.Duration method becomes 429 with Retry-After.
	Admit func(r *http.Request) error
	// WriteError writes a refusal (a gRPC status error; retry > 0: when to
	// retry) in the shape of the route asked (nil: WriteError, the REST
	// API's), e.g. OpenAI's for an OpenAI-compatible API.
	WriteError func(w http.ResponseWriter, r *http.Request, err error, retry time.Duration)
}

// RetryAfterer is an admission error that says when to retry.
type RetryAfterer interface{ RetryAfter() time.Duration }

// HTTP authenticates every request's Authorization: Bearer key and serves it
// as the key's principal; failures answer in the REST API's error shape.
func (v *Verifier) HTTP(next http.Handler, o HTTPOptions) http.Handler {
	refuse := o.WriteError
	if refuse == nil {
		refuse = func(w http.ResponseWriter, _ *http.Request, err error, retry time.Duration) {
			WriteError(w, err, retry)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.Exempt != nil && o.Exempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		// REST callers never assert a principal: only the bearer counts.
		p, err := v.Verify(r.Context(), Bearer(r.Header.Get("Authorization")), metadata.MD{})
		if err == nil && p.Peer {
			err = errors.Join(ErrUnauthenticated, errors.New("the mesh's service token is not an API key"))
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pdfqa"`)
			refuse(w, r, Status(err), 0)
			return
		}
		r = r.WithContext(WithPrincipal(r.Context(), p))
		if o.Admit != nil {
			if err := o.Admit(r); err != nil {
				var ra RetryAfterer
				wait := time.Second
				if errors.As(err, &ra) {
					wait = ra.RetryAfter()
				}
				refuse(w, r, status.Error(codes.ResourceExhausted, err.Error()), wait)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// WriteError writes a gRPC status error as the REST API does ({"code",
// "message"}), with Retry-After when retry > 0.
func WriteError(w http.ResponseWriter, err error, retry time.Duration) {
	st := status.Convert(err)
	code := runtime.HTTPStatusFromCode(st.Code()) // grpc-gateway's mapping, as the REST API's other errors
	if retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": int(st.Code()), "message": st.Message()})
}
