package api

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"connectrpc.com/connect"

	"branchline/access"
	"branchline/auth"
	"branchline/fault"
)

// Grants resolves what a verified caller may do right now. The node
// computes it from the replicated users and roles (and gives its local
// administrator everything).
type Grants func(ctx context.Context, p *auth.Principal) (*access.Grant, error)

// Require returns the caller's grant if it allows perm, and a
// PermissionDenied (or Unauthenticated) error otherwise. Handlers call it
// before doing anything.
func Require(ctx context.Context, grants Grants, perm access.Perm) (*access.Grant, error) {
	return RequireAny(ctx, grants, perm)
}

// RequireAny is Require for callers who may hold any one of perms: the
// grant, which says which of them the caller holds, or the error.
func RequireAny(ctx context.Context, grants Grants, perms ...access.Perm) (*access.Grant, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return nil, connect.NewError(connect.CodeUnauthenticated, errNoToken)
	}
	g, err := grants(ctx, p)
	if err != nil {
		return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: %v", fault.ErrDenied, err))
	}
	if !slices.ContainsFunc(perms, g.Can) {
		return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%w: %s needs permission %s", fault.ErrDenied, p.User, permList(perms)))
	}
	return g, nil
}

// permList names perms for an error: "a", or "a or b".
func permList(perms []access.Perm) string {
	names := make([]string, len(perms))
	for i, p := range perms {
		names[i] = string(p)
	}
	return strings.Join(names, " or ")
}

// AdminGrants gives callers with the admin role everything and others
// nothing: for services with only administrators as users.
func AdminGrants(_ context.Context, p *auth.Principal) (*access.Grant, error) {
	if p.HasRole(auth.RoleAdmin) {
		return access.Superuser(p.User), nil
	}
	return &access.Grant{User: p.User}, nil
}
