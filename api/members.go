package api

import (
	"context"
	"log/slog"

	"connectrpc.com/connect"

	"branchline/app"
	"branchline/crm/crmapp"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/gen/branchline/crm/v1/crmv1connect"
)

// MemberService implements branchline.crm.v1.MemberService on a node over
// the membership use cases (crmapp.Members).
type MemberService struct {
	App    *crmapp.Members
	Grants app.Grants
	Log    *slog.Logger
}

var _ crmv1connect.MemberServiceHandler = (*MemberService)(nil)

func membershipPB(m *crmapp.Membership) *crmv1.Membership {
	out := &crmv1.Membership{
		Customer: customerPrefix + m.Customer, Points: m.Points, BalanceFen: m.Balance, SpentFen: m.Spent,
		Level: m.Level, TenureMonths: int32(m.TenureMonths), Warnings: m.Warnings,
		CreditWarning: &crmv1.MemberCreditWarning{Level: m.Credit.Proto(), Message: m.CreditMessage},
	}
	for _, e := range m.Recent {
		out.Recent = append(out.Recent, &crmv1.MemberLedgerEntry{Kind: e.Kind, Amount: e.Amount, PurchaseFen: e.Purchase,
			Note: e.Note, Actor: e.Actor, Origin: e.Origin, Time: ts(e.Time)})
	}
	return out
}

func couponPB(c *crmapp.Coupon) *crmv1.Coupon {
	red := func(r crmapp.Redemption) *crmv1.CouponRedemption {
		return &crmv1.CouponRedemption{Actor: r.Actor, Origin: r.Origin, Note: r.Note, Time: ts(r.Time)}
	}
	out := &crmv1.Coupon{
		Code: c.Code, Kind: c.Kind, ValueFen: c.Value, Note: c.Note, IssuedBy: c.IssuedBy, Origin: c.Origin,
		IssueTime: ts(c.Issued), ExpireTime: ts(c.Expires), State: c.State, Customer: ref(customerPrefix, c.Customer),
	}
	if c.Redemption != nil {
		out.Redemption = red(*c.Redemption)
	}
	for _, r := range c.Rejected {
		out.Rejected = append(out.Rejected, red(r))
	}
	return out
}

// GetMembership implements MemberService.GetMembership.
func (s *MemberService) GetMembership(ctx context.Context, req *connect.Request[crmv1.GetMembershipRequest]) (*connect.Response[crmv1.Membership], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.GetMembershipRequest) (*crmv1.Membership, error) {
		return pb(membershipPB)(s.App.Membership(ctx, c, nameID(customerPrefix, m.GetCustomer())))
	})
}

// EarnPoints implements MemberService.EarnPoints.
func (s *MemberService) EarnPoints(ctx context.Context, req *connect.Request[crmv1.EarnPointsRequest]) (*connect.Response[crmv1.Membership], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.EarnPointsRequest) (*crmv1.Membership, error) {
		return pb(membershipPB)(s.App.EarnPoints(ctx, c, crmapp.Movement{Customer: nameID(customerPrefix, m.GetCustomer()),
			Amount: m.GetPoints(), Purchase: m.GetPurchaseFen(), Note: m.GetNote()}))
	})
}

// RedeemPoints implements MemberService.RedeemPoints.
func (s *MemberService) RedeemPoints(ctx context.Context, req *connect.Request[crmv1.RedeemPointsRequest]) (*connect.Response[crmv1.Membership], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.RedeemPointsRequest) (*crmv1.Membership, error) {
		return pb(membershipPB)(s.App.RedeemPoints(ctx, c, crmapp.Movement{Customer: nameID(customerPrefix, m.GetCustomer()),
			Amount: m.GetPoints(), Note: m.GetNote()}))
	})
}

// TopUp implements MemberService.TopUp.
func (s *MemberService) TopUp(ctx context.Context, req *connect.Request[crmv1.TopUpRequest]) (*connect.Response[crmv1.Membership], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.TopUpRequest) (*crmv1.Membership, error) {
		return pb(membershipPB)(s.App.TopUp(ctx, c, crmapp.Movement{Customer: nameID(customerPrefix, m.GetCustomer()),
			Amount: m.GetAmountFen(), Note: m.GetNote()}))
	})
}

// Spend implements MemberService.Spend.
func (s *MemberService) Spend(ctx context.Context, req *connect.Request[crmv1.SpendRequest]) (*connect.Response[crmv1.Membership], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.SpendRequest) (*crmv1.Membership, error) {
		return pb(membershipPB)(s.App.Spend(ctx, c, crmapp.Movement{Customer: nameID(customerPrefix, m.GetCustomer()),
			Amount: m.GetAmountFen(), Note: m.GetNote()}))
	})
}

// IssueCoupon implements MemberService.IssueCoupon.
func (s *MemberService) IssueCoupon(ctx context.Context, req *connect.Request[crmv1.IssueCouponRequest]) (*connect.Response[crmv1.Coupon], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.IssueCouponRequest) (*crmv1.Coupon, error) {
		expire, err := validTime("expire_time", m.GetExpireTime())
		if err != nil {
			return nil, err
		}
		return pb(couponPB)(s.App.IssueCoupon(ctx, c, crmapp.CouponIssue{Customer: nameID(customerPrefix, m.GetCustomer()),
			Kind: m.GetKind(), Value: m.GetValueFen(), Expires: expire, Note: m.GetNote()}))
	})
}

// RedeemCoupon implements MemberService.RedeemCoupon.
func (s *MemberService) RedeemCoupon(ctx context.Context, req *connect.Request[crmv1.RedeemCouponRequest]) (*connect.Response[crmv1.Coupon], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.RedeemCouponRequest) (*crmv1.Coupon, error) {
		return pb(couponPB)(s.App.RedeemCoupon(ctx, c, m.GetCode(), m.GetNote()))
	})
}

// ListCoupons implements MemberService.ListCoupons.
func (s *MemberService) ListCoupons(ctx context.Context, req *connect.Request[crmv1.ListCouponsRequest]) (*connect.Response[crmv1.ListCouponsResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.ListCouponsRequest) (*crmv1.ListCouponsResponse, error) {
		return pb(func(p app.Page[*crmapp.Coupon]) *crmv1.ListCouponsResponse {
			return &crmv1.ListCouponsResponse{Coupons: each(p.Items, couponPB), NextPageToken: p.Next}
		})(s.App.Coupons(ctx, c, nameID(customerPrefix, m.GetCustomer()), int(m.GetPageSize()), m.GetPageToken()))
	})
}

// ListConflicts implements MemberService.ListConflicts.
func (s *MemberService) ListConflicts(ctx context.Context, req *connect.Request[crmv1.ListMemberConflictsRequest]) (*connect.Response[crmv1.ListMemberConflictsResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.ListMemberConflictsRequest) (*crmv1.ListMemberConflictsResponse, error) {
		return pb(func(p app.Page[crmapp.Conflict]) *crmv1.ListMemberConflictsResponse {
			out := &crmv1.ListMemberConflictsResponse{NextPageToken: p.Next}
			for _, cf := range p.Items {
				x := &crmv1.MemberConflict{Kind: cf.Kind, Amount: cf.Amount, Customer: ref(customerPrefix, cf.Customer)}
				if cf.Coupon != nil {
					x.Coupon = couponPB(cf.Coupon)
				}
				out.Conflicts = append(out.Conflicts, x)
			}
			return out
		})(s.App.Conflicts(ctx, c, int(m.GetPageSize()), m.GetPageToken()))
	})
}

func levelRulesPB(r crmapp.LevelRules) *crmv1.LevelRules {
	out := &crmv1.LevelRules{UpdatedBy: r.UpdatedBy, UpdateTime: ts(r.Updated)}
	for _, x := range r.Rules {
		out.Rules = append(out.Rules, &crmv1.LevelRule{Level: x.Level, MinSpendFen: x.MinSpend, MinTenureMonths: x.MinTenure})
	}
	return out
}

// DefineLevelRules implements MemberService.DefineLevelRules.
func (s *MemberService) DefineLevelRules(ctx context.Context, req *connect.Request[crmv1.DefineLevelRulesRequest]) (*connect.Response[crmv1.LevelRules], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *crmv1.DefineLevelRulesRequest) (*crmv1.LevelRules, error) {
		rules := make([]crmapp.LevelRule, len(m.GetRules()))
		for i, r := range m.GetRules() {
			rules[i] = crmapp.LevelRule{Level: r.GetLevel(), MinSpend: r.GetMinSpendFen(), MinTenure: r.GetMinTenureMonths()}
		}
		return pb(levelRulesPB)(s.App.DefineLevelRules(ctx, c, rules))
	})
}

// GetLevelRules implements MemberService.GetLevelRules.
func (s *MemberService) GetLevelRules(ctx context.Context, req *connect.Request[crmv1.GetLevelRulesRequest]) (*connect.Response[crmv1.LevelRules], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, _ *crmv1.GetLevelRulesRequest) (*crmv1.LevelRules, error) {
		return pb(levelRulesPB)(s.App.LevelRules(ctx, c))
	})
}
