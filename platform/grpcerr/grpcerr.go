// Package grpcerr maps a service's domain errors to gRPC status codes from
// one table, the only place each service translates errors. The domain
// errors every service has (an invalid argument, a missing or existing
// resource, a busy or unreachable dependency, a lost race) are declared
// here once, with their codes; a service's Table lists only the errors of
// its own (and of the packages it calls) on top of them.
package grpcerr

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The shared domain errors, each named by the gRPC code it maps to and
// worded as that code, so a wrapped one reads "not found: job j-1". A
// service may give one its own name (trainer.ErrBusy =
// grpcerr.ErrResourceExhausted); errors.Is matches either.
var (
	ErrInvalid            = errors.New("invalid argument")
	ErrNotFound           = errors.New("not found")
	ErrAlreadyExists      = errors.New("already exists")
	ErrFailedPrecondition = errors.New("failed precondition")
	ErrResourceExhausted  = errors.New("resource exhausted")
	ErrAborted            = errors.New("aborted")
	ErrUnavailable        = errors.New("unavailable")
)

// shared is the table under every service's: the shared errors' codes.
var shared = Table{
	{Err: ErrInvalid, Code: codes.InvalidArgument},
	{Err: ErrNotFound, Code: codes.NotFound},
	{Err: ErrAlreadyExists, Code: codes.AlreadyExists},
	{Err: ErrFailedPrecondition, Code: codes.FailedPrecondition},
	{Err: ErrResourceExhausted, Code: codes.ResourceExhausted},
	{Err: ErrAborted, Code: codes.Aborted},
	{Err: ErrUnavailable, Code: codes.Unavailable},
}

// Entry maps one sentinel error (matched with errors.Is) to a code.
type Entry struct {
	Err  error
	Code codes.Code
}

// Table is a service's error table: its entries, then the shared errors'.
type Table []Entry

// Status converts err to a gRPC status error: status errors pass through,
// context cancellation and deadlines keep their codes, an error matching a
// table entry (the first, in order; then the shared errors') gets its code
// with the error's message, anything else is Internal.
func (t Table) Status(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	for _, tab := range [...]Table{t, shared} {
		for _, e := range tab {
			if errors.Is(err, e.Err) {
				return status.Error(e.Code, err.Error())
			}
		}
	}
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return se.GRPCStatus().Err()
	}
	return status.Error(codes.Internal, err.Error())
}

// Later is the Unimplemented answer for an RPC whose behaviour a later issue
// brings; it says so instead of faking a result.
func Later(rpc, what string) error {
	return status.Errorf(codes.Unimplemented, "%s is not implemented yet: %s", rpc, what)
}
