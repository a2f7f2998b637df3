package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access"
	"branchline/crm"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/gen/branchline/crm/v1/crmv1connect"
	"branchline/replication"
)

// MemberService implements branchline.crm.v1.MemberService on a node.
// Reads need access.CustomerRead, movements of points and balance and
// coupons access.CustomerWrite, level rules access.FieldAdmin (system
// parameters); each within the caller's data scope over the customer
// (owner, department).
type MemberService struct {
	Store  Store
	Grants Grants
	IDs    *replication.IDs // unused; kept so that every service is built alike
	Log    *slog.Logger
	// Now is the clock for tenure and coupon expiry; nil means time.Now.
	Now func() time.Time
}

var _ crmv1connect.MemberServiceHandler = (*MemberService)(nil)

// memberRecent is how many ledger entries a Membership shows.
const memberRecent = 20

func (s *MemberService) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// memberCustomerID returns the id of "customers/{id}".
func memberCustomerID(name string) (string, error) {
	id, ok := strings.CutPrefix(name, customerPrefix)
	if !ok || !replication.ValidULID(id) {
		return "", fault.Invalidf("customer", "bad_name", "%q is not a customer name (customers/{id})", name)
	}
	return id, nil
}

// memberReach fails unless perm's scope in g covers customer id (as it
// stands now, after merges).
func memberReach(views replication.Tx, g *access.Grant, perm access.Perm, id string) error {
	c, err := crm.GetCustomer(views, id)
	if err != nil {
		return err
	}
	if !g.Reaches(perm, c.Get("owner"), c.Get("department")) {
		return fmt.Errorf("customer %s is outside %s's data scope: %w", c.ID, g.User, fault.ErrDenied)
	}
	return nil
}

func memberTS(h replication.HLC) *timestamppb.Timestamp {
	if h == 0 {
		return nil
	}
	return timestamppb.New(h.Time())
}

func membershipToProto(views replication.Tx, id string, now time.Time) (*crmv1.Membership, error) {
	m, err := crm.GetMembership(views, id, now, memberRecent)
	if err != nil {
		return nil, err
	}
	c, err := crm.GetCustomer(views, m.Customer)
	if err != nil {
		return nil, err
	}
	policy, err := crm.CreditPolicyOf(views)
	if err != nil {
		return nil, err
	}
	// Unsettled amounts come with settlements; until then only the credit
	// level grades the warning.
	level, msg := policy.Warning(c, -1)
	out := &crmv1.Membership{
		Customer: customerPrefix + m.Customer, Points: m.Points, BalanceFen: m.Balance, SpentFen: m.Spent,
		Level: m.Level, TenureMonths: int32(m.TenureMonths), Warnings: m.Warnings(),
		CreditWarning: &crmv1.MemberCreditWarning{Level: level.Proto(), Message: msg},
	}
	for _, e := range m.Recent {
		out.Recent = append(out.Recent, &crmv1.MemberLedgerEntry{Kind: e.Kind, Amount: e.Amount, PurchaseFen: e.Purchase,
			Note: e.Note, Actor: e.Actor, Origin: e.Origin, Time: memberTS(e.At)})
	}
	return out, nil
}

func couponToProto(c *crm.Coupon) *crmv1.Coupon {
	red := func(r *crmv1.CouponRedemptionRecord) *crmv1.CouponRedemption {
		return &crmv1.CouponRedemption{Actor: r.GetActor(), Origin: r.GetOrigin(), Note: r.GetNote(), Time: memberTS(replication.HLC(r.GetHlc()))}
	}
	out := &crmv1.Coupon{
		Code: c.GetCode(), Kind: c.GetKind(), ValueFen: c.GetValueFen(), Note: c.GetNote(),
		IssuedBy: c.GetActor(), Origin: c.GetOrigin(), IssueTime: memberTS(replication.HLC(c.GetHlc())), State: c.State,
	}
	if c.Customer != "" {
		out.Customer = customerPrefix + c.Customer
	}
	if ms := c.GetExpireMs(); ms > 0 {
		out.ExpireTime = timestamppb.New(time.UnixMilli(ms))
	}
	if c.Redemption != nil {
		out.Redemption = red(c.Redemption)
	}
	for _, r := range c.Rejected {
		out.Rejected = append(out.Rejected, red(r))
	}
	return out
}

// membership answers with the membership of customer id.
func (s *MemberService) membership(id string) (*connect.Response[crmv1.Membership], error) {
	now := s.now()
	var out *crmv1.Membership
	err := s.Store.View(func(views replication.Tx) error {
		var err error
		out, err = membershipToProto(views, id, now)
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}

// GetMembership implements MemberService.GetMembership.
func (s *MemberService) GetMembership(ctx context.Context, req *connect.Request[crmv1.GetMembershipRequest]) (*connect.Response[crmv1.Membership], error) {
	g, err := Require(ctx, s.Grants, access.CustomerRead)
	if err != nil {
		return nil, err
	}
	id, err := memberCustomerID(req.Msg.GetCustomer())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	if err := s.Store.View(func(views replication.Tx) error { return memberReach(views, g, access.CustomerRead, id) }); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.membership(id)
}

// move runs a movement of points or balance on the customer named, within
// the caller's scope, and answers with the membership.
func (s *MemberService) move(ctx context.Context, name string, decide func(views replication.Tx, id string) (replication.Draft, error)) (*connect.Response[crmv1.Membership], error) {
	g, err := Require(ctx, s.Grants, access.CustomerWrite)
	if err != nil {
		return nil, err
	}
	id, err := memberCustomerID(name)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	if _, err := s.Store.Exec(ctx, g.User, func(views replication.Tx) ([]replication.Draft, error) {
		if err := memberReach(views, g, access.CustomerWrite, id); err != nil {
			return nil, err
		}
		d, err := decide(views, id)
		return []replication.Draft{d}, err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.membership(id)
}

// EarnPoints implements MemberService.EarnPoints.
func (s *MemberService) EarnPoints(ctx context.Context, req *connect.Request[crmv1.EarnPointsRequest]) (*connect.Response[crmv1.Membership], error) {
	m := req.Msg
	return s.move(ctx, m.GetCustomer(), func(views replication.Tx, id string) (replication.Draft, error) {
		return crm.EarnPoints(views, id, m.GetPoints(), m.GetPurchaseFen(), m.GetNote())
	})
}

// RedeemPoints implements MemberService.RedeemPoints.
func (s *MemberService) RedeemPoints(ctx context.Context, req *connect.Request[crmv1.RedeemPointsRequest]) (*connect.Response[crmv1.Membership], error) {
	m := req.Msg
	return s.move(ctx, m.GetCustomer(), func(views replication.Tx, id string) (replication.Draft, error) {
		return crm.RedeemPoints(views, id, m.GetPoints(), m.GetNote())
	})
}

// TopUp implements MemberService.TopUp.
func (s *MemberService) TopUp(ctx context.Context, req *connect.Request[crmv1.TopUpRequest]) (*connect.Response[crmv1.Membership], error) {
	m := req.Msg
	return s.move(ctx, m.GetCustomer(), func(views replication.Tx, id string) (replication.Draft, error) {
		return crm.TopUp(views, id, m.GetAmountFen(), m.GetNote())
	})
}

// Spend implements MemberService.Spend.
func (s *MemberService) Spend(ctx context.Context, req *connect.Request[crmv1.SpendRequest]) (*connect.Response[crmv1.Membership], error) {
	m := req.Msg
	return s.move(ctx, m.GetCustomer(), func(views replication.Tx, id string) (replication.Draft, error) {
		return crm.Spend(views, id, m.GetAmountFen(), m.GetNote())
	})
}

// coupon answers with coupon code.
func (s *MemberService) coupon(code string) (*connect.Response[crmv1.Coupon], error) {
	now := s.now()
	var out *crm.Coupon
	err := s.Store.View(func(views replication.Tx) error {
		var err error
		out, err = crm.GetCoupon(views, code, now)
		return err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(couponToProto(out)), nil
}

// IssueCoupon implements MemberService.IssueCoupon.
func (s *MemberService) IssueCoupon(ctx context.Context, req *connect.Request[crmv1.IssueCouponRequest]) (*connect.Response[crmv1.Coupon], error) {
	g, err := Require(ctx, s.Grants, access.CustomerWrite)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	id, err := memberCustomerID(m.GetCustomer())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	var expire time.Time
	if m.GetExpireTime() != nil {
		if err := m.GetExpireTime().CheckValid(); err != nil {
			return nil, Error(s.Log, fault.Invalidf("expire_time", "bad_time", "%v", err))
		}
		expire = m.GetExpireTime().AsTime()
	}
	now := s.now()
	evs, err := s.Store.Exec(ctx, g.User, func(views replication.Tx) ([]replication.Draft, error) {
		if err := memberReach(views, g, access.CustomerWrite, id); err != nil {
			return nil, err
		}
		d, err := crm.IssueCoupon(views, id, m.GetKind(), m.GetValueFen(), expire, m.GetNote(), now)
		return []replication.Draft{d}, err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	if len(evs) != 1 {
		return nil, Error(s.Log, fmt.Errorf("issue coupon: %d events recorded", len(evs)))
	}
	return s.coupon(crm.CouponCode(evs[0]))
}

// RedeemCoupon implements MemberService.RedeemCoupon. A coupon this node
// knows redeemed is refused (AlreadyExists); one redeemed concurrently at
// another node is settled when the nodes sync (see crm, coupons).
func (s *MemberService) RedeemCoupon(ctx context.Context, req *connect.Request[crmv1.RedeemCouponRequest]) (*connect.Response[crmv1.Coupon], error) {
	g, err := Require(ctx, s.Grants, access.CustomerWrite)
	if err != nil {
		return nil, err
	}
	code, err := crm.NormalizeCouponCode(req.Msg.GetCode())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	now := s.now()
	if _, err := s.Store.Exec(ctx, g.User, func(views replication.Tx) ([]replication.Draft, error) {
		c, err := crm.GetCoupon(views, code, now)
		if err != nil {
			return nil, err
		}
		if err := memberReach(views, g, access.CustomerWrite, c.Customer); err != nil {
			return nil, err
		}
		d, err := crm.RedeemCoupon(views, code, req.Msg.GetNote(), now)
		return []replication.Draft{d}, err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.coupon(code)
}

// ListCoupons implements MemberService.ListCoupons.
func (s *MemberService) ListCoupons(ctx context.Context, req *connect.Request[crmv1.ListCouponsRequest]) (*connect.Response[crmv1.ListCouponsResponse], error) {
	g, err := Require(ctx, s.Grants, access.CustomerRead)
	if err != nil {
		return nil, err
	}
	id, err := memberCustomerID(req.Msg.GetCustomer())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	size, err := pageSize(req.Msg.GetPageSize(), 50)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	after := req.Msg.GetPageToken()
	if after != "" {
		if after, err = crm.NormalizeCouponCode(after); err != nil {
			return nil, Error(s.Log, fault.Invalidf("page_token", "bad_token", "not a page token of this list"))
		}
	}
	now := s.now()
	var cs []*crm.Coupon
	if err := s.Store.View(func(views replication.Tx) error {
		if err := memberReach(views, g, access.CustomerRead, id); err != nil {
			return err
		}
		cs, err = crm.ListCoupons(views, id, after, size+1, now)
		return err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	resp := &crmv1.ListCouponsResponse{}
	if len(cs) > size {
		cs = cs[:size]
		resp.NextPageToken = cs[size-1].GetCode()
	}
	for _, c := range cs {
		resp.Coupons = append(resp.Coupons, couponToProto(c))
	}
	return connect.NewResponse(resp), nil
}

// ListConflicts implements MemberService.ListConflicts. Conflicts of
// customers outside the caller's scope are left out of the page.
func (s *MemberService) ListConflicts(ctx context.Context, req *connect.Request[crmv1.ListMemberConflictsRequest]) (*connect.Response[crmv1.ListMemberConflictsResponse], error) {
	g, err := Require(ctx, s.Grants, access.CustomerRead)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(req.Msg.GetPageSize(), 50)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	now := s.now()
	resp := &crmv1.ListMemberConflictsResponse{}
	err = s.Store.View(func(views replication.Tx) error {
		cs, err := crm.ListConflicts(views, req.Msg.GetPageToken(), size+1, now)
		if err != nil {
			return err
		}
		if len(cs) > size {
			cs = cs[:size]
			resp.NextPageToken = cs[size-1].Key
		}
		for _, c := range cs {
			if c.Customer != "" {
				if err := memberReach(views, g, access.CustomerRead, c.Customer); err != nil {
					if _, ok := fault.AsInvalid(err); ok || isDeniedOrMissing(err) {
						continue
					}
					return err
				}
			}
			out := &crmv1.MemberConflict{Kind: c.Kind, Amount: c.Amount}
			if c.Customer != "" {
				out.Customer = customerPrefix + c.Customer
			}
			if c.Coupon != nil {
				out.Coupon = couponToProto(c.Coupon)
			}
			resp.Conflicts = append(resp.Conflicts, out)
		}
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(resp), nil
}

func isDeniedOrMissing(err error) bool {
	return errors.Is(err, fault.ErrDenied) || errors.Is(err, fault.ErrNotFound)
}

func (s *MemberService) levelRules() (*connect.Response[crmv1.LevelRules], error) {
	var out *crmv1.LevelRules
	err := s.Store.View(func(views replication.Tx) error {
		r, stamp, err := crm.GetLevelRules(views)
		if err != nil {
			return err
		}
		out = r
		out.UpdateTime = memberTS(stamp.HLC)
		return nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}

// DefineLevelRules implements MemberService.DefineLevelRules.
func (s *MemberService) DefineLevelRules(ctx context.Context, req *connect.Request[crmv1.DefineLevelRulesRequest]) (*connect.Response[crmv1.LevelRules], error) {
	g, err := Require(ctx, s.Grants, access.FieldAdmin)
	if err != nil {
		return nil, err
	}
	if _, err := s.Store.Exec(ctx, g.User, func(views replication.Tx) ([]replication.Draft, error) {
		d, err := crm.DefineLevelRules(views, req.Msg.GetRules())
		return []replication.Draft{d}, err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return s.levelRules()
}

// GetLevelRules implements MemberService.GetLevelRules.
func (s *MemberService) GetLevelRules(ctx context.Context, _ *connect.Request[crmv1.GetLevelRulesRequest]) (*connect.Response[crmv1.LevelRules], error) {
	if _, err := Require(ctx, s.Grants, access.CustomerRead); err != nil {
		return nil, err
	}
	return s.levelRules()
}
