package accessapp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/crm/crmapp"
	"branchline/fault"
	"branchline/replication"
)

// Personal API tokens and the audit log.

func (s *Admin) token(id string) (*access.Token, error) {
	return app.Read(s.Store, func(views replication.Tx) (*access.Token, error) { return access.GetToken(views, id) })
}

// TokenCreate is a new personal API token of a user, expiring at Expires
// (zero: never).
type TokenCreate struct {
	User    string
	Name    string
	Expires time.Time
}

// CreateToken makes a token and returns it with its secret, which is
// shown this once and never stored.
func (s *Admin) CreateToken(ctx context.Context, c app.Caller, req TokenCreate) (*access.Token, string, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, "", err
	}
	if err := checkID("token.user", req.User); err != nil {
		return nil, "", err
	}
	now := s.Now.Time()
	if !req.Expires.IsZero() && !req.Expires.After(now) {
		return nil, "", fault.Invalidf("token.expire_time", "past", "must be in the future")
	}
	id := s.IDs.New(now)
	secret := access.NewTokenSecret()
	if err := s.change(ctx, c, access.ActionTokenCreated, tokenRes+id, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		d, err := access.CreateToken(views, id, req.User, req.Name, secret, req.Expires)
		return []replication.Draft{d}, access.AuditNote{Detail: fmt.Sprintf("for %s%s, %q", userRes, req.User, req.Name)}, err
	}); err != nil {
		return nil, "", err
	}
	t, err := s.token(id)
	return t, secret, err
}

// Tokens lists the tokens of a user ("": everyone's), the revoked ones too
// when revoked is set.
func (s *Admin) Tokens(_ context.Context, c app.Caller, user string, revoked bool) ([]*access.Token, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	if err := checkOptionalID("user", user); err != nil {
		return nil, err
	}
	ts, err := app.Read(s.Store, func(views replication.Tx) ([]*access.Token, error) { return access.ListTokens(views, user) })
	return slices.DeleteFunc(ts, func(t *access.Token) bool { return t.Revoked && !revoked }), err
}

// RevokeToken revokes a token, for good.
func (s *Admin) RevokeToken(ctx context.Context, c app.Caller, id string) (*access.Token, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	if err := checkID("name", id); err != nil {
		return nil, err
	}
	if err := s.change(ctx, c, access.ActionTokenRevoked, tokenRes+id, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		d, ok, err := access.RevokeToken(views, id)
		if err != nil || !ok {
			return nil, access.AuditNote{}, err
		}
		return []replication.Draft{d}, access.AuditNote{}, nil
	}); err != nil {
		return nil, err
	}
	return s.token(id)
}

// Audit reads a page of the audit log, newest first; it needs
// access.AuditRead.
func (s *Admin) Audit(_ context.Context, c app.Caller, q access.AuditQuery) (app.Page[access.AuditEntry], error) {
	if err := c.Require(access.AuditRead); err != nil {
		return app.Page[access.AuditEntry]{}, err
	}
	var err error
	if q.Limit, err = app.PageSize(q.Limit, 50); err != nil {
		return app.Page[access.AuditEntry]{}, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return app.Page[access.AuditEntry]{}, fault.Invalidf("end_time", "before_start", "must be after start_time")
	}
	page, err := app.Read(s.Store, func(views replication.Tx) (app.Page[access.AuditEntry], error) {
		es, next, err := access.ListAudit(views, q)
		if err != nil {
			return app.Page[access.AuditEntry]{}, err
		}
		return app.Page[access.AuditEntry]{Items: es, Next: next}, nameActors(views, es)
	})
	maskChanges(c, page.Items)
	return page, err
}

// nameActors fills in the names of the entries' actors: people are shown
// by their names; the log records usernames.
func nameActors(views replication.Tx, es []access.AuditEntry) error {
	names := map[string]string{}
	for i, e := range es {
		name, ok := names[e.Actor]
		if !ok {
			if u, err := access.UserByUsername(views, e.Actor); err == nil {
				name = u.DisplayName
			} else if !errors.Is(err, fault.ErrNotFound) {
				return err
			}
			names[e.Actor] = name
		}
		es[i].ActorName = name
	}
	return nil
}

// maskChanges masks the phone numbers the entries' edits changed as every
// page shows numbers away from a customer record: for callers without the
// phone permission.
func maskChanges(c app.Caller, es []access.AuditEntry) {
	for i := range es {
		for j, ch := range es[i].Changes {
			if ch.Phone {
				ch.Before, _ = crmapp.PhoneFor(c, ch.Before)
				ch.After, _ = crmapp.PhoneFor(c, ch.After)
				es[i].Changes[j] = ch
			}
		}
	}
}
