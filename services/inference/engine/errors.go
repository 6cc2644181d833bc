package engine

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps exactly one of
// them (test with errors.Is) so the service maps engine failures to gRPC
// status codes in one place:
//
//	ErrUnavailable    -> codes.Unavailable
//	ErrBadRequest     -> codes.InvalidArgument
//	ErrContextSize    -> codes.InvalidArgument (or OutOfRange)
//	ErrNotFound       -> codes.NotFound
//	ErrNotSupported   -> codes.Unimplemented
//	ErrBadAdapter     -> codes.FailedPrecondition
//	ErrInternal       -> codes.Internal
//
// Context cancellation and deadlines are returned as the context's own error
// (context.Canceled / context.DeadlineExceeded), wrapped.
var (
	// ErrUnavailable: the engine is starting, restarting, stopped, or the
	// connection to it broke (e.g. the process died mid-request). Retryable.
	ErrUnavailable = errors.New("engine unavailable")
	// ErrBadRequest: the engine rejected the request as invalid.
	ErrBadRequest = errors.New("bad request")
	// ErrContextSize: the prompt does not fit the engine's context window.
	ErrContextSize = errors.New("prompt exceeds context size")
	// ErrNotFound: unknown endpoint or resource.
	ErrNotFound = errors.New("not found")
	// ErrNotSupported: the loaded engine/model cannot do this (e.g. embeddings
	// on a generation engine).
	ErrNotSupported = errors.New("not supported by engine")
	// ErrBadAdapter: a LoRA adapter file is missing, malformed or does not fit
	// the base model. The previously running engine keeps serving.
	ErrBadAdapter = errors.New("bad LoRA adapter")
	// ErrInternal: the engine failed in an unexpected way.
	ErrInternal = errors.New("engine internal error")
)

// APIError is an error reported by llama-server's HTTP API
// ({"error":{"code":..,"message":..,"type":..}}). It unwraps to a sentinel.
type APIError struct {
	Status  int    // HTTP status (or the "code" field for in-stream errors)
	Type    string // e.g. "invalid_request_error"
	Message string
	kind    error
}

func (e *APIError) Error() string {
	return fmt.Sprintf("llama-server: %s (%d %s)", e.Message, e.Status, e.Type)
}

// Unwrap returns the sentinel this error maps to.
func (e *APIError) Unwrap() error { return e.kind }

func newAPIError(status int, typ, msg string) *APIError {
	var kind error
	switch {
	case typ == "exceed_context_size_error":
		kind = ErrContextSize
	case typ == "invalid_request_error" || status == 400 || status == 422:
		kind = ErrBadRequest
	case typ == "not_found_error" || status == 404:
		kind = ErrNotFound
	case typ == "not_supported_error" || status == 501:
		kind = ErrNotSupported
	case typ == "unavailable_error" || status == 503:
		kind = ErrUnavailable
	default:
		kind = ErrInternal
	}
	return &APIError{Status: status, Type: typ, Message: msg, kind: kind}
}
