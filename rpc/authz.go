package rpc

import (
	"context"

	"connectrpc.com/connect"

	"branchline/auth"
	"branchline/fault"
)

// RequireAdmin fails unless the caller is an administrator: for the
// services whose only users are administrators (a hub's).
func RequireAdmin(ctx context.Context) error {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return connect.NewError(connect.CodeUnauthenticated, ErrNoToken)
	}
	if !p.HasRole(auth.RoleAdmin) {
		return connect.NewError(connect.CodePermissionDenied, fault.ErrDenied)
	}
	return nil
}
