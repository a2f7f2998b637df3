package api

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/app"
	"branchline/fault"
	"branchline/rpc"
)

// call is the one shape of a handler: resolve the caller of req (verified
// by RequireAuth) and what they may do, run the use case fn translates the
// request into, and map its failure to a Connect code (Error). The use
// case checks the caller's permission before it looks at the request, so
// fn's translation of the message must not fail: what does not parse
// travels on for the use case to refuse.
func call[Req, Res any](ctx context.Context, grants app.Grants, log *slog.Logger, req *connect.Request[Req], fn func(c app.Caller, m *Req) (*Res, error)) (*connect.Response[Res], error) {
	c, err := app.CallerOf(ctx, grants)
	if err != nil {
		return nil, rpc.Error(log, err)
	}
	if c.Remote == "" {
		c.Remote = req.Peer().Addr
	}
	out, err := fn(c, req.Msg)
	if err != nil {
		return nil, rpc.Error(log, err)
	}
	return connect.NewResponse(out), nil
}

// pb lifts a conversion to a message over a use case's failure, as in
// pb(customerPB)(s.App.Get(ctx, c, id)).
func pb[T, P any](conv func(T) P) func(T, error) (P, error) {
	return func(x T, err error) (P, error) {
		if err != nil {
			var zero P
			return zero, err
		}
		return conv(x), nil
	}
}

// ts is a time for a message, nil for none: the one conversion of the
// times results carry.
func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// timeOf is a message's time, zero for none.
func timeOf(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

// nameID is the id a resource name "<prefix><id>" names. A name without
// the prefix names nothing: it is passed on marked so that no id format
// accepts it, for the use case, which checks the caller's permission
// first, to refuse ("01J… (not customers/{id})" is not a customer).
func nameID(prefix, name string) string {
	if id, ok := strings.CutPrefix(name, prefix); ok || name == "" {
		return id
	}
	return name + " (not " + prefix + "{id})"
}

// ref is the resource name of id, "" for none.
func ref(prefix, id string) string {
	if id == "" {
		return ""
	}
	return prefix + id
}

// validTime is a message's time, zero for none; a time out of range is
// refused as the named field.
func validTime(field string, t *timestamppb.Timestamp) (time.Time, error) {
	if t == nil {
		return time.Time{}, nil
	}
	if err := t.CheckValid(); err != nil {
		return time.Time{}, fault.Invalidf(field, "bad_time", "%v", err)
	}
	return t.AsTime(), nil
}

// each converts every element of xs: a list of results into the list of
// a response message.
func each[T, P any](xs []T, conv func(T) P) []P {
	out := make([]P, len(xs))
	for i, x := range xs {
		out[i] = conv(x)
	}
	return out
}
