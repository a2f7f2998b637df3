package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	"branchline/app"
	"branchline/auth"
	"branchline/fault"
	"branchline/gen/branchline/auth/v1/authv1connect"
)

// Verifier checks bearer tokens.
type Verifier interface {
	Verify(token string, now time.Time) (*auth.Principal, error)
}

var errNoToken = errors.New(`missing or invalid "Authorization: Bearer <token>"`)

// BearerToken extracts the token of an "Authorization: Bearer" header.
func BearerToken(h http.Header) (string, bool) {
	v := h.Get("Authorization")
	tok, ok := strings.CutPrefix(v, "Bearer ")
	tok = strings.TrimSpace(tok)
	return tok, ok && tok != ""
}

// authInterceptor refuses every call without a valid bearer token, except
// the public procedures, before the handler runs: nothing is done for an
// unauthenticated caller.
type authInterceptor struct {
	v      Verifier
	public map[string]bool
	now    func() time.Time
}

// RequireAuth returns an interceptor that verifies bearer tokens with v
// on every procedure but the public ones ("/pkg.Service/Method").
func RequireAuth(v Verifier, public ...string) connect.Interceptor {
	m := map[string]bool{}
	for _, p := range public {
		m[p] = true
	}
	return &authInterceptor{v: v, public: m, now: time.Now}
}

func (a *authInterceptor) check(ctx context.Context, procedure string, h http.Header) (context.Context, error) {
	if a.public[procedure] {
		return ctx, nil
	}
	tok, ok := BearerToken(h)
	if !ok {
		return nil, connect.NewError(connect.CodeUnauthenticated, errNoToken)
	}
	p, err := a.v.Verify(tok, a.now())
	if err != nil {
		return nil, connect.NewError(connect.CodeUnauthenticated, auth.ErrBadToken)
	}
	return auth.WithPrincipal(ctx, p), nil
}

func (a *authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		ctx, err := a.check(ctx, req.Spec().Procedure, req.Header())
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (a *authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (a *authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := a.check(ctx, conn.Spec().Procedure, conn.RequestHeader())
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// bearer adds a token to every outgoing call.
type bearer string

// WithBearer returns a client option that sends token on every call.
func WithBearer(token string) connect.ClientOption {
	return connect.WithInterceptors(bearer(token))
}

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

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
