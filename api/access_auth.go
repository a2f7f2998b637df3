package api

import (
	"context"
	"strings"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/auth"
	"branchline/replication"
	"branchline/rpc"
)

// Adapters that let a node sign in replicated users.

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
	u, err := app.Read(d.Store, func(views replication.Tx) (*access.User, error) {
		return access.Authenticate(views, username, password)
	})
	if err != nil {
		return nil, err
	}
	return &auth.Principal{User: u.Username}, nil
}

// TokenVerifier verifies personal API tokens ("blp_…") against the
// replicated views and hands every other token to Signed, so that one
// RequireAuth interceptor accepts both.
type TokenVerifier struct {
	Store  Store
	Signed rpc.Verifier
}

var _ rpc.Verifier = TokenVerifier{}

// Verify implements Verifier.
func (v TokenVerifier) Verify(token string, now time.Time) (*auth.Principal, error) {
	if !strings.HasPrefix(token, access.TokenPrefix) {
		return v.Signed.Verify(token, now)
	}
	user, err := app.Read(v.Store, func(views replication.Tx) (string, error) {
		return access.TokenUser(views, token, now)
	})
	if err != nil {
		return nil, auth.ErrBadToken
	}
	return &auth.Principal{User: user}, nil
}
