package api

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	"branchline/app"
	"branchline/auth"
	"branchline/fault"
	"branchline/gen/branchline/auth/v1/authv1connect"
)

// passwordGate refuses every call of a user who must set a new password
// (access.Grant.MustChangePassword) but the call that sets it, before the
// handler runs: such a user does nothing else until they have.
type passwordGate struct{ grants app.Grants }

// RequirePasswordChanged returns an interceptor, placed after RequireAuth,
// that answers every call of a user who must change their password with
// failed_precondition and a message saying so, but AuthService's
// ChangePassword (and the public procedures, which have no caller).
func RequirePasswordChanged(grants app.Grants) connect.Interceptor { return passwordGate{grants} }

func (g passwordGate) check(ctx context.Context, procedure string) error {
	if procedure == authv1connect.AuthServiceChangePasswordProcedure {
		return nil
	}
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return nil // a public procedure
	}
	gr, err := g.grants(ctx, p)
	if err != nil {
		return nil // disabled or unknown: the handler's permission check refuses
	}
	if gr.MustChangePassword {
		return connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("%w: set a new one with %s", fault.ErrPasswordChange, authv1connect.AuthServiceChangePasswordProcedure))
	}
	return nil
}

func (g passwordGate) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		if err := g.check(ctx, req.Spec().Procedure); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (g passwordGate) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (g passwordGate) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := g.check(ctx, conn.Spec().Procedure); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
