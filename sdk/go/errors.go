package pdfqa

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The errors a call may return, one per gRPC code of the contracts; match
// them with errors.Is. The error itself is an *Error carrying the code and
// the service's message.
var (
	ErrInvalidArgument    = errors.New("invalid argument")
	ErrNotFound           = errors.New("not found")
	ErrAlreadyExists      = errors.New("already exists")
	ErrPermissionDenied   = errors.New("permission denied")
	ErrUnauthenticated    = errors.New("unauthenticated")
	ErrResourceExhausted  = errors.New("resource exhausted")
	ErrFailedPrecondition = errors.New("failed precondition")
	ErrOutOfRange         = errors.New("out of range")
	ErrUnimplemented      = errors.New("unimplemented")
	ErrUnavailable        = errors.New("unavailable")
	ErrDeadlineExceeded   = errors.New("deadline exceeded")
	ErrCanceled           = errors.New("canceled")
	ErrInternal           = errors.New("internal error")
)

// codeErrs is the one map from gRPC codes to this package's errors.
var codeErrs = map[codes.Code]error{
	codes.InvalidArgument:    ErrInvalidArgument,
	codes.NotFound:           ErrNotFound,
	codes.AlreadyExists:      ErrAlreadyExists,
	codes.PermissionDenied:   ErrPermissionDenied,
	codes.Unauthenticated:    ErrUnauthenticated,
	codes.ResourceExhausted:  ErrResourceExhausted,
	codes.FailedPrecondition: ErrFailedPrecondition,
	codes.Aborted:            ErrFailedPrecondition,
	codes.OutOfRange:         ErrOutOfRange,
	codes.Unimplemented:      ErrUnimplemented,
	codes.Unavailable:        ErrUnavailable,
	codes.DeadlineExceeded:   ErrDeadlineExceeded,
	codes.Canceled:           ErrCanceled,
	codes.Internal:           ErrInternal,
	codes.DataLoss:           ErrInternal,
	codes.Unknown:            ErrInternal,
}

// canonical is each package error's own code, for Code on wrapped sentinels.
var canonical = []codes.Code{codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
	codes.Unauthenticated, codes.ResourceExhausted, codes.FailedPrecondition, codes.OutOfRange, codes.Unimplemented,
	codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Internal}

// Error is an error from the mesh: its gRPC code and message.
type Error struct {
	Code    codes.Code
	Message string
	cause   error
}

func (e *Error) Error() string { return e.Message }

// Is matches the package error of e's code.
func (e *Error) Is(target error) bool { return codeErrs[e.Code] == target }

// Unwrap returns the underlying error (the gRPC status error, or a context error).
func (e *Error) Unwrap() error { return e.cause }

// GRPCStatus lets gRPC servers pass the error on with its code.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// Code returns the gRPC code of err: an *Error's, a status error's, a
// context error's, else Unknown (nil is OK).
func Code(err error) codes.Code {
	var e *Error
	switch {
	case err == nil:
		return codes.OK
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	}
	for _, c := range canonical {
		if errors.Is(err, codeErrs[c]) {
			return c
		}
	}
	return status.Code(err)
}

// wrap converts an error from a call into an *Error (nil stays nil).
func wrap(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: codes.DeadlineExceeded, Message: err.Error(), cause: err}
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Code: codes.Canceled, Message: err.Error(), cause: err}
	}
	st, ok := status.FromError(err)
	if !ok {
		return &Error{Code: codes.Unknown, Message: err.Error(), cause: err}
	}
	return &Error{Code: st.Code(), Message: st.Message(), cause: err}
}

// invalid is a client-side argument error.
func invalid(msg string) error {
	return &Error{Code: codes.InvalidArgument, Message: msg}
}
