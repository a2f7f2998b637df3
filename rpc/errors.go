package rpc

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"

	"branchline/auth"
	"branchline/fault"
)

// ErrUnavailable marks failures where retrying later may succeed: the store
// is closing, the hub has no leader. It is fault.ErrUnavailable, which use
// cases return.
var ErrUnavailable = fault.ErrUnavailable

// Error maps an error to a Connect error: the one place where domain
// failures become status codes. Unexpected errors are logged and reach the
// client as "internal error", without details.
//
// Invalid input (*fault.Invalid) carries a google.rpc.BadRequest detail
// naming the field, with the stable code as the violation's reason, so
// that clients can show the message next to the field; errors that
// implement detailer carry their own details.
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
	case errors.Is(err, fault.ErrTooMany):
		code = connect.CodeResourceExhausted
	case errors.Is(err, fault.ErrPasswordChange):
		code = connect.CodeFailedPrecondition
	case errors.Is(err, context.Canceled):
		code = connect.CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		code = connect.CodeDeadlineExceeded
	case errors.Is(err, ErrUnavailable):
		code = connect.CodeUnavailable
	case errors.Is(err, fault.ErrExhausted):
		code = connect.CodeResourceExhausted
	}
	if code == connect.CodeInternal {
		log.Error("internal error", "err", err)
		return connect.NewError(code, errors.New("internal error"))
	}
	ce = connect.NewError(code, err)
	var details []proto.Message
	if inv, ok := fault.AsInvalid(err); ok {
		details = append(details, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: inv.Field, Description: inv.Detail, Reason: inv.Code},
		}})
	}
	var d detailer
	if errors.As(err, &d) {
		details = append(details, d.ErrorDetails()...)
	}
	for _, m := range details {
		if cd, derr := connect.NewErrorDetail(m); derr == nil {
			ce.AddDetail(cd)
		} else {
			log.Error("error detail", "err", derr)
		}
	}
	return ce
}

// detailer is an error that carries messages for the client, such as the
// customers a new one may duplicate.
type detailer interface {
	ErrorDetails() []proto.Message
}

func isInvalid(err error) bool {
	_, ok := fault.AsInvalid(err)
	return ok
}
