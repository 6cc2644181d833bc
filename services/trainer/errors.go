package trainer

import (
	"errors"

	"google.golang.org/grpc/codes"

	"github.com/pdfqa/pdfqa/platform/grpcerr"
	"github.com/pdfqa/pdfqa/platform/pg"
)

// Domain errors; errs maps them to gRPC codes.
var (
	ErrInvalid      = errors.New("invalid argument")
	ErrNotFound     = errors.New("not found")
	ErrState        = errors.New("failed precondition")
	ErrUnavailable  = errors.New("unavailable")
	ErrAlreadyExist = errors.New("already exists")
	// ErrBusy: the cap on concurrent jobs is reached.
	ErrBusy = errors.New("resource exhausted")
	// ErrConflict: another call holds the job (evaluating or publishing
	// it, on this replica or another); nothing was done, and the call may
	// be made again once that one is done.
	ErrConflict = errors.New("aborted")
)

var errs = grpcerr.Table{
	{Err: ErrInvalid, Code: codes.InvalidArgument},
	{Err: ErrNotFound, Code: codes.NotFound},
	{Err: ErrState, Code: codes.FailedPrecondition},
	{Err: ErrUnavailable, Code: codes.Unavailable},
	{Err: ErrAlreadyExist, Code: codes.AlreadyExists},
	{Err: ErrBusy, Code: codes.ResourceExhausted},
	{Err: pg.ErrUnavailable, Code: codes.Unavailable},
	{Err: ErrLost, Code: codes.Aborted},
	{Err: ErrConflict, Code: codes.Aborted},
}
