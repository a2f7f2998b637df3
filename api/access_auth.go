package api

import (
	"context"
	"strings"
	"time"

	"branchline/access"
	"branchline/auth"
	"branchline/replication"
)

// Adapters that let a node sign in and authorise replicated users.

// AccessDirectory checks the passwords of replicated users
// (access.Authenticate), so that they can log in at any node, offline too.
// Reserved usernames (access.Reserved: the node's own "admin") go to Local.
type AccessDirectory struct {
	Store Store
	Local Directory // the node's local accounts; nil: none
}

var _ Directory = AccessDirectory{}

// Login implements Directory. The principal of a replicated user has no
// roles: what it may do comes from Grants.
func (d AccessDirectory) Login(ctx context.Context, username, password string) (*auth.Principal, error) {
	if access.Reserved(username) {
		if d.Local == nil {
			auth.CheckUnknown(password)
			return nil, auth.ErrBadCredentials
		}
		return d.Local.Login(ctx, access.NormalizeUsername(username), password)
	}
	u, err := viewResult(d.Store, func(views replication.Tx) (*access.User, error) {
		return access.Authenticate(views, username, password)
	})
	if err != nil {
		return nil, err
	}
	return &auth.Principal{User: u.Username}, nil
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
		return viewResult(store, func(views replication.Tx) (*access.Grant, error) {
			return access.GrantFor(views, p.User, t)
		})
	}
}

// TokenVerifier verifies personal API tokens ("blp_…") against the
// replicated views and hands every other token to Signed, so that one
// RequireAuth interceptor accepts both.
type TokenVerifier struct {
	Store  Store
	Signed Verifier
}

var _ Verifier = TokenVerifier{}

// Verify implements Verifier.
func (v TokenVerifier) Verify(token string, now time.Time) (*auth.Principal, error) {
	if !strings.HasPrefix(token, access.TokenPrefix) {
		return v.Signed.Verify(token, now)
	}
	user, err := viewResult(v.Store, func(views replication.Tx) (string, error) {
		return access.TokenUser(views, token, now)
	})
	if err != nil {
		return nil, auth.ErrBadToken
	}
	return &auth.Principal{User: user}, nil
}
