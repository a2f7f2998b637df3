package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"branchline/access"
	"branchline/auth"
	"branchline/fault"
	"branchline/replication"
)

// Caller is who runs a use case: their grant (user, permissions and data
// scopes, resolved for this request) and where they called from.
type Caller struct {
	*access.Grant
	// Remote is the client's network address, recorded with the audit
	// entries the caller's changes make.
	Remote string
}

// Require returns nil if the caller holds one of perms, and an error
// wrapping fault.ErrDenied that names them otherwise. Every use case calls
// it before it looks at its request.
func (c Caller) Require(perms ...access.Perm) error {
	if c.Grant != nil && slices.ContainsFunc(perms, c.Can) {
		return nil
	}
	names := make([]string, len(perms))
	for i, p := range perms {
		names[i] = string(p)
	}
	return fmt.Errorf("%w: %s needs permission %s", fault.ErrDenied, c.user(), strings.Join(names, " or "))
}

func (c Caller) user() string {
	if c.Grant == nil {
		return "nobody"
	}
	return c.User
}

// Grants resolves what a verified caller may do right now. A node computes
// it from the replicated users and roles (AccessGrants); a hub gives its
// cluster administrator everything (AdminGrants).
type Grants func(ctx context.Context, p *auth.Principal) (*access.Grant, error)

// errNoGrants refuses everything when an adapter was built without a way
// to resolve grants.
var errNoGrants = errors.New("no grants configured")

// CallerOf resolves the caller ctx carries (auth.WithPrincipal, and the
// client's address of auth.WithRemoteAddr) through grants. It fails with
// fault.ErrUnauthenticated when ctx carries no caller and with
// fault.ErrDenied when the caller's account cannot act (disabled,
// removed, outside its time windows).
func CallerOf(ctx context.Context, grants Grants) (Caller, error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return Caller{}, fmt.Errorf("%w: no verified caller", fault.ErrUnauthenticated)
	}
	if grants == nil {
		grants = func(context.Context, *auth.Principal) (*access.Grant, error) { return nil, errNoGrants }
	}
	g, err := grants(ctx, p)
	if err != nil {
		return Caller{}, fmt.Errorf("%w: %v", fault.ErrDenied, err)
	}
	return Caller{Grant: g, Remote: auth.RemoteAddrFrom(ctx)}, nil
}

// AccessGrants returns the Grants of a node: a caller with the admin role
// (the node's local administrator) may do everything, and anyone else what
// their roles allow at the time of the call (access.GrantFor). now is the
// clock; nil means time.Now.
func AccessGrants(store Store, now func() time.Time) Grants {
	if now == nil {
		now = time.Now
	}
	return func(_ context.Context, p *auth.Principal) (*access.Grant, error) {
		if p.HasRole(auth.RoleAdmin) {
			return access.Superuser(p.User), nil
		}
		t := now()
		return Read(store, func(views replication.Tx) (*access.Grant, error) {
			return access.GrantFor(views, p.User, t)
		})
	}
}

// AdminGrants gives callers with the admin role everything and others
// nothing: for servers whose only users are administrators (a hub).
func AdminGrants(_ context.Context, p *auth.Principal) (*access.Grant, error) {
	if p.HasRole(auth.RoleAdmin) {
		return access.Superuser(p.User), nil
	}
	return &access.Grant{User: p.User}, nil
}

// Throttle slows down password guessing: logins, and users changing their
// own password (access.Throttle implements it).
type Throttle interface {
	// Allow returns how long the caller must wait before trying again, or 0.
	Allow(user, remote string, now time.Time) time.Duration
	// Result records an attempt's outcome.
	Result(user, remote string, ok bool, now time.Time)
}
