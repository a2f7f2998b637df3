package rpc

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	"branchline/auth"
	"branchline/gen/branchline/auth/v1/authv1connect"
)

// PublicProcedures are the procedures callable without a token: logging in.
var PublicProcedures = []string{authv1connect.AuthServiceLoginProcedure}

// Verifier checks bearer tokens.
type Verifier interface {
	Verify(token string, now time.Time) (*auth.Principal, error)
}

// ErrNoToken is the error of a call without a valid bearer token.
var ErrNoToken = errors.New(`missing or invalid "Authorization: Bearer <token>"`)

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
		return nil, connect.NewError(connect.CodeUnauthenticated, ErrNoToken)
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
