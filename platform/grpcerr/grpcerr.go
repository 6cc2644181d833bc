// Package grpcerr maps a service's domain errors to gRPC status codes from
// one table, the only place each service translates errors.
package grpcerr

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Entry maps one sentinel error (matched with errors.Is) to a code.
type Entry struct {
	Err  error
	Code codes.Code
}

// Table is a service's error table.
type Table []Entry

// Status converts err to a gRPC status error: status errors pass through,
// context cancellation and deadlines keep their codes, table entries get
// their code with the error's message, anything else is Internal.
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
	for _, e := range t {
		if errors.Is(err, e.Err) {
			return status.Error(e.Code, err.Error())
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
