package crmapp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/crm"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

// Members is the use cases of memberships (会员): reads need
// access.CustomerRead, movements of points and balance and coupons
// access.CustomerWrite, level rules access.FieldAdmin (system
// parameters); each within the caller's data scope over the customer.
type Members struct {
	Store app.Store
	// Node is this node's id, recorded as the source of audit entries.
	Node string
	// Now is the clock for tenure and coupon expiry; nil means time.Now.
	Now app.Clock
}

// recentEntries is how many ledger entries a Membership shows.
const recentEntries = 20

// memberReach fails unless perm's scope in c covers customer id (as it
// stands now, after merges).
func memberReach(views replication.Tx, c app.Caller, perm access.Perm, id string) error {
	cu, err := crm.GetCustomer(views, id)
	if err != nil {
		return err
	}
	if !reaches(c, perm, cu) {
		return fmt.Errorf("customer %s is outside %s's data scope: %w", cu.ID, c.User, fault.ErrDenied)
	}
	return nil
}

// LedgerEntry is one movement of points or balance (Amount signed, fen
// for the balance).
type LedgerEntry struct {
	Kind                crmv1.MemberEntryKind
	Amount, Purchase    int64
	Note, Actor, Origin string
	Time                time.Time
}

// Membership is a customer's membership now.
type Membership struct {
	Customer               string // the id it stands for now (after merges)
	Points, Balance, Spent int64  // balance and spend in fen
	Level                  string
	TenureMonths           int
	// Warnings list overdrawn points or balance, in English.
	Warnings []string
	// Credit grades the customer's credit warning; CreditMessage says it
	// in English.
	Credit        crm.CreditLevel
	CreditMessage string
	Recent        []LedgerEntry // newest first
}

func membershipOf(views replication.Tx, id string, now time.Time) (*Membership, error) {
	m, err := crm.GetMembership(views, id, now, recentEntries)
	if err != nil {
		return nil, err
	}
	cu, err := crm.GetCustomer(views, m.Customer)
	if err != nil {
		return nil, err
	}
	policy, err := crm.CreditPolicyOf(views)
	if err != nil {
		return nil, err
	}
	out := &Membership{Customer: m.Customer, Points: m.Points, Balance: m.Balance, Spent: m.Spent, Level: m.Level,
		TenureMonths: m.TenureMonths, Warnings: m.Warnings()}
	// Unsettled amounts come with settlements; until then only the credit
	// level grades the warning.
	out.Credit, out.CreditMessage = policy.Warning(cu, -1)
	for _, e := range m.Recent {
		out.Recent = append(out.Recent, LedgerEntry{Kind: e.Kind, Amount: e.Amount, Purchase: e.Purchase, Note: e.Note,
			Actor: e.Actor, Origin: e.Origin, Time: app.When(e.At)})
	}
	return out, nil
}

func (s *Members) membership(id string) (*Membership, error) {
	now := s.Now.Time()
	return app.Read(s.Store, func(views replication.Tx) (*Membership, error) { return membershipOf(views, id, now) })
}

// Membership reads the membership of a customer the caller may read.
func (s *Members) Membership(_ context.Context, c app.Caller, customer string) (*Membership, error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return nil, err
	}
	if err := checkID("customer", customer); err != nil {
		return nil, err
	}
	now := s.Now.Time()
	return app.Read(s.Store, func(views replication.Tx) (*Membership, error) {
		if err := memberReach(views, c, access.CustomerRead, customer); err != nil {
			return nil, err
		}
		return membershipOf(views, customer, now)
	})
}

// Movement is points or an amount (fen) moved on a customer's membership,
// with the purchase it was for (EarnPoints) and a note.
type Movement struct {
	Customer string
	Amount   int64
	Purchase int64
	Note     string
}

// The audit actions of movements on memberships, by crm.MoveKind. Their
// entries target the customer and record the points (AuditPointsField)
// or the balance in fen (AuditBalanceField) before and after, and the
// movement's note (AuditMoveNoteField).
var moveActions = [...]string{
	crm.MoveEarn: "member.points_earn", crm.MoveRedeem: "member.points_redeem",
	crm.MoveTopUp: "member.balance_top_up", crm.MoveSpend: "member.balance_spend",
}

// The fields of a movement's audit entry.
const (
	AuditPointsField   = "member.points"
	AuditBalanceField  = "member.balance"
	AuditMoveNoteField = "member.note"
)

// MoveActions are the audit actions of movements on memberships.
func MoveActions() []string { return moveActions[:] }

// move runs a movement of kind on a customer the caller may write, audited
// with the points or balance it moves from and to, and answers with the
// membership.
func (s *Members) move(ctx context.Context, c app.Caller, kind crm.MoveKind, m Movement) (*Membership, error) {
	if err := c.Require(access.CustomerWrite); err != nil {
		return nil, err
	}
	if err := checkID("customer", m.Customer); err != nil {
		return nil, err
	}
	purchase := int64(0)
	if kind == crm.MoveEarn {
		purchase = m.Purchase
	}
	if _, err := app.ExecAudited(ctx, s.Store, c, s.Node, moveActions[kind], customerRef(m.Customer), func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		if err := memberReach(views, c, access.CustomerWrite, m.Customer); err != nil {
			return nil, access.AuditNote{}, err
		}
		d, have, err := crm.Move(views, kind, m.Customer, m.Amount, purchase, m.Note)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		field := AuditBalanceField
		if kind.Points() {
			field = AuditPointsField
		}
		after := have + kind.Sign()*m.Amount
		changes := []access.AuditChange{{Field: field, Before: strconv.FormatInt(have, 10), After: strconv.FormatInt(after, 10)}}
		if b, _ := d.Body.(*crmv1.MemberAmount); b.GetNote() != "" {
			changes = append(changes, access.AuditChange{Field: AuditMoveNoteField, After: b.GetNote()})
		}
		return []replication.Draft{d}, access.AuditNote{Changes: changes}, nil
	}); err != nil {
		return nil, err
	}
	return s.membership(m.Customer)
}

// EarnPoints adds points, for a purchase that counts as spend.
func (s *Members) EarnPoints(ctx context.Context, c app.Caller, m Movement) (*Membership, error) {
	return s.move(ctx, c, crm.MoveEarn, m)
}

// RedeemPoints takes points.
func (s *Members) RedeemPoints(ctx context.Context, c app.Caller, m Movement) (*Membership, error) {
	return s.move(ctx, c, crm.MoveRedeem, m)
}

// TopUp adds to the balance.
func (s *Members) TopUp(ctx context.Context, c app.Caller, m Movement) (*Membership, error) {
	return s.move(ctx, c, crm.MoveTopUp, m)
}

// Spend takes from the balance.
func (s *Members) Spend(ctx context.Context, c app.Caller, m Movement) (*Membership, error) {
	return s.move(ctx, c, crm.MoveSpend, m)
}

// Redemption is one redemption of a coupon.
type Redemption struct {
	Actor, Origin, Note string
	Time                time.Time
}

// Coupon is a coupon or cash voucher with its redemptions.
type Coupon struct {
	Code     string
	Customer string // the customer it belongs to now (after merges)
	Kind     crmv1.CouponKind
	Value    int64 // fen
	Note     string
	IssuedBy string
	Origin   string
	Issued   time.Time
	Expires  time.Time // zero: never
	State    crmv1.CouponState
	// Redemption is the redemption that counts; nil while unredeemed.
	Redemption *Redemption
	// Rejected are later, concurrent redemptions: conflicts.
	Rejected []Redemption
}

func couponOf(cp *crm.Coupon) *Coupon {
	red := func(r *crmv1.CouponRedemptionRecord) Redemption {
		return Redemption{Actor: r.GetActor(), Origin: r.GetOrigin(), Note: r.GetNote(), Time: app.When(replication.HLC(r.GetHlc()))}
	}
	out := &Coupon{Code: cp.GetCode(), Customer: cp.Customer, Kind: cp.GetKind(), Value: cp.GetValueFen(), Note: cp.GetNote(),
		IssuedBy: cp.GetActor(), Origin: cp.GetOrigin(), Issued: app.When(replication.HLC(cp.GetHlc())), State: cp.State}
	if ms := cp.GetExpireMs(); ms > 0 {
		out.Expires = time.UnixMilli(ms)
	}
	if cp.Redemption != nil {
		r := red(cp.Redemption)
		out.Redemption = &r
	}
	for _, r := range cp.Rejected {
		out.Rejected = append(out.Rejected, red(r))
	}
	return out
}

func (s *Members) coupon(code string) (*Coupon, error) {
	now := s.Now.Time()
	return app.Read(s.Store, func(views replication.Tx) (*Coupon, error) {
		cp, err := crm.GetCoupon(views, code, now)
		if err != nil {
			return nil, err
		}
		return couponOf(cp), nil
	})
}

// CouponIssue gives a customer a coupon worth Value fen, expiring at
// Expires (zero: never).
type CouponIssue struct {
	Customer string
	Kind     crmv1.CouponKind
	Value    int64
	Expires  time.Time
	Note     string
}

// IssueCoupon issues a coupon to a customer the caller may write.
func (s *Members) IssueCoupon(ctx context.Context, c app.Caller, req CouponIssue) (*Coupon, error) {
	if err := c.Require(access.CustomerWrite); err != nil {
		return nil, err
	}
	if err := checkID("customer", req.Customer); err != nil {
		return nil, err
	}
	now := s.Now.Time()
	evs, err := s.Store.Exec(ctx, c.User, func(views replication.Tx) ([]replication.Draft, error) {
		if err := memberReach(views, c, access.CustomerWrite, req.Customer); err != nil {
			return nil, err
		}
		return app.One(crm.IssueCoupon(views, req.Customer, req.Kind, req.Value, req.Expires, req.Note, now))
	})
	if err != nil {
		return nil, err
	}
	if len(evs) != 1 {
		return nil, fmt.Errorf("issue coupon: %d events recorded", len(evs))
	}
	return s.coupon(crm.CouponCode(evs[0]))
}

// RedeemCoupon redeems a coupon of a customer the caller may write. A
// coupon this node knows redeemed is refused (a conflict); one redeemed
// concurrently at another node is settled when the nodes sync.
func (s *Members) RedeemCoupon(ctx context.Context, c app.Caller, code, note string) (*Coupon, error) {
	if err := c.Require(access.CustomerWrite); err != nil {
		return nil, err
	}
	code, err := crm.NormalizeCouponCode(code)
	if err != nil {
		return nil, err
	}
	now := s.Now.Time()
	if _, err := s.Store.Exec(ctx, c.User, func(views replication.Tx) ([]replication.Draft, error) {
		cp, err := crm.GetCoupon(views, code, now)
		if err != nil {
			return nil, err
		}
		if err := memberReach(views, c, access.CustomerWrite, cp.Customer); err != nil {
			return nil, err
		}
		return app.One(crm.RedeemCoupon(views, code, note, now))
	}); err != nil {
		return nil, err
	}
	return s.coupon(code)
}

// Coupons lists a customer's coupons, a page at a time in code order.
func (s *Members) Coupons(_ context.Context, c app.Caller, customer string, size int, after string) (app.Page[*Coupon], error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return app.Page[*Coupon]{}, err
	}
	if err := checkID("customer", customer); err != nil {
		return app.Page[*Coupon]{}, err
	}
	size, err := app.PageSize(size, 50)
	if err != nil {
		return app.Page[*Coupon]{}, err
	}
	if after != "" {
		if after, err = crm.NormalizeCouponCode(after); err != nil {
			return app.Page[*Coupon]{}, fault.Invalidf("page_token", "bad_token", "not a page token of this list")
		}
	}
	now := s.Now.Time()
	cs, err := app.Read(s.Store, func(views replication.Tx) ([]*crm.Coupon, error) {
		if err := memberReach(views, c, access.CustomerRead, customer); err != nil {
			return nil, err
		}
		return crm.ListCoupons(views, customer, after, size+1, now)
	})
	if err != nil {
		return app.Page[*Coupon]{}, err
	}
	var out app.Page[*Coupon]
	if len(cs) > size {
		cs = cs[:size]
		out.Next = cs[size-1].GetCode()
	}
	for _, cp := range cs {
		out.Items = append(out.Items, couponOf(cp))
	}
	return out, nil
}

// Conflict is one thing concurrent offline work made inconsistent, for
// staff to settle.
type Conflict struct {
	Kind     crmv1.MemberConflictKind
	Customer string
	Coupon   *Coupon // coupon conflicts
	Amount   int64   // overdrafts: the negative total
}

// Conflicts lists the conflicts, a page at a time; those of customers
// outside the caller's scope are left out of the page.
func (s *Members) Conflicts(_ context.Context, c app.Caller, size int, after string) (app.Page[Conflict], error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return app.Page[Conflict]{}, err
	}
	size, err := app.PageSize(size, 50)
	if err != nil {
		return app.Page[Conflict]{}, err
	}
	now := s.Now.Time()
	return app.Read(s.Store, func(views replication.Tx) (app.Page[Conflict], error) {
		var out app.Page[Conflict]
		cs, err := crm.ListConflicts(views, after, size+1, now)
		if err != nil {
			return out, err
		}
		if len(cs) > size {
			cs = cs[:size]
			out.Next = cs[size-1].Key
		}
		for _, cf := range cs {
			if cf.Customer != "" {
				if err := memberReach(views, c, access.CustomerRead, cf.Customer); err != nil {
					if _, ok := fault.AsInvalid(err); ok || errors.Is(err, fault.ErrDenied) || errors.Is(err, fault.ErrNotFound) {
						continue
					}
					return out, err
				}
			}
			x := Conflict{Kind: cf.Kind, Customer: cf.Customer, Amount: cf.Amount}
			if cf.Coupon != nil {
				x.Coupon = couponOf(cf.Coupon)
			}
			out.Items = append(out.Items, x)
		}
		return out, nil
	})
}

// LevelRule gives a member level to customers whose counted spend (fen)
// or tenure reaches it; both minimums zero applies to everyone.
type LevelRule struct {
	Level     string
	MinSpend  int64
	MinTenure int32
}

// LevelRules are the member level rules, tried in order, and who changed
// them last and when.
type LevelRules struct {
	Rules     []LevelRule
	UpdatedBy string
	Updated   time.Time
}

func (s *Members) levelRules() (LevelRules, error) {
	return app.Read(s.Store, func(views replication.Tx) (LevelRules, error) {
		r, stamp, err := crm.GetLevelRules(views)
		if err != nil {
			return LevelRules{}, err
		}
		out := LevelRules{UpdatedBy: r.GetUpdatedBy(), Updated: app.When(stamp.HLC)}
		for _, x := range r.GetRules() {
			out.Rules = append(out.Rules, LevelRule{Level: x.GetLevel(), MinSpend: x.GetMinSpendFen(), MinTenure: x.GetMinTenureMonths()})
		}
		return out, nil
	})
}

// LevelRules reads the member level rules.
func (s *Members) LevelRules(_ context.Context, c app.Caller) (LevelRules, error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return LevelRules{}, err
	}
	return s.levelRules()
}

// DefineLevelRules replaces the member level rules, highest level first.
func (s *Members) DefineLevelRules(ctx context.Context, c app.Caller, rules []LevelRule) (LevelRules, error) {
	if err := c.Require(access.FieldAdmin); err != nil {
		return LevelRules{}, err
	}
	in := make([]*crmv1.LevelRule, len(rules))
	for i, r := range rules {
		in[i] = &crmv1.LevelRule{Level: r.Level, MinSpendFen: r.MinSpend, MinTenureMonths: r.MinTenure}
	}
	if _, err := s.Store.Exec(ctx, c.User, func(views replication.Tx) ([]replication.Draft, error) {
		return app.One(crm.DefineLevelRules(views, in))
	}); err != nil {
		return LevelRules{}, err
	}
	return s.levelRules()
}
