package inference

import (
	"errors"

	"google.golang.org/grpc/codes"

	"github.com/pdfqa/pdfqa/platform/grpcerr"
	"github.com/pdfqa/pdfqa/services/inference/engine"
)

// The service's own domain errors. Engine errors (engine.Err*) pass through
// the domain unchanged; both kinds become gRPC codes only in errs.
var (
	// ErrInvalid marks a malformed request.
	ErrInvalid = errors.New("invalid request")
	// ErrAdapterNotFound names an adapter that is not loaded.
	ErrAdapterNotFound = errors.New("adapter not found")
	// ErrOverloaded means the admission queue is full.
	ErrOverloaded = errors.New("inference overloaded: admission queue full, retry later")
	// ErrUnavailable: the shared adapter registry (etcd, the blob bucket)
	// cannot be reached.
	ErrUnavailable = grpcerr.ErrUnavailable
	// ErrConflict: the adapter set changed under a LoadAdapter (another
	// load or unload of the name committed first; nothing was published),
	// or an UnloadAdapter's sha256 precondition names a version that is no
	// longer the one under the name (nothing was removed).
	ErrConflict = grpcerr.ErrAborted
)

// errs is the service's one map from domain errors to gRPC codes; handlers
// translate every error they return through it (errs.Status), nothing else
// picks a code. Context cancellation and deadlines keep their own codes;
// the shared errors (ErrUnavailable, ErrConflict) have grpcerr's codes;
// anything not listed is Internal (see grpcerr.Table.Status).
var errs = grpcerr.Table{
	{Err: ErrInvalid, Code: codes.InvalidArgument},
	{Err: ErrAdapterNotFound, Code: codes.NotFound},
	{Err: ErrOverloaded, Code: codes.ResourceExhausted},
	{Err: engine.ErrUnavailable, Code: codes.Unavailable},
	{Err: engine.ErrBadRequest, Code: codes.InvalidArgument},
	{Err: engine.ErrContextSize, Code: codes.OutOfRange},
	{Err: engine.ErrNotFound, Code: codes.NotFound},
	{Err: engine.ErrNotSupported, Code: codes.Unimplemented},
	{Err: engine.ErrBadAdapter, Code: codes.FailedPrecondition},
	{Err: engine.ErrInternal, Code: codes.Internal},
}
