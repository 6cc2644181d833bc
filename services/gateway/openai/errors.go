package openai

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/grpc/status"

	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
	"github.com/pdfqa/pdfqa/services/gateway/clientwire"
)

// The API's own errors; the mesh's arrive as the SDK's (pdfqa.Err*).
var (
	errBadRequest    = errors.New("invalid request")
	errModelNotFound = errors.New("model not found")
	errUnauthorized  = errors.New("invalid API key")
)

// ErrUnauthorized is what an Authorize hook returns to refuse a caller (401).
var ErrUnauthorized = errUnauthorized

// errKind is how one error is answered: HTTP status, OpenAI error type and code.
type errKind struct {
	err    error
	status int
	typ    string
	code   string
}

// errTable is the API's one map from errors to OpenAI's error shape;
// anything not listed is a 500 server_error.
var errTable = []errKind{
	{errBadRequest, http.StatusBadRequest, "invalid_request_error", "invalid_request"},
	{errModelNotFound, http.StatusNotFound, "invalid_request_error", "model_not_found"},
	{errUnauthorized, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key"},
	{clientwire.ErrNoAnswer, http.StatusBadGateway, "server_error", "no_answer"},
	{pdfqa.ErrInvalidArgument, http.StatusBadRequest, "invalid_request_error", "invalid_request"},
	{pdfqa.ErrNotFound, http.StatusNotFound, "invalid_request_error", "not_found"},
	{pdfqa.ErrUnauthenticated, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key"},
	{pdfqa.ErrPermissionDenied, http.StatusForbidden, "permission_error", "permission_denied"},
	{pdfqa.ErrResourceExhausted, http.StatusTooManyRequests, "rate_limit_error", "rate_limit_exceeded"},
	{pdfqa.ErrFailedPrecondition, http.StatusConflict, "invalid_request_error", "failed_precondition"},
	{pdfqa.ErrOutOfRange, http.StatusBadRequest, "invalid_request_error", "context_length_exceeded"},
	{pdfqa.ErrUnavailable, http.StatusServiceUnavailable, "server_error", "unavailable"},
	{pdfqa.ErrDeadlineExceeded, http.StatusGatewayTimeout, "server_error", "timeout"},
	{pdfqa.ErrCanceled, 499, "server_error", "canceled"},
}

func kindOf(err error) errKind {
	for _, k := range errTable {
		if errors.Is(err, k.err) {
			return k
		}
	}
	return errKind{status: http.StatusInternalServerError, typ: "server_error", code: "internal_error"}
}

func errorOf(err error, param string) (int, errorBody) {
	k := kindOf(err)
	b := errorBody{Error: apiError{Message: err.Error(), Type: k.typ}}
	if k.code != "" {
		b.Error.Code = &k.code
	}
	if param != "" {
		b.Error.Param = &param
	}
	return k.status, b
}

// WriteStatusError writes a gRPC status error (the mesh's authentication
// refusing a caller, a rate limit) in OpenAI's error shape, with
// Retry-After when retry > 0.
func WriteStatusError(w http.ResponseWriter, err error, retry time.Duration) {
	st := status.Convert(err)
	if retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
	}
	writeError(w, &pdfqa.Error{Code: st.Code(), Message: st.Message()}, "")
}
