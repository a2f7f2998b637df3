package api

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access"
	"branchline/fault"
	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/replication"
)

// Personal API tokens and the audit log of the AccessService.

func tokenToProto(t *access.Token) *accessv1.APIToken {
	out := &accessv1.APIToken{
		Name: tokenRes + t.ID, User: userRes + t.User, DisplayName: t.Name, Revoked: t.Revoked,
		Origin: t.Origin, CreateTime: accessTS(t.Created),
	}
	if !t.Expires.IsZero() {
		out.ExpireTime = timestamppb.New(t.Expires)
	}
	return out
}

func (s *AccessService) token(id string) (*accessv1.APIToken, error) {
	t, err := viewResult(s.Store, func(views replication.Tx) (*access.Token, error) { return access.GetToken(views, id) })
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return tokenToProto(t), nil
}

// CreateAPIToken implements AccessService.CreateAPIToken.
func (s *AccessService) CreateAPIToken(ctx context.Context, req *connect.Request[accessv1.CreateAPITokenRequest]) (*connect.Response[accessv1.CreateAPITokenResponse], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	in := req.Msg.GetToken()
	if in == nil {
		return nil, Error(s.Log, fault.Invalidf("token", "required", "is required"))
	}
	user, err := accessID("token.user", in.GetUser(), userRes)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	now := time.Now()
	var expires time.Time
	if in.GetExpireTime() != nil {
		if err := in.GetExpireTime().CheckValid(); err != nil {
			return nil, Error(s.Log, fault.Invalidf("token.expire_time", "bad_time", "%v", err))
		}
		if expires = in.GetExpireTime().AsTime(); !expires.After(now) {
			return nil, Error(s.Log, fault.Invalidf("token.expire_time", "past", "must be in the future"))
		}
	}
	id := s.IDs.New(now)
	secret := access.NewTokenSecret()
	err = s.change(ctx, req.Peer(), access.ActionTokenCreated, tokenRes+id, func(views replication.Tx) ([]replication.Draft, string, error) {
		d, err := access.CreateToken(views, id, user, in.GetDisplayName(), secret, expires)
		return []replication.Draft{d}, fmt.Sprintf("for %s%s, %q", userRes, user, in.GetDisplayName()), err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	t, err := s.token(id)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&accessv1.CreateAPITokenResponse{Token: t, Secret: secret}), nil
}

// ListAPITokens implements AccessService.ListAPITokens.
func (s *AccessService) ListAPITokens(ctx context.Context, req *connect.Request[accessv1.ListAPITokensRequest]) (*connect.Response[accessv1.ListAPITokensResponse], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	user, err := accessOptionalID("user", req.Msg.GetUser(), userRes)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	ts, err := viewResult(s.Store, func(views replication.Tx) ([]*access.Token, error) { return access.ListTokens(views, user) })
	if err != nil {
		return nil, Error(s.Log, err)
	}
	resp := &accessv1.ListAPITokensResponse{}
	for _, t := range ts {
		if !t.Revoked || req.Msg.GetShowRevoked() {
			resp.Tokens = append(resp.Tokens, tokenToProto(t))
		}
	}
	return connect.NewResponse(resp), nil
}

// RevokeAPIToken implements AccessService.RevokeAPIToken.
func (s *AccessService) RevokeAPIToken(ctx context.Context, req *connect.Request[accessv1.RevokeAPITokenRequest]) (*connect.Response[accessv1.APIToken], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	id, err := accessID("name", req.Msg.GetName(), tokenRes)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	err = s.change(ctx, req.Peer(), access.ActionTokenRevoked, tokenRes+id, func(views replication.Tx) ([]replication.Draft, string, error) {
		d, ok, err := access.RevokeToken(views, id)
		if err != nil || !ok {
			return nil, "", err
		}
		return []replication.Draft{d}, "", nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	t, err := s.token(id)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(t), nil
}

// ListAudit implements AccessService.ListAudit.
func (s *AccessService) ListAudit(ctx context.Context, req *connect.Request[accessv1.ListAuditRequest]) (*connect.Response[accessv1.ListAuditResponse], error) {
	if err := s.require(ctx, access.AuditRead); err != nil {
		return nil, err
	}
	size, err := pageSize(req.Msg.GetPageSize(), 50)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	q := access.AuditQuery{Action: req.Msg.GetAction(), Actor: req.Msg.GetActor(), After: req.Msg.GetPageToken(), Limit: size}
	for _, t := range []struct {
		field string
		in    *timestamppb.Timestamp
		out   *time.Time
	}{{"start_time", req.Msg.GetStartTime(), &q.From}, {"end_time", req.Msg.GetEndTime(), &q.To}} {
		if t.in == nil {
			continue
		}
		if err := t.in.CheckValid(); err != nil {
			return nil, Error(s.Log, fault.Invalidf(t.field, "bad_time", "%v", err))
		}
		*t.out = t.in.AsTime()
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return nil, Error(s.Log, fault.Invalidf("end_time", "before_start", "must be after start_time"))
	}
	type page struct {
		entries []access.AuditEntry
		next    string
	}
	p, err := viewResult(s.Store, func(views replication.Tx) (page, error) {
		es, next, err := access.ListAudit(views, q)
		return page{es, next}, err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	resp := &accessv1.ListAuditResponse{NextPageToken: p.next}
	for _, e := range p.entries {
		resp.Entries = append(resp.Entries, &accessv1.AuditEntry{
			Time: accessTS(e.At), Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail,
			Node: e.Node, Remote: e.Remote, Origin: e.Origin,
		})
	}
	return connect.NewResponse(resp), nil
}
