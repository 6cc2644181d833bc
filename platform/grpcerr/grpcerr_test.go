package grpcerr

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestStatus(t *testing.T) {
	errOwn := errors.New("queue full")
	errShadow := errors.New("shadow")
	tab := Table{
		{Err: errOwn, Code: codes.ResourceExhausted},
		// A service's entry comes before the shared ones: an error that
		// wraps both gets the service's code.
		{Err: errShadow, Code: codes.DataLoss},
	}
	for _, tc := range []struct {
		name string
		err  error
		code codes.Code
		msg  string
	}{
		{"own entry", fmt.Errorf("upload: %w", errOwn), codes.ResourceExhausted, "upload: queue full"},
		{"shared invalid", fmt.Errorf("%w: name is required", ErrInvalid), codes.InvalidArgument, "invalid argument: name is required"},
		{"shared not found", fmt.Errorf("%w: job j-1", ErrNotFound), codes.NotFound, "not found: job j-1"},
		{"shared already exists", ErrAlreadyExists, codes.AlreadyExists, "already exists"},
		{"shared precondition", ErrFailedPrecondition, codes.FailedPrecondition, "failed precondition"},
		{"shared exhausted", ErrResourceExhausted, codes.ResourceExhausted, "resource exhausted"},
		{"shared aborted", ErrAborted, codes.Aborted, "aborted"},
		{"shared unavailable", ErrUnavailable, codes.Unavailable, "unavailable"},
		{"own before shared", errors.Join(ErrInvalid, errShadow), codes.DataLoss, "invalid argument\nshadow"},
		{"canceled", fmt.Errorf("ask: %w", context.Canceled), codes.Canceled, "ask: context canceled"},
		{"deadline", context.DeadlineExceeded, codes.DeadlineExceeded, "context deadline exceeded"},
		{"status passes", status.Error(codes.PermissionDenied, "no"), codes.PermissionDenied, "no"},
		{"unlisted", errors.New("boom"), codes.Internal, "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, ok := status.FromError(tab.Status(tc.err))
			if !ok || st.Code() != tc.code || st.Message() != tc.msg {
				t.Fatalf("Status(%v) = %v %q, want %v %q", tc.err, st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
	if err := tab.Status(nil); err != nil {
		t.Fatalf("Status(nil) = %v", err)
	}
	// The shared errors hold for a service with no table of its own.
	if c := status.Code(Table(nil).Status(ErrNotFound)); c != codes.NotFound {
		t.Fatalf("nil table: %v, want NotFound", c)
	}
}
