package api

import (
	"context"
	"fmt"
	"strings"

	"connectrpc.com/connect"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/app"
	accessv1 "branchline/gen/branchline/access/v1"
)

// Personal API tokens and the audit log of the AccessService.

func tokenPB(t *access.Token) *accessv1.APIToken {
	return &accessv1.APIToken{
		Name: tokenRes + t.ID, User: userRes + t.User, DisplayName: t.Name, Revoked: t.Revoked,
		Origin: t.Origin, CreateTime: ts(app.When(t.Created)), ExpireTime: ts(t.Expires),
	}
}

// CreateAPIToken implements AccessService.CreateAPIToken.
func (s *AccessService) CreateAPIToken(ctx context.Context, req *connect.Request[accessv1.CreateAPITokenRequest]) (*connect.Response[accessv1.CreateAPITokenResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.CreateAPITokenRequest) (*accessv1.CreateAPITokenResponse, error) {
		in := m.GetToken()
		expires, err := validTime("token.expire_time", in.GetExpireTime())
		if err != nil {
			return nil, err
		}
		t, secret, err := s.App.CreateToken(ctx, c, accessapp.TokenCreate{User: nameID(userRes, in.GetUser()), Name: in.GetDisplayName(), Expires: expires})
		if err != nil {
			return nil, err
		}
		return &accessv1.CreateAPITokenResponse{Token: tokenPB(t), Secret: secret}, nil
	})
}

// ListAPITokens implements AccessService.ListAPITokens.
func (s *AccessService) ListAPITokens(ctx context.Context, req *connect.Request[accessv1.ListAPITokensRequest]) (*connect.Response[accessv1.ListAPITokensResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.ListAPITokensRequest) (*accessv1.ListAPITokensResponse, error) {
		return pb(func(ts []*access.Token) *accessv1.ListAPITokensResponse {
			return &accessv1.ListAPITokensResponse{Tokens: each(ts, tokenPB)}
		})(s.App.Tokens(ctx, c, optionalID(userRes, m.GetUser()), m.GetShowRevoked()))
	})
}

// RevokeAPIToken implements AccessService.RevokeAPIToken.
func (s *AccessService) RevokeAPIToken(ctx context.Context, req *connect.Request[accessv1.RevokeAPITokenRequest]) (*connect.Response[accessv1.APIToken], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.RevokeAPITokenRequest) (*accessv1.APIToken, error) {
		return pb(tokenPB)(s.App.RevokeToken(ctx, c, nameID(tokenRes, m.GetName())))
	})
}

// ListAudit implements AccessService.ListAudit.
func (s *AccessService) ListAudit(ctx context.Context, req *connect.Request[accessv1.ListAuditRequest]) (*connect.Response[accessv1.ListAuditResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.ListAuditRequest) (*accessv1.ListAuditResponse, error) {
		q := access.AuditQuery{Action: m.GetAction(), Actor: m.GetActor(), After: m.GetPageToken(), Limit: int(m.GetPageSize())}
		var err error
		if q.From, err = validTime("start_time", m.GetStartTime()); err != nil {
			return nil, err
		}
		if q.To, err = validTime("end_time", m.GetEndTime()); err != nil {
			return nil, err
		}
		return pb(func(p app.Page[access.AuditEntry]) *accessv1.ListAuditResponse {
			out := &accessv1.ListAuditResponse{NextPageToken: p.Next}
			for _, e := range p.Items {
				ae := &accessv1.AuditEntry{Time: ts(app.When(e.At)), Actor: e.Actor, Action: e.Action,
					Target: e.Target, Detail: e.Detail, Node: e.Node, Remote: e.Remote, Origin: e.Origin}
				words := make([]string, 0, len(e.Changes)+1)
				if e.Detail != "" {
					words = append(words, e.Detail)
				}
				for _, ch := range e.Changes {
					ae.Changes = append(ae.Changes, &accessv1.AuditEntryChange{Field: ch.Field, Before: ch.Before, After: ch.After})
					words = append(words, fmt.Sprintf("%s %q → %q", ch.Field, ch.Before, ch.After))
				}
				ae.Detail = strings.Join(words, "; ")
				out.Entries = append(out.Entries, ae)
			}
			return out
		})(s.App.Audit(ctx, c, q))
	})
}
