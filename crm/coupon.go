package crm

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

// Coupons and cash vouchers (代金券/现金券) of members: codes unique
// without coordination, redemptions as a workflow step whose earliest
// counts (see member.go for the merge rules).

var (
	couponCodeRe    = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]*$`)
	errNoSuchCoupon = errors.New("no such coupon")
)

// Coupon is a coupon or cash voucher with its redemptions.
type Coupon struct {
	*crmv1.CouponRecord
	Customer string // the customer it belongs to now (after merges)
	State    crmv1.CouponState
	// Redemption is the redemption that counts: the earliest by (hlc,
	// origin); nil while unredeemed.
	Redemption *crmv1.CouponRedemptionRecord
	// Rejected are the later, concurrent redemptions: conflicts.
	Rejected []*crmv1.CouponRedemptionRecord
}

// CouponCode is the code of the coupon issued by ev: its origin, its
// date in China time and its seq, unique because (origin, seq) is.
func CouponCode(ev *replication.Event) string {
	return strings.ToUpper(ev.Origin) + "-" + ev.HLC.Time().In(tzLocation(DefaultTimeZone)).Format("060102") + "-" + strconv.FormatUint(ev.Seq, 10)
}

// NormalizeCouponCode returns the canonical form of a code as typed.
func NormalizeCouponCode(raw string) (string, error) {
	code := strings.ToUpper(strings.TrimSpace(raw))
	if code == "" {
		return "", fault.Invalidf("code", "required", "is required")
	}
	if len(code) > maxCouponCode || !couponCodeRe.MatchString(code) {
		return "", fault.Invalidf("code", "bad_code", "%q is not a coupon code", raw)
	}
	return code, nil
}

// IssueCoupon decides the event that gives customer id a coupon of kind
// worth valueFen, expiring at expire (zero: never), checked against now.
func IssueCoupon(views replication.Tx, id string, kind crmv1.CouponKind, valueFen int64, expire time.Time, note string, now time.Time) (replication.Draft, error) {
	if kind != crmv1.CouponKind_COUPON_KIND_VOUCHER && kind != crmv1.CouponKind_COUPON_KIND_CASH {
		return replication.Draft{}, fault.Invalidf("kind", "bad_kind", "must be a voucher or a cash coupon")
	}
	if err := checkAmount("value_fen", valueFen, false); err != nil {
		return replication.Draft{}, err
	}
	var expMs int64
	if !expire.IsZero() {
		if !expire.After(now) {
			return replication.Draft{}, fault.Invalidf("expire_time", "in_past", "must be in the future")
		}
		expMs = expire.UnixMilli()
	}
	note, err := checkFreeText("note", note, MaxReason, false)
	if err != nil {
		return replication.Draft{}, err
	}
	c, err := memberCustomer(views, id, true)
	if err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindCouponIssued, Entity: Entity(c.ID),
		Body: &crmv1.CouponIssued{Kind: kind, ValueFen: valueFen, ExpireMs: expMs, Note: note}}, nil
}

// RedeemCoupon decides the event that redeems the coupon code, refused
// when this replica knows it redeemed or expired at now.
func RedeemCoupon(views replication.Tx, code, note string, now time.Time) (replication.Draft, error) {
	code, err := NormalizeCouponCode(code)
	if err != nil {
		return replication.Draft{}, err
	}
	if note, err = checkFreeText("note", note, MaxReason, false); err != nil {
		return replication.Draft{}, err
	}
	c, err := GetCoupon(views, code, now)
	if err != nil {
		return replication.Draft{}, err
	}
	switch c.State {
	case crmv1.CouponState_COUPON_STATE_REDEEMED:
		return replication.Draft{}, fmt.Errorf("coupon %s was redeemed by %s at %s: %w", code, c.Redemption.GetActor(), c.Redemption.GetOrigin(), fault.ErrConflict)
	case crmv1.CouponState_COUPON_STATE_EXPIRED:
		return replication.Draft{}, fault.Invalidf("code", "expired", "coupon %s expired", code)
	}
	return replication.Draft{Kind: KindCouponRedeemed, Entity: "coupon/" + code,
		Body: &crmv1.CouponRedeemed{Code: code, Note: note, CustomerId: c.GetCustomerId()}}, nil
}

// GetCoupon reads the coupon code (canonical) at time now.
func GetCoupon(views replication.Tx, code string, now time.Time) (*Coupon, error) {
	b, err := views.Get(couponKey(code))
	if errors.Is(err, replication.ErrNotFound) {
		return nil, fmt.Errorf("coupon %s: %w: %w", code, errNoSuchCoupon, fault.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	rec := &crmv1.CouponRecord{}
	if err := proto.Unmarshal(b, rec); err != nil {
		return nil, fmt.Errorf("coupon %s: %w", code, err)
	}
	c := &Coupon{CouponRecord: rec, State: crmv1.CouponState_COUPON_STATE_ACTIVE}
	if c.Customer, err = Resolve(views, rec.GetCustomerId()); err != nil {
		return nil, err
	}
	var raw [][]byte
	if err := views.Scan(replication.Prefix("crm", "coupon", code, "r"), nil, func(_, v []byte) (bool, error) {
		raw = append(raw, append([]byte(nil), v...))
		return true, nil
	}); err != nil {
		return nil, err
	}
	for i, v := range raw {
		r := &crmv1.CouponRedemptionRecord{}
		if err := proto.Unmarshal(v, r); err != nil {
			return nil, fmt.Errorf("coupon %s redemption: %w", code, err)
		}
		if i == 0 {
			c.Redemption = r
		} else {
			c.Rejected = append(c.Rejected, r)
		}
	}
	switch {
	case c.Redemption != nil:
		c.State = crmv1.CouponState_COUPON_STATE_REDEEMED
	case rec.GetExpireMs() > 0 && now.UnixMilli() >= rec.GetExpireMs():
		c.State = crmv1.CouponState_COUPON_STATE_EXPIRED
	}
	return c, nil
}

// ListCoupons returns up to limit coupons of customer id (as it stands
// now), with codes after the code after, in code order.
func ListCoupons(views replication.Tx, id, after string, limit int, now time.Time) ([]*Coupon, error) {
	c, err := memberCustomer(views, id, false)
	if err != nil {
		return nil, err
	}
	p := replication.Prefix("crm", "mem", c.ID, "k")
	var start []byte
	if after != "" {
		start = append(append(append([]byte(nil), p...), after...), 0)
	}
	var codes []string
	if err := views.Scan(p, start, func(k, _ []byte) (bool, error) {
		codes = append(codes, string(k[len(p):]))
		return len(codes) < limit, nil
	}); err != nil {
		return nil, err
	}
	out := make([]*Coupon, 0, len(codes))
	for _, code := range codes {
		cp, err := GetCoupon(views, code, now)
		if errors.Is(err, errNoSuchCoupon) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, cp)
	}
	return out, nil
}

func checkCouponIssued(ev *replication.Event, b *crmv1.CouponIssued) error {
	if _, ok := customerEntityID(ev.Entity); !ok {
		return fault.Invalidf("entity", "bad_id", "%q is not a customer entity", ev.Entity)
	}
	if b.GetKind() != crmv1.CouponKind_COUPON_KIND_VOUCHER && b.GetKind() != crmv1.CouponKind_COUPON_KIND_CASH {
		return fault.Invalidf("kind", "bad_kind", "must be a voucher or a cash coupon")
	}
	if err := checkAmount("value_fen", b.GetValueFen(), false); err != nil {
		return err
	}
	if b.GetExpireMs() < 0 {
		return fault.Invalidf("expire_ms", "negative", "must not be negative")
	}
	return checkCanonicalText("note", b.GetNote())
}

func checkCouponRedeemed(ev *replication.Event, b *crmv1.CouponRedeemed) error {
	code, err := NormalizeCouponCode(b.GetCode())
	if err != nil {
		return err
	}
	if code != b.GetCode() || ev.Entity != "coupon/"+code {
		return fault.Invalidf("code", "not_canonical", "code %q and entity %q disagree", b.GetCode(), ev.Entity)
	}
	if id := b.GetCustomerId(); id != "" && !replication.ValidULID(id) {
		return fault.Invalidf("customer_id", "bad_id", "%q is not a customer id", id)
	}
	return checkCanonicalText("note", b.GetNote())
}

func applyCouponIssued(tx replication.Tx, ev *replication.Event, b *crmv1.CouponIssued) error {
	id, ok := customerEntityID(ev.Entity)
	if !ok {
		return nil
	}
	code := CouponCode(ev)
	rec, err := marshalRecord(&crmv1.CouponRecord{Code: code, CustomerId: id, Kind: b.GetKind(), ValueFen: b.GetValueFen(),
		ExpireMs: b.GetExpireMs(), Note: b.GetNote(), Actor: ev.Actor, Origin: ev.Origin, Hlc: uint64(ev.HLC)})
	if err != nil {
		return err
	}
	if err := tx.Set(couponKey(code), rec); err != nil {
		return err
	}
	cust, err := Resolve(tx, id)
	if err != nil {
		return err
	}
	if err := tx.Set(memKey(cust, "k", code), nil); err != nil {
		return err
	}
	summary := withNote(fmt.Sprintf("%s %s %s", couponKindName(b.GetKind()), code, Yuan(b.GetValueFen())), b.GetNote())
	return AddTimeline(tx, id, EntryFor(ev, TimelineCouponIssued, summary, code))
}

func couponKindName(k crmv1.CouponKind) string {
	if k == crmv1.CouponKind_COUPON_KIND_CASH {
		return "cash coupon"
	}
	return "voucher"
}

func applyCouponRedeemed(tx replication.Tx, ev *replication.Event, b *crmv1.CouponRedeemed) error {
	code, err := NormalizeCouponCode(b.GetCode())
	if err != nil || code != b.GetCode() {
		return nil
	}
	rec, err := marshalRecord(&crmv1.CouponRedemptionRecord{Actor: ev.Actor, Origin: ev.Origin, Note: b.GetNote(), Hlc: uint64(ev.HLC)})
	if err != nil {
		return err
	}
	if err := tx.Set(replication.Key("crm", "coupon", code, "r", fmt.Sprintf("%016x", uint64(ev.HLC)), ev.Origin), rec); err != nil {
		return err
	}
	// Redemptions only grow, so "two or more" is reached on every replica
	// and stays.
	n := 0
	if err := tx.Scan(replication.Prefix("crm", "coupon", code, "r"), nil, func(_, _ []byte) (bool, error) {
		n++
		return n < 2, nil
	}); err != nil {
		return err
	}
	if n >= 2 {
		if err := tx.Set(replication.Key("crm", "conflict", "coupon", code), nil); err != nil {
			return err
		}
	}
	// The body names the customer, so the entry does not depend on whether
	// the issue arrived first. AddTimeline ignores a missing or bad id.
	return AddTimeline(tx, b.GetCustomerId(), EntryFor(ev, TimelineCouponRedeemed, withNote("coupon "+code+" redeemed", b.GetNote()), code))
}
