package api

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"

	"branchline/auth"
	"branchline/fault"
)

// ErrUnavailable marks failures where retrying later may succeed: the store
// is closing, the hub has no leader.
var ErrUnavailable = errors.New("unavailable")

// Error maps an error to a Connect error: the one place where domain
// failures become status codes. Unexpected errors are logged and reach the
// client as "internal error", without details.
func Error(log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	code := connect.CodeInternal
	switch {
	case isInvalid(err):
		code = connect.CodeInvalidArgument
	case errors.Is(err, fault.ErrNotFound):
		code = connect.CodeNotFound
	case errors.Is(err, fault.ErrConflict):
		code = connect.CodeAlreadyExists
	case errors.Is(err, fault.ErrDenied):
		code = connect.CodePermissionDenied
	case errors.Is(err, fault.ErrUnauthenticated), errors.Is(err, auth.ErrBadToken):
		code = connect.CodeUnauthenticated
	case errors.Is(err, context.Canceled):
		code = connect.CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		code = connect.CodeDeadlineExceeded
	case errors.Is(err, ErrUnavailable):
		code = connect.CodeUnavailable
	}
	if code == connect.CodeInternal {
		log.Error("internal error", "err", err)
		return connect.NewError(code, errors.New("internal error"))
	}
	return connect.NewError(code, err)
}

func isInvalid(err error) bool {
	_, ok := fault.AsInvalid(err)
	return ok
}
