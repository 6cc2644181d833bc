package trainer

import (
	"google.golang.org/grpc/codes"

	"github.com/pdfqa/pdfqa/platform/grpcerr"
	"github.com/pdfqa/pdfqa/platform/pg"
)

// Domain errors: the trainer's names for the shared ones, which
// grpcerr maps to their codes; errs adds the trainer's own.
var (
	ErrInvalid      = grpcerr.ErrInvalid
	ErrNotFound     = grpcerr.ErrNotFound
	ErrState        = grpcerr.ErrFailedPrecondition
	ErrUnavailable  = grpcerr.ErrUnavailable
	ErrAlreadyExist = grpcerr.ErrAlreadyExists
	// ErrBusy: the cap on concurrent jobs is reached.
	ErrBusy = grpcerr.ErrResourceExhausted
	// ErrConflict: another call holds the job (evaluating or publishing
	// it, on this replica or another); nothing was done, and the call may
	// be made again once that one is done.
	ErrConflict = grpcerr.ErrAborted
)

var errs = grpcerr.Table{
	{Err: pg.ErrUnavailable, Code: codes.Unavailable},
	{Err: ErrLost, Code: codes.Aborted},
}
