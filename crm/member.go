package crm

import (
	"encoding/hex"
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

// Membership (会员管理, seed 000 §13-14): points (积分), prepaid balances
// (预存款), member levels from rules, coupons and cash vouchers
// (代金券/现金券). Amounts are integers in fen (分), never floats.
//
// Merge rules:
//
//   - Points, balance and counted spend are quantities (ARCHITECTURE rule
//     2): each movement is an event carrying a positive amount whose kind
//     gives the sign, and the appliers add it to a counter. Any arrival
//     order gives the same totals.
//   - A redemption of points or a spend of balance is refused when the
//     node's own view has too little. Two nodes cut off from each other
//     can each allow a spend that together overdraw: both events are kept
//     (the money was taken at the counter), the total goes negative, and
//     while it is negative an overdraft conflict is listed for staff
//     (ListConflicts) and shown with the membership. The conflict is a
//     function of the total, not of the order events arrived in, so every
//     replica lists the same; a later top-up that covers the overdraft
//     settles it, and the ledger keeps every movement for the record.
//   - A coupon's code is made from the event that issued it
//     ({ORIGIN}-{yyMMdd}-{seq}), unique across the company without
//     coordination. Redeeming is a workflow step (rule 4): every redemption
//     is kept, and the one that counts is the earliest by (hlc, origin);
//     when a coupon was redeemed at two nodes during a partition the
//     others are rejected redemptions, listed as a conflict for staff —
//     never dropped.
//   - Level rules are one last-writer-wins register: the rule list is a
//     single document an administrator edits as a whole.
//   - Identity (rule 5): every applier keyed by customer resolves the
//     event's customer through Resolve, so movements addressed to a merged
//     customer land on the winner. Movements that arrived before the merge
//     are moved by moveMembership, which the merge applier calls; together
//     they make the outcome independent of whether a movement or the merge
//     arrived first.
//
// Level (from rules) and tenure are evaluated when asked, from the
// counters and the customer's creation time, with the caller's clock.
//
// View keys (below replication.ViewPrefix):
//
//	crm \0 mem \0 {cust} \0 c \0 points|balance|spent   counters
//	crm \0 mem \0 {cust} \0 l \0 {^hlc} \0 {origin}     ledger, newest first
//	crm \0 mem \0 {cust} \0 k \0 {code}                 the customer's coupons
//	crm \0 memrules                                     level rules register
//	crm \0 coupon \0 {code}                             coupon record
//	crm \0 coupon \0 {code} \0 r \0 {hlc} \0 {origin}   redemptions, earliest first
//	crm \0 conflict \0 coupon \0 {code}                 while redeemed twice or more
//	crm \0 conflict \0 overdraw \0 {cust} \0 {counter}  while the counter is negative

// Event kinds of membership.
const (
	KindPointsEarned     = "crm.member.points_earned"
	KindPointsRedeemed   = "crm.member.points_redeemed"
	KindBalanceToppedUp  = "crm.member.balance_topped_up"
	KindBalanceSpent     = "crm.member.balance_spent"
	KindLevelRulesSet    = "crm.member.level_rules_set"
	KindCouponIssued     = "crm.coupon.issued"
	KindCouponRedeemed   = "crm.coupon.redeemed"
	counterPoints        = "points"
	counterBalance       = "balance"
	counterSpent         = "spent"
	maxLevelRules        = 50
	maxLevelLen          = 32
	maxTenureMonths      = 1200
	maxCouponCode        = 96
	ledgerEntriesDefault = 20
)

// MaxAmount bounds one movement: 10^12 fen or points (ten billion yuan), so
// that no sum of them overflows.
const MaxAmount = 1_000_000_000_000

func memKey(cust string, parts ...string) []byte {
	return replication.Key(append([]string{"crm", "mem", cust}, parts...)...)
}
func counterKey(cust, name string) []byte { return memKey(cust, "c", name) }
func couponKey(code string) []byte        { return replication.Key("crm", "coupon", code) }
func overdrawKey(cust, name string) []byte {
	return replication.Key("crm", "conflict", "overdraw", cust, name)
}

var (
	levelRulesKey   = replication.Key("crm", "memrules")
	conflictPrefix  = replication.Prefix("crm", "conflict")
	couponCodeRe    = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]*$`)
	yuanRe          = regexp.MustCompile(`^-?[0-9]{1,15}(\.[0-9]{1,4})?$`)
	errNoSuchCoupon = errors.New("no such coupon")
)

// Timeline entry kinds of membership (see AddTimeline).
const (
	TimelinePointsEarned   = "member.points_earned"
	TimelinePointsRedeemed = "member.points_redeemed"
	TimelineToppedUp       = "member.balance_topped_up"
	TimelineSpent          = "member.balance_spent"
	TimelineCouponIssued   = "coupon.issued"
	TimelineCouponRedeemed = "coupon.redeemed"
)

// memberKind describes one kind of movement.
type memberKind struct {
	kind     string
	entry    crmv1.MemberEntryKind
	counter  string
	sign     int64
	timeline string
}

var memberKinds = []memberKind{
	{KindPointsEarned, crmv1.MemberEntryKind_MEMBER_ENTRY_KIND_POINTS_EARNED, counterPoints, 1, TimelinePointsEarned},
	{KindPointsRedeemed, crmv1.MemberEntryKind_MEMBER_ENTRY_KIND_POINTS_REDEEMED, counterPoints, -1, TimelinePointsRedeemed},
	{KindBalanceToppedUp, crmv1.MemberEntryKind_MEMBER_ENTRY_KIND_BALANCE_TOPPED_UP, counterBalance, 1, TimelineToppedUp},
	{KindBalanceSpent, crmv1.MemberEntryKind_MEMBER_ENTRY_KIND_BALANCE_SPENT, counterBalance, -1, TimelineSpent},
}

// summary is the timeline text of a movement.
func (k memberKind) summary(b *crmv1.MemberAmount) string {
	var s string
	if k.counter == counterPoints {
		s = fmt.Sprintf("%+d points", k.sign*b.GetAmount())
	} else if k.sign > 0 {
		s = "balance +" + Yuan(b.GetAmount())
	} else {
		s = "balance -" + Yuan(b.GetAmount())
	}
	return withNote(s, b.GetNote())
}

func withNote(s, note string) string {
	if note != "" {
		s += ": " + note
	}
	return s
}

// customerEntityID returns the customer id of an event addressed to a
// customer ("customer/{id}").
func customerEntityID(entity string) (string, bool) {
	id, ok := strings.CutPrefix(entity, "customer/")
	return id, ok && replication.ValidULID(id)
}

// memberCustomer finds the customer id stands for now (after merges).
// Commands (live) refuse customers in the recycle bin.
func memberCustomer(views replication.Tx, id string, live bool) (*Customer, error) {
	if !replication.ValidULID(id) {
		return nil, fault.Invalidf("customer", "bad_id", "%q is not a customer id", id)
	}
	rid, err := Resolve(views, id)
	if err != nil {
		return nil, err
	}
	c, err := GetCustomer(views, rid)
	if err != nil {
		return nil, err
	}
	if live && c.Deleted {
		return nil, fmt.Errorf("customer %s is in the recycle bin: %w", c.ID, fault.ErrNotFound)
	}
	return c, nil
}

func checkAmount(field string, n int64, allowZero bool) error {
	if n < 0 || n == 0 && !allowZero {
		return fault.Invalidf(field, "not_positive", "must be positive, got %d", n)
	}
	if n > MaxAmount {
		return fault.Invalidf(field, "too_large", "%d exceeds %d", n, int64(MaxAmount))
	}
	return nil
}

// EarnPoints decides the event that gives customer id points; purchaseFen
// (optional) is the purchase they are for, counted as spend by the level
// rules.
func EarnPoints(views replication.Tx, id string, points, purchaseFen int64, note string) (replication.Draft, error) {
	return memberMove(views, memberKinds[0], id, points, purchaseFen, note)
}

// RedeemPoints decides the event that takes points from customer id,
// refused when this replica's view has fewer.
func RedeemPoints(views replication.Tx, id string, points int64, note string) (replication.Draft, error) {
	return memberMove(views, memberKinds[1], id, points, 0, note)
}

// TopUp decides the event that adds amountFen to the prepaid balance of
// customer id.
func TopUp(views replication.Tx, id string, amountFen int64, note string) (replication.Draft, error) {
	return memberMove(views, memberKinds[2], id, amountFen, 0, note)
}

// Spend decides the event that pays amountFen from the prepaid balance of
// customer id, refused when this replica's view of the balance is short.
// The spend counts for the level rules.
func Spend(views replication.Tx, id string, amountFen int64, note string) (replication.Draft, error) {
	return memberMove(views, memberKinds[3], id, amountFen, 0, note)
}

func memberMove(views replication.Tx, k memberKind, id string, amount, purchase int64, note string) (replication.Draft, error) {
	field := "amount_fen"
	if k.counter == counterPoints {
		field = "points"
	}
	if err := checkAmount(field, amount, false); err != nil {
		return replication.Draft{}, err
	}
	if err := checkAmount("purchase_fen", purchase, true); err != nil {
		return replication.Draft{}, err
	}
	note, err := checkFreeText("note", note, MaxReason, false)
	if err != nil {
		return replication.Draft{}, err
	}
	c, err := memberCustomer(views, id, true)
	if err != nil {
		return replication.Draft{}, err
	}
	if k.sign < 0 {
		have, err := replication.GetCounter(views, counterKey(c.ID, k.counter))
		if err != nil {
			return replication.Draft{}, err
		}
		if have < amount {
			return replication.Draft{}, fault.Invalidf(field, "insufficient", "the customer has %d %s, %d asked", max(have, 0), unitOf(k.counter), amount)
		}
	}
	return replication.Draft{Kind: k.kind, Entity: Entity(c.ID), Body: &crmv1.MemberAmount{Amount: amount, PurchaseFen: purchase, Note: note}}, nil
}

func unitOf(counter string) string {
	if counter == counterPoints {
		return "points"
	}
	return "fen"
}

// LedgerEntry is one movement of points or balance.
type LedgerEntry struct {
	Kind     crmv1.MemberEntryKind
	Amount   int64 // signed
	Purchase int64
	Note     string
	Actor    string
	Origin   string
	At       replication.HLC
}

// Membership is a customer's membership as of a time.
type Membership struct {
	Customer     string // the id it stands for now
	Points       int64
	Balance      int64 // fen
	Spent        int64 // fen, counted by the level rules
	Level        string
	TenureMonths int
	Recent       []LedgerEntry // newest first
}

// Warnings lists what staff must see: overdrawn points or balance.
func (m *Membership) Warnings() []string {
	var w []string
	if m.Balance < 0 {
		w = append(w, fmt.Sprintf("balance overdrawn by %s: concurrent spends at different branches", Yuan(-m.Balance)))
	}
	if m.Points < 0 {
		w = append(w, fmt.Sprintf("points overdrawn by %d: concurrent redemptions at different branches", -m.Points))
	}
	return w
}

// GetMembership reads the membership of customer id at time now, with up
// to recent ledger entries.
func GetMembership(views replication.Tx, id string, now time.Time, recent int) (*Membership, error) {
	c, err := memberCustomer(views, id, false)
	if err != nil {
		return nil, err
	}
	m := &Membership{Customer: c.ID}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{counterPoints, &m.Points}, {counterBalance, &m.Balance}, {counterSpent, &m.Spent}} {
		if *f.dst, err = replication.GetCounter(views, counterKey(c.ID, f.name)); err != nil {
			return nil, err
		}
	}
	rules, _, err := GetLevelRules(views)
	if err != nil {
		return nil, err
	}
	m.Level, m.TenureMonths = EvaluateLevel(rules.GetRules(), m.Spent, c.Created.Time(), now)
	if recent > 0 {
		err = views.Scan(replication.Prefix("crm", "mem", c.ID, "l"), nil, func(_, v []byte) (bool, error) {
			r := &crmv1.MemberLedgerRecord{}
			if err := proto.Unmarshal(v, r); err != nil {
				return false, fmt.Errorf("ledger of %s: %w", c.ID, err)
			}
			m.Recent = append(m.Recent, LedgerEntry{Kind: r.GetKind(), Amount: r.GetAmount(), Purchase: r.GetPurchaseFen(),
				Note: r.GetNote(), Actor: r.GetActor(), Origin: r.GetOrigin(), At: replication.HLC(r.GetHlc())})
			return len(m.Recent) < recent, nil
		})
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Level rules.

// DefineLevelRules decides the event that replaces the level rules. Rules
// are tried in order; the first that matches gives the level, so list the
// highest level first.
func DefineLevelRules(views replication.Tx, rules []*crmv1.LevelRule) (replication.Draft, error) {
	out, err := normalizeRules(rules)
	if err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindLevelRulesSet, Entity: "memrules", Body: &crmv1.LevelRulesSet{Rules: out}}, nil
}

func normalizeRules(rules []*crmv1.LevelRule) ([]*crmv1.LevelRule, error) {
	if len(rules) > maxLevelRules {
		return nil, fault.Invalidf("rules", "too_many", "%d rules, at most %d", len(rules), maxLevelRules)
	}
	seen := map[string]bool{}
	var out []*crmv1.LevelRule
	for i, r := range rules {
		field := fmt.Sprintf("rules[%d]", i)
		level, err := checkFreeText(field+".level", r.GetLevel(), maxLevelLen, true)
		if err != nil {
			return nil, err
		}
		if seen[level] {
			return nil, fault.Invalidf(field+".level", "duplicate", "level %q appears twice", level)
		}
		seen[level] = true
		if err := checkAmount(field+".min_spend_fen", r.GetMinSpendFen(), true); err != nil {
			return nil, err
		}
		if t := r.GetMinTenureMonths(); t < 0 || t > maxTenureMonths {
			return nil, fault.Invalidf(field+".min_tenure_months", "out_of_range", "must be 0 to %d", maxTenureMonths)
		}
		out = append(out, &crmv1.LevelRule{Level: level, MinSpendFen: r.GetMinSpendFen(), MinTenureMonths: r.GetMinTenureMonths()})
	}
	return out, nil
}

// GetLevelRules returns the level rules (UpdatedBy set) and the stamp of
// their last change.
func GetLevelRules(views replication.Tx) (*crmv1.LevelRules, replication.Stamp, error) {
	r, ok, err := replication.GetRegister(views, levelRulesKey)
	if err != nil || !ok {
		return &crmv1.LevelRules{}, replication.Stamp{}, err
	}
	out := &crmv1.LevelRules{}
	if err := proto.Unmarshal(r.Value, out); err != nil {
		return nil, replication.Stamp{}, fmt.Errorf("level rules: %w", err)
	}
	return out, r.Stamp, nil
}

// EvaluateLevel returns the level the rules give a customer with the
// given counted spend, created at created, at time now, and the customer's
// tenure in whole months. A rule matches when spend reaches its minimum
// or tenure reaches its minimum (a minimum of 0 is no condition; a rule
// with neither matches everyone). Pure and deterministic.
func EvaluateLevel(rules []*crmv1.LevelRule, spentFen int64, created, now time.Time) (level string, tenure int) {
	tenure = TenureMonths(created, now)
	for _, r := range rules {
		spendOK := r.GetMinSpendFen() > 0 && spentFen >= r.GetMinSpendFen()
		tenureOK := r.GetMinTenureMonths() > 0 && tenure >= int(r.GetMinTenureMonths())
		if spendOK || tenureOK || r.GetMinSpendFen() == 0 && r.GetMinTenureMonths() == 0 {
			return r.GetLevel(), tenure
		}
	}
	return "", tenure
}

// TenureMonths counts the whole calendar months from created to now in
// China time: 15 January to 15 March is two months, to 14 March one.
func TenureMonths(created, now time.Time) int {
	loc := tzLocation(DefaultTimeZone)
	a, b := created.In(loc), now.In(loc)
	if !b.After(a) {
		return 0
	}
	m := (b.Year()-a.Year())*12 + int(b.Month()) - int(a.Month())
	clock := func(t time.Time) time.Duration {
		return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute +
			time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())
	}
	if b.Day() < a.Day() || b.Day() == a.Day() && clock(b) < clock(a) {
		m--
	}
	return max(m, 0)
}

// Coupons.

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

// Conflicts.

// Conflict is one thing concurrent offline work made inconsistent, for
// staff to settle.
type Conflict struct {
	Key      string // opaque, for paging
	Kind     crmv1.MemberConflictKind
	Customer string
	Coupon   *Coupon // coupon conflicts
	Amount   int64   // overdrafts: the negative total
}

// ListConflicts returns up to limit conflicts after the one whose Key is
// after, in key order.
func ListConflicts(views replication.Tx, after string, limit int, now time.Time) ([]Conflict, error) {
	var start []byte
	if after != "" {
		rest, err := hex.DecodeString(after)
		if err != nil || len(rest) == 0 {
			return nil, fault.Invalidf("page_token", "bad_token", "not a page token of this list")
		}
		start = append(append(append([]byte(nil), conflictPrefix...), rest...), 0)
	}
	var keys [][]byte
	if err := views.Scan(conflictPrefix, start, func(k, _ []byte) (bool, error) {
		keys = append(keys, append([]byte(nil), k[len(conflictPrefix):]...))
		return len(keys) < limit, nil
	}); err != nil {
		return nil, err
	}
	var out []Conflict
	for _, rest := range keys {
		parts := strings.Split(string(rest), "\x00")
		c := Conflict{Key: hex.EncodeToString(rest)}
		switch {
		case len(parts) == 2 && parts[0] == "coupon":
			cp, err := GetCoupon(views, parts[1], now)
			if errors.Is(err, errNoSuchCoupon) {
				// Redeemed here before its issue arrived: show what we have.
				cp = &Coupon{CouponRecord: &crmv1.CouponRecord{Code: parts[1]}}
			} else if err != nil {
				return nil, err
			}
			c.Kind, c.Coupon, c.Customer = crmv1.MemberConflictKind_MEMBER_CONFLICT_KIND_COUPON_REDEEMED_TWICE, cp, cp.Customer
		case len(parts) == 3 && parts[0] == "overdraw":
			n, err := replication.GetCounter(views, counterKey(parts[1], parts[2]))
			if err != nil {
				return nil, err
			}
			c.Kind, c.Customer, c.Amount = crmv1.MemberConflictKind_MEMBER_CONFLICT_KIND_BALANCE_OVERDRAWN, parts[1], n
			if parts[2] == counterPoints {
				c.Kind = crmv1.MemberConflictKind_MEMBER_CONFLICT_KIND_POINTS_OVERDRAWN
			}
		default:
			continue // a kind of a newer version
		}
		out = append(out, c)
	}
	return out, nil
}

// Credit warnings.

// CreditLevel grades a credit warning.
type CreditLevel int

// Credit warning grades, mildest first.
const (
	CreditNone CreditLevel = iota
	CreditCaution
	CreditDanger
)

// Proto converts the grade for the API.
func (l CreditLevel) Proto() crmv1.CreditWarningLevel {
	return crmv1.CreditWarningLevel(int32(l) + 1)
}

// CreditPolicy says which credit levels (信用等级) call for a warning.
// Levels compare case-insensitively.
type CreditPolicy struct {
	Low []string // caution
	Bad []string // danger
}

// DefaultCreditPolicy warns on level C and alarms on level D.
var DefaultCreditPolicy = CreditPolicy{Low: []string{"C"}, Bad: []string{"D"}}

// CreditPolicyOf reads the policy from the system parameters
// credit.low_levels and credit.bad_levels.
func CreditPolicyOf(views replication.Tx) (CreditPolicy, error) {
	low, err := GetParam(views, ParamCreditLowLevels, strings.Join(DefaultCreditPolicy.Low, ","))
	if err != nil {
		return CreditPolicy{}, err
	}
	bad, err := GetParam(views, ParamCreditBadLevels, strings.Join(DefaultCreditPolicy.Bad, ","))
	if err != nil {
		return CreditPolicy{}, err
	}
	split := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s, ",") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	return CreditPolicy{Low: split(low), Bad: split(bad)}, nil
}

// CreditWarning grades customer c with the default policy; see
// CreditPolicy.Warning.
func CreditWarning(c *Customer, unsettledFen int64) (CreditLevel, string) {
	return DefaultCreditPolicy.Warning(c, unsettledFen)
}

// Warning grades customer c by credit level and, when unsettledFen is
// known (>= 0; pass -1 when it is not), by the unsettled amount against
// the credit limit: over the limit is danger, 80% of it caution. The
// message is English for logs and API clients; the UI translates by
// level and shows the amounts itself.
func (p CreditPolicy) Warning(c *Customer, unsettledFen int64) (CreditLevel, string) {
	level := CreditNone
	var msgs []string
	raise := func(l CreditLevel, msg string) {
		level = max(level, l)
		msgs = append(msgs, msg)
	}
	cl := strings.TrimSpace(c.Get("credit_level"))
	has := func(set []string) bool {
		for _, s := range set {
			if strings.EqualFold(s, cl) {
				return true
			}
		}
		return false
	}
	switch {
	case cl == "":
	case has(p.Bad):
		raise(CreditDanger, fmt.Sprintf("credit level %s: do not extend credit", cl))
	case has(p.Low):
		raise(CreditCaution, fmt.Sprintf("low credit level %s", cl))
	}
	if limit, ok := parseFen(c.Get("credit_limit")); ok && unsettledFen >= 0 {
		limit = max(limit, 0)
		switch {
		case unsettledFen > limit:
			raise(CreditDanger, fmt.Sprintf("unsettled %s exceeds the credit limit %s", Yuan(unsettledFen), Yuan(limit)))
		case limit > 0 && unsettledFen*10 >= limit*8:
			raise(CreditCaution, fmt.Sprintf("unsettled %s is %d%% of the credit limit %s", Yuan(unsettledFen), unsettledFen*100/limit, Yuan(limit)))
		}
	}
	return level, strings.Join(msgs, "; ")
}

// parseFen reads a decimal amount of yuan ("5000", "5000.5", "-12.34")
// into fen, dropping digits beyond the fen.
func parseFen(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if !yuanRe.MatchString(s) {
		return 0, false
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	frac = (frac + "00")[:2]
	y, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || y > MaxAmount {
		return 0, false
	}
	n := y*100 + f
	if neg {
		n = -n
	}
	return n, true
}

// Yuan formats an amount in fen as "¥1234.56" (negative: "-¥1.50").
func Yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s¥%d.%02d", sign, fen/100, fen%100)
}

// Appliers.

// RegisterMembers adds the membership and coupon appliers to r.
func RegisterMembers(r *replication.Registry) {
	for _, k := range memberKinds {
		replication.Handle(r, k.kind, func(tx replication.Tx, ev *replication.Event, b *crmv1.MemberAmount) error {
			return applyMemberAmount(tx, ev, k, b)
		}, checkMemberAmount)
	}
	replication.Handle(r, KindLevelRulesSet, applyLevelRules, checkLevelRules)
	replication.Handle(r, KindCouponIssued, applyCouponIssued, checkCouponIssued)
	replication.Handle(r, KindCouponRedeemed, applyCouponRedeemed, checkCouponRedeemed)
}

func checkCanonicalText(field, s string) error {
	t, err := checkFreeText(field, s, MaxReason, false)
	if err == nil && t != s {
		err = fault.Invalidf(field, "not_canonical", "has surrounding space")
	}
	return err
}

func checkMemberAmount(ev *replication.Event, b *crmv1.MemberAmount) error {
	if _, ok := customerEntityID(ev.Entity); !ok {
		return fault.Invalidf("entity", "bad_id", "%q is not a customer entity", ev.Entity)
	}
	if err := checkAmount("amount", b.GetAmount(), false); err != nil {
		return err
	}
	if err := checkAmount("purchase_fen", b.GetPurchaseFen(), true); err != nil {
		return err
	}
	return checkCanonicalText("note", b.GetNote())
}

func checkLevelRules(_ *replication.Event, b *crmv1.LevelRulesSet) error {
	out, err := normalizeRules(b.GetRules())
	if err != nil {
		return err
	}
	if !proto.Equal(&crmv1.LevelRulesSet{Rules: out}, b) {
		return fault.Invalidf("rules", "not_canonical", "rules are not in canonical form")
	}
	return nil
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

func marshalRecord(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// addToCounter adds delta to a customer's counter and keeps the overdraft
// conflict in step with the total.
func addToCounter(tx replication.Tx, cust, name string, delta int64) error {
	total, err := replication.AddCounter(tx, counterKey(cust, name), delta)
	if err != nil {
		return err
	}
	return markOverdraw(tx, cust, name, total)
}

func markOverdraw(tx replication.Tx, cust, name string, total int64) error {
	if name == counterSpent {
		return nil
	}
	if total < 0 {
		return tx.Set(overdrawKey(cust, name), nil)
	}
	return tx.Delete(overdrawKey(cust, name))
}

func applyMemberAmount(tx replication.Tx, ev *replication.Event, k memberKind, b *crmv1.MemberAmount) error {
	id, ok := customerEntityID(ev.Entity)
	if !ok || checkAmount("", b.GetAmount(), false) != nil || checkAmount("", b.GetPurchaseFen(), true) != nil {
		return nil // the hub refuses these; ignore rather than fail
	}
	cust, err := Resolve(tx, id)
	if err != nil {
		return err
	}
	delta := k.sign * b.GetAmount()
	if err := addToCounter(tx, cust, k.counter, delta); err != nil {
		return err
	}
	spent := b.GetPurchaseFen()
	if k.kind == KindBalanceSpent {
		spent += b.GetAmount()
	}
	if spent > 0 {
		if err := addToCounter(tx, cust, counterSpent, spent); err != nil {
			return err
		}
	}
	rec, err := marshalRecord(&crmv1.MemberLedgerRecord{Kind: k.entry, Amount: delta, PurchaseFen: b.GetPurchaseFen(), Note: b.GetNote(),
		Actor: ev.Actor, Origin: ev.Origin, Hlc: uint64(ev.HLC), CustomerId: id})
	if err != nil {
		return err
	}
	if err := tx.Set(memKey(cust, "l", newestFirstKey(ev), ev.Origin), rec); err != nil {
		return err
	}
	return AddTimeline(tx, id, EntryFor(ev, k.timeline, k.summary(b), ""))
}

func applyLevelRules(tx replication.Tx, ev *replication.Event, b *crmv1.LevelRulesSet) error {
	v, err := marshalRecord(&crmv1.LevelRules{Rules: b.GetRules(), UpdatedBy: ev.Actor})
	if err != nil {
		return err
	}
	_, _, err = replication.SetRegister(tx, levelRulesKey, v, replication.StampOf(ev))
	return err
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

// moveMembership moves what the views hold for customer from (counters,
// ledger, coupon index, overdraft conflicts) to customer to. The merge
// applier calls it wherever it moves a customer's record to the group's
// new representative (moveRecord): with appliers resolving ids, movements
// then end on the representative whether they arrived before or after the
// merge. Counters add (rule 2); the other keys are unique per event and
// move as they are.
func moveMembership(tx replication.Tx, from, to string) error {
	if from == to {
		return nil
	}
	p := replication.Prefix("crm", "mem", from)
	type kv struct{ rest, v []byte }
	var all []kv
	if err := tx.Scan(p, nil, func(k, v []byte) (bool, error) {
		all = append(all, kv{append([]byte(nil), k[len(p):]...), append([]byte(nil), v...)})
		return true, nil
	}); err != nil {
		return err
	}
	wp := replication.Prefix("crm", "mem", to)
	for _, e := range all {
		if name, ok := strings.CutPrefix(string(e.rest), "c\x00"); ok {
			n, err := strconv.ParseInt(string(e.v), 10, 64)
			if err != nil {
				return fmt.Errorf("counter %s of %s: %w", name, from, err)
			}
			if err := addToCounter(tx, to, name, n); err != nil {
				return err
			}
		} else if err := tx.Set(append(append([]byte(nil), wp...), e.rest...), e.v); err != nil {
			return err
		}
		if err := tx.Delete(append(append([]byte(nil), p...), e.rest...)); err != nil {
			return err
		}
	}
	for _, name := range []string{counterPoints, counterBalance} {
		if err := tx.Delete(overdrawKey(from, name)); err != nil {
			return err
		}
	}
	return nil
}
