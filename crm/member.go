package crm

import (
	"fmt"
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
	d, _, err := Move(views, MoveEarn, id, points, purchaseFen, note)
	return d, err
}

// RedeemPoints decides the event that takes points from customer id,
// refused when this replica's view has fewer.
func RedeemPoints(views replication.Tx, id string, points int64, note string) (replication.Draft, error) {
	d, _, err := Move(views, MoveRedeem, id, points, 0, note)
	return d, err
}

// TopUp decides the event that adds amountFen to the prepaid balance of
// customer id.
func TopUp(views replication.Tx, id string, amountFen int64, note string) (replication.Draft, error) {
	d, _, err := Move(views, MoveTopUp, id, amountFen, 0, note)
	return d, err
}

// Spend decides the event that pays amountFen from the prepaid balance of
// customer id, refused when this replica's view of the balance is short.
// The spend counts for the level rules.
func Spend(views replication.Tx, id string, amountFen int64, note string) (replication.Draft, error) {
	d, _, err := Move(views, MoveSpend, id, amountFen, 0, note)
	return d, err
}

// MoveKind is a kind of movement on a membership: points earned or
// redeemed, balance topped up or spent.
type MoveKind int

// The kinds of movements, in the order of memberKinds.
const (
	MoveEarn MoveKind = iota
	MoveRedeem
	MoveTopUp
	MoveSpend
)

// Points reports whether movements of kind k move points (not balance).
func (k MoveKind) Points() bool { return memberKinds[k].counter == counterPoints }

// Sign is +1 for movements that add, -1 for those that take.
func (k MoveKind) Sign() int64 { return memberKinds[k].sign }

// Move decides a movement of kind k on customer id's membership, and
// returns besides the points or balance (fen) it moves as this replica's
// view had them before: the audit entry of the movement says what they
// were and what they become.
func Move(views replication.Tx, k MoveKind, id string, amount, purchase int64, note string) (replication.Draft, int64, error) {
	if k < MoveEarn || k > MoveSpend {
		return replication.Draft{}, 0, fault.Invalidf("kind", "bad_kind", "no movement of kind %d", k)
	}
	return memberMove(views, memberKinds[k], id, amount, purchase, note)
}

func memberMove(views replication.Tx, k memberKind, id string, amount, purchase int64, note string) (replication.Draft, int64, error) {
	field := "amount_fen"
	if k.counter == counterPoints {
		field = "points"
	}
	if err := checkAmount(field, amount, false); err != nil {
		return replication.Draft{}, 0, err
	}
	if err := checkAmount("purchase_fen", purchase, true); err != nil {
		return replication.Draft{}, 0, err
	}
	note, err := checkFreeText("note", note, MaxReason, false)
	if err != nil {
		return replication.Draft{}, 0, err
	}
	c, err := memberCustomer(views, id, true)
	if err != nil {
		return replication.Draft{}, 0, err
	}
	have, err := replication.GetCounter(views, counterKey(c.ID, k.counter))
	if err != nil {
		return replication.Draft{}, 0, err
	}
	if k.sign < 0 && have < amount {
		return replication.Draft{}, 0, fault.Invalidf(field, "insufficient", "the customer has %d %s, %d asked", max(have, 0), unitOf(k.counter), amount)
	}
	return replication.Draft{Kind: k.kind, Entity: Entity(c.ID), Body: &crmv1.MemberAmount{Amount: amount, PurchaseFen: purchase, Note: note}}, have, nil
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
