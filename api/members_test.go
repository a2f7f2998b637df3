package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access"
	"branchline/auth"
	"branchline/crm"
	"branchline/crm/crmapp"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

// memberGrants are the test users' grants.
func memberGrants(_ context.Context, p *auth.Principal) (*access.Grant, error) {
	all := func(perms ...access.Perm) *access.Grant {
		g := &access.Grant{User: p.User, Scopes: map[access.Perm]access.Scope{}}
		for _, perm := range perms {
			g.Scopes[perm] = access.ScopeAll
		}
		return g
	}
	switch p.User {
	case "admin":
		return access.Superuser("admin"), nil
	case "agent": // reads, flags, moves points and balance; no phone numbers
		return all(access.CustomerRead, access.CustomerWrite, access.BlacklistFlag), nil
	case "viewer": // reads, with phone numbers
		return all(access.CustomerRead, access.PhoneView), nil
	case "own": // writes only customers they own
		g := all(access.CustomerRead)
		g.Scopes[access.CustomerWrite] = access.ScopeOwn
		return g, nil
	case "broken":
		return nil, errors.New("roles unreadable")
	}
	return &access.Grant{User: p.User}, nil
}

func asMemberUser(user string) context.Context {
	return auth.WithPrincipal(context.Background(), &auth.Principal{User: user})
}

func memberLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// memberNow is a fixed clock: 2026-11-23 12:00 in Shanghai, a Monday.
var memberNow = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)

func newMemberService(t *testing.T) (*MemberService, *memStoreMembers) {
	st := newMemStoreMembers(t)
	return &MemberService{App: &crmapp.Members{Store: st, Now: func() time.Time { return memberNow }}, Grants: memberGrants, Log: memberLog()}, st
}

// memberCustomer creates a customer with fields and returns its name.
func memberCustomer(t *testing.T, st *memStoreMembers, fields map[string]string) string {
	t.Helper()
	id := replication.NewIDs().New(time.Now())
	if _, err := st.Exec(context.Background(), "admin", func(views replication.Tx) ([]replication.Draft, error) {
		d, err := crm.CreateCustomer(views, id, fields)
		return []replication.Draft{d}, err
	}); err != nil {
		t.Fatal(err)
	}
	return "customers/" + id
}

func wantMemberCode(t *testing.T, err error, code connect.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", code)
	}
	if got := connect.CodeOf(err); got != code {
		t.Fatalf("code %v (%v), want %v", got, err, code)
	}
}

func TestMemberServiceMovements(t *testing.T) {
	s, st := newMemberService(t)
	cust := memberCustomer(t, st, map[string]string{"display_name": "浦东五金", "credit_level": "D"})
	ctx := asMemberUser("agent")
	if _, err := s.TopUp(ctx, connect.NewRequest(&crmv1.TopUpRequest{Customer: cust, AmountFen: 10000, Note: "现金"})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EarnPoints(ctx, connect.NewRequest(&crmv1.EarnPointsRequest{Customer: cust, Points: 50, PurchaseFen: 5000})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemPoints(ctx, connect.NewRequest(&crmv1.RedeemPointsRequest{Customer: cust, Points: 20})); err != nil {
		t.Fatal(err)
	}
	resp, err := s.Spend(ctx, connect.NewRequest(&crmv1.SpendRequest{Customer: cust, AmountFen: 2500}))
	if err != nil {
		t.Fatal(err)
	}
	m := resp.Msg
	if m.GetCustomer() != cust || m.GetBalanceFen() != 7500 || m.GetPoints() != 30 || m.GetSpentFen() != 7500 || len(m.GetRecent()) != 4 ||
		m.GetRecent()[0].GetAmount() != -2500 || m.GetRecent()[0].GetActor() != "agent" {
		t.Fatalf("membership: %v", m)
	}
	if w := m.GetCreditWarning(); w.GetLevel() != crmv1.CreditWarningLevel_CREDIT_WARNING_LEVEL_DANGER || !strings.Contains(w.GetMessage(), "D") {
		t.Fatalf("credit warning: %v", w)
	}
	got, err := s.GetMembership(asMemberUser("viewer"), connect.NewRequest(&crmv1.GetMembershipRequest{Customer: cust}))
	if err != nil || !proto.Equal(got.Msg, m) {
		t.Fatalf("GetMembership: %v %v", got, err)
	}
}

func TestMemberServiceRefusals(t *testing.T) {
	s, st := newMemberService(t)
	cust := memberCustomer(t, st, map[string]string{"display_name": "浦东五金", "owner": "someone-else"})
	if _, err := s.TopUp(asMemberUser("agent"), connect.NewRequest(&crmv1.TopUpRequest{Customer: cust, AmountFen: 100})); err != nil {
		t.Fatal(err)
	}
	unknown := "customers/" + replication.NewIDs().New(time.Now())
	for _, tc := range []struct {
		name string
		call func() error
		code connect.Code
	}{
		{"no caller", func() error {
			_, err := s.TopUp(context.Background(), connect.NewRequest(&crmv1.TopUpRequest{Customer: cust, AmountFen: 1}))
			return err
		}, connect.CodeUnauthenticated},
		{"grants fail", func() error {
			_, err := s.TopUp(asMemberUser("broken"), connect.NewRequest(&crmv1.TopUpRequest{Customer: cust, AmountFen: 1}))
			return err
		}, connect.CodePermissionDenied},
		{"read-only user tops up", func() error {
			_, err := s.TopUp(asMemberUser("viewer"), connect.NewRequest(&crmv1.TopUpRequest{Customer: cust, AmountFen: 1}))
			return err
		}, connect.CodePermissionDenied},
		{"outside own scope", func() error {
			_, err := s.Spend(asMemberUser("own"), connect.NewRequest(&crmv1.SpendRequest{Customer: cust, AmountFen: 1}))
			return err
		}, connect.CodePermissionDenied},
		{"nobody reads", func() error {
			_, err := s.GetMembership(asMemberUser("nobody"), connect.NewRequest(&crmv1.GetMembershipRequest{Customer: cust}))
			return err
		}, connect.CodePermissionDenied},
		{"agent defines level rules", func() error {
			_, err := s.DefineLevelRules(asMemberUser("agent"), connect.NewRequest(&crmv1.DefineLevelRulesRequest{Rules: []*crmv1.LevelRule{{Level: "VIP"}}}))
			return err
		}, connect.CodePermissionDenied},
		{"viewer issues a coupon", func() error {
			_, err := s.IssueCoupon(asMemberUser("viewer"), connect.NewRequest(&crmv1.IssueCouponRequest{Customer: cust, Kind: crmv1.CouponKind_COUPON_KIND_CASH, ValueFen: 100}))
			return err
		}, connect.CodePermissionDenied},
		{"negative top-up", func() error {
			_, err := s.TopUp(asMemberUser("agent"), connect.NewRequest(&crmv1.TopUpRequest{Customer: cust, AmountFen: -100}))
			return err
		}, connect.CodeInvalidArgument},
		{"overdraw", func() error {
			_, err := s.Spend(asMemberUser("agent"), connect.NewRequest(&crmv1.SpendRequest{Customer: cust, AmountFen: 101}))
			return err
		}, connect.CodeInvalidArgument},
		{"bad customer name", func() error {
			_, err := s.EarnPoints(asMemberUser("agent"), connect.NewRequest(&crmv1.EarnPointsRequest{Customer: "bob", Points: 1}))
			return err
		}, connect.CodeInvalidArgument},
		{"unknown customer", func() error {
			_, err := s.EarnPoints(asMemberUser("agent"), connect.NewRequest(&crmv1.EarnPointsRequest{Customer: unknown, Points: 1}))
			return err
		}, connect.CodeNotFound},
		{"oversize note", func() error {
			_, err := s.EarnPoints(asMemberUser("agent"), connect.NewRequest(&crmv1.EarnPointsRequest{Customer: cust, Points: 1, Note: strings.Repeat("x", crm.MaxReason+1)}))
			return err
		}, connect.CodeInvalidArgument},
		{"coupon of no kind", func() error {
			_, err := s.IssueCoupon(asMemberUser("agent"), connect.NewRequest(&crmv1.IssueCouponRequest{Customer: cust, ValueFen: 100}))
			return err
		}, connect.CodeInvalidArgument},
		{"coupon expiring in the past", func() error {
			_, err := s.IssueCoupon(asMemberUser("agent"), connect.NewRequest(&crmv1.IssueCouponRequest{Customer: cust, Kind: crmv1.CouponKind_COUPON_KIND_CASH, ValueFen: 100,
				ExpireTime: timestamppb.New(memberNow.Add(-time.Minute))}))
			return err
		}, connect.CodeInvalidArgument},
		{"unknown coupon", func() error {
			_, err := s.RedeemCoupon(asMemberUser("agent"), connect.NewRequest(&crmv1.RedeemCouponRequest{Code: "SH-PUDONG-261123-77"}))
			return err
		}, connect.CodeNotFound},
		{"bad coupon code", func() error {
			_, err := s.RedeemCoupon(asMemberUser("agent"), connect.NewRequest(&crmv1.RedeemCouponRequest{Code: "?"}))
			return err
		}, connect.CodeInvalidArgument},
		{"bad level rules", func() error {
			_, err := s.DefineLevelRules(asMemberUser("admin"), connect.NewRequest(&crmv1.DefineLevelRulesRequest{Rules: []*crmv1.LevelRule{{Level: ""}}}))
			return err
		}, connect.CodeInvalidArgument},
		{"negative page size", func() error {
			_, err := s.ListCoupons(asMemberUser("agent"), connect.NewRequest(&crmv1.ListCouponsRequest{Customer: cust, PageSize: -1}))
			return err
		}, connect.CodeInvalidArgument},
		{"bad conflicts token", func() error {
			_, err := s.ListConflicts(asMemberUser("agent"), connect.NewRequest(&crmv1.ListMemberConflictsRequest{PageToken: "zz"}))
			return err
		}, connect.CodeInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := st.dump()
			wantMemberCode(t, tc.call(), tc.code)
			if !maps.Equal(before, st.dump()) {
				t.Fatal("a refused call changed the store")
			}
		})
	}
}

func TestMemberServiceCoupons(t *testing.T) {
	s, st := newMemberService(t)
	cust := memberCustomer(t, st, map[string]string{"display_name": "浦东五金"})
	var codes []string
	for _, v := range []int64{2000, 500, 100} {
		resp, err := s.IssueCoupon(asMemberUser("agent"), connect.NewRequest(&crmv1.IssueCouponRequest{
			Customer: cust, Kind: crmv1.CouponKind_COUPON_KIND_VOUCHER, ValueFen: v, Note: "生日", ExpireTime: timestamppb.New(memberNow.Add(24 * time.Hour))}))
		if err != nil {
			t.Fatal(err)
		}
		c := resp.Msg
		if !strings.HasPrefix(c.GetCode(), "SH-PUDONG-") || c.GetCustomer() != cust || c.GetState() != crmv1.CouponState_COUPON_STATE_ACTIVE ||
			c.GetIssuedBy() != "agent" || !c.GetExpireTime().AsTime().Equal(memberNow.Add(24*time.Hour)) {
			t.Fatalf("issued: %v", c)
		}
		codes = append(codes, c.GetCode())
	}
	resp, err := s.RedeemCoupon(asMemberUser("agent"), connect.NewRequest(&crmv1.RedeemCouponRequest{Code: strings.ToLower(codes[0]), Note: "order 42"}))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Msg.GetState() != crmv1.CouponState_COUPON_STATE_REDEEMED || resp.Msg.GetRedemption().GetActor() != "agent" {
		t.Fatalf("redeemed: %v", resp.Msg)
	}
	before := st.dump()
	_, err = s.RedeemCoupon(asMemberUser("agent"), connect.NewRequest(&crmv1.RedeemCouponRequest{Code: codes[0]}))
	wantMemberCode(t, err, connect.CodeAlreadyExists)
	if !maps.Equal(before, st.dump()) {
		t.Fatal("a refused redemption changed the store")
	}
	// Two pages of two, then one.
	page, err := s.ListCoupons(asMemberUser("viewer"), connect.NewRequest(&crmv1.ListCouponsRequest{Customer: cust, PageSize: 2}))
	if err != nil || len(page.Msg.GetCoupons()) != 2 || page.Msg.GetNextPageToken() == "" {
		t.Fatalf("first page: %v %v", page, err)
	}
	rest, err := s.ListCoupons(asMemberUser("viewer"), connect.NewRequest(&crmv1.ListCouponsRequest{Customer: cust, PageSize: 2, PageToken: page.Msg.GetNextPageToken()}))
	if err != nil || len(rest.Msg.GetCoupons()) != 1 || rest.Msg.GetNextPageToken() != "" {
		t.Fatalf("second page: %v %v", rest, err)
	}
	cs, err := s.ListConflicts(asMemberUser("viewer"), connect.NewRequest(&crmv1.ListMemberConflictsRequest{}))
	if err != nil || len(cs.Msg.GetConflicts()) != 0 {
		t.Fatalf("conflicts: %v %v", cs, err)
	}
}

func TestMemberServiceLevelRules(t *testing.T) {
	s, st := newMemberService(t)
	cust := memberCustomer(t, st, map[string]string{"display_name": "浦东五金"})
	rules := []*crmv1.LevelRule{{Level: "金卡", MinSpendFen: 100000}, {Level: "普通"}}
	resp, err := s.DefineLevelRules(asMemberUser("admin"), connect.NewRequest(&crmv1.DefineLevelRulesRequest{Rules: rules}))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Msg.GetRules()) != 2 || resp.Msg.GetUpdatedBy() != "admin" || resp.Msg.GetUpdateTime() == nil {
		t.Fatalf("rules: %v", resp.Msg)
	}
	got, err := s.GetLevelRules(asMemberUser("viewer"), connect.NewRequest(&crmv1.GetLevelRulesRequest{}))
	if err != nil || !proto.Equal(got.Msg, resp.Msg) {
		t.Fatalf("GetLevelRules: %v %v", got, err)
	}
	ctx := asMemberUser("agent")
	m, err := s.GetMembership(ctx, connect.NewRequest(&crmv1.GetMembershipRequest{Customer: cust}))
	if err != nil || m.Msg.GetLevel() != "普通" {
		t.Fatalf("new customer: %v %v", m, err)
	}
	if _, err := s.TopUp(ctx, connect.NewRequest(&crmv1.TopUpRequest{Customer: cust, AmountFen: 100000})); err != nil {
		t.Fatal(err)
	}
	m, err = s.Spend(ctx, connect.NewRequest(&crmv1.SpendRequest{Customer: cust, AmountFen: 100000}))
	if err != nil || m.Msg.GetLevel() != "金卡" {
		t.Fatalf("after spending: %v %v", m, err)
	}
}
