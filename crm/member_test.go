package crm

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

var memberCustomers = []string{"01KB0000000000000000000001", "01KB0000000000000000000002", "01KB0000000000000000000003"}

// kindTestMerged stands for crm.customer.merged in these tests: the same
// body and the real merge applier, followed by moveMembership where the
// merge applier moves a customer's record (moveRecord). Once the merge
// applier calls moveMembership itself the second call finds nothing left.
const kindTestMerged = "test.customer.merged"

func memberRegistry() *replication.Registry {
	r := simRegistry()
	replication.Handle(r, kindTestMerged, func(tx replication.Tx, ev *replication.Event, b *crmv1.CustomerMerged) error {
		winner, _ := customerEntityID(ev.Entity)
		var old []string
		for _, id := range []string{winner, b.GetLoser()} {
			rep, err := Resolve(tx, id)
			if err != nil {
				return err
			}
			old = append(old, rep)
		}
		if err := applyMerged(tx, ev, b); err != nil {
			return err
		}
		rep, err := Resolve(tx, b.GetLoser())
		if err != nil {
			return err
		}
		for _, o := range old {
			if err := moveMembership(tx, o, rep); err != nil {
				return err
			}
		}
		return nil
	}, checkMerged)
	return r
}

func createCmd(id, name string) replication.Command {
	return func(views replication.Tx) ([]replication.Draft, error) {
		d, err := CreateCustomer(views, id, map[string]string{"display_name": name})
		return []replication.Draft{d}, err
	}
}

func mergeCmd(winner, loser string) replication.Command {
	return func(views replication.Tx) ([]replication.Draft, error) {
		d, err := MergeCustomers(views, winner, loser, nil)
		d.Kind = kindTestMerged
		return []replication.Draft{d}, err
	}
}

func oneDraft(fn func(views replication.Tx) (replication.Draft, error)) replication.Command {
	return func(views replication.Tx) ([]replication.Draft, error) {
		d, err := fn(views)
		return []replication.Draft{d}, err
	}
}

func earnCmd(id string, points, purchase int64) replication.Command {
	return oneDraft(func(v replication.Tx) (replication.Draft, error) { return EarnPoints(v, id, points, purchase, "order") })
}
func redeemPointsCmd(id string, points int64) replication.Command {
	return oneDraft(func(v replication.Tx) (replication.Draft, error) { return RedeemPoints(v, id, points, "gift") })
}
func topUpCmd(id string, fen int64) replication.Command {
	return oneDraft(func(v replication.Tx) (replication.Draft, error) { return TopUp(v, id, fen, "cash") })
}
func spendCmd(id string, fen int64) replication.Command {
	return oneDraft(func(v replication.Tx) (replication.Draft, error) { return Spend(v, id, fen, "order") })
}
func issueCmd(id string, fen int64, expire, now time.Time) replication.Command {
	return oneDraft(func(v replication.Tx) (replication.Draft, error) {
		return IssueCoupon(v, id, crmv1.CouponKind_COUPON_KIND_VOUCHER, fen, expire, "birthday", now)
	})
}
func redeemCouponCmd(code string, now time.Time) replication.Command {
	return oneDraft(func(v replication.Tx) (replication.Draft, error) { return RedeemCoupon(v, code, "order 42", now) })
}

func membershipAt(t simFatal, n *simNode, id string, now time.Time) *Membership {
	return simRead(t, n, func(v replication.Tx) (*Membership, error) { return GetMembership(v, id, now, 10) })
}

func TestMemberPointsAndBalance(t *testing.T) {
	w := newSimWorld(t, memberRegistry(), "sh-pudong")
	n := w.nodes[0]
	c := memberCustomers[0]
	w.must(n, "u", createCmd(c, "浦东五金"))
	w.must(n, "u", earnCmd(c, 100, 5000))
	w.must(n, "u", redeemPointsCmd(c, 30))
	if _, err := w.exec(n, "u", redeemPointsCmd(c, 71)); !invalidWith(err, "insufficient") {
		t.Fatalf("redeeming more points than held: %v", err)
	}
	w.must(n, "u", topUpCmd(c, 10000))
	w.must(n, "u", spendCmd(c, 2500))
	if _, err := w.exec(n, "u", spendCmd(c, 7501)); !invalidWith(err, "insufficient") {
		t.Fatalf("overdrawing offline: %v", err)
	}
	m := membershipAt(t, n, c, w.now())
	if m.Points != 70 || m.Balance != 7500 || m.Spent != 7500 || len(m.Warnings()) != 0 {
		t.Fatalf("membership: %+v", m)
	}
	kinds := []crmv1.MemberEntryKind{}
	for _, e := range m.Recent {
		kinds = append(kinds, e.Kind)
	}
	want := []crmv1.MemberEntryKind{
		crmv1.MemberEntryKind_MEMBER_ENTRY_KIND_BALANCE_SPENT, crmv1.MemberEntryKind_MEMBER_ENTRY_KIND_BALANCE_TOPPED_UP,
		crmv1.MemberEntryKind_MEMBER_ENTRY_KIND_POINTS_REDEEMED, crmv1.MemberEntryKind_MEMBER_ENTRY_KIND_POINTS_EARNED,
	}
	if !slices.Equal(kinds, want) || m.Recent[0].Amount != -2500 || m.Recent[3].Purchase != 5000 || m.Recent[0].Actor != "u" {
		t.Fatalf("ledger, newest first: %+v", m.Recent)
	}
	tl := simRead(t, n, func(v replication.Tx) ([]TimelineEntry, error) {
		e, _, err := Timeline(v, c, "", 20, true)
		return e, err
	})
	if len(tl) == 0 || tl[0].Kind != TimelineSpent || !strings.Contains(tl[0].Summary, "¥25.00") {
		t.Fatalf("timeline: %+v", tl)
	}
}

func TestMemberBadInput(t *testing.T) {
	w := newSimWorld(t, memberRegistry(), "sh-pudong")
	n := w.nodes[0]
	c := memberCustomers[0]
	w.must(n, "u", createCmd(c, "浦东五金"))
	w.must(n, "u", topUpCmd(c, 100))
	now := w.now()
	for _, tc := range []struct {
		name string
		cmd  replication.Command
		code string // Invalid code, or "" for NotFound
	}{
		{"zero points", earnCmd(c, 0, 0), "not_positive"},
		{"negative points", earnCmd(c, -5, 0), "not_positive"},
		{"negative purchase", earnCmd(c, 5, -1), "not_positive"},
		{"huge points", earnCmd(c, MaxAmount+1, 0), "too_large"},
		{"negative top-up", topUpCmd(c, -100), "not_positive"},
		{"negative spend", spendCmd(c, -100), "not_positive"},
		{"bad customer id", topUpCmd("nope", 100), "bad_id"},
		{"unknown customer", topUpCmd(memberCustomers[2], 100), ""},
		{"long note", oneDraft(func(v replication.Tx) (replication.Draft, error) {
			return TopUp(v, c, 1, strings.Repeat("x", MaxReason+1))
		}), "too_long"},
		{"coupon without value", issueCmd(c, 0, time.Time{}, now), "not_positive"},
		{"coupon expired at issue", issueCmd(c, 100, now.Add(-time.Hour), now), "in_past"},
		{"coupon of no kind", oneDraft(func(v replication.Tx) (replication.Draft, error) {
			return IssueCoupon(v, c, crmv1.CouponKind_COUPON_KIND_UNSPECIFIED, 100, time.Time{}, "", now)
		}), "bad_kind"},
		{"coupon for unknown customer", issueCmd(memberCustomers[1], 100, time.Time{}, now), ""},
		{"unknown coupon", redeemCouponCmd("SH-PUDONG-261123-999", now), ""},
		{"bad coupon code", redeemCouponCmd("no such/code", now), "bad_code"},
		{"empty coupon code", redeemCouponCmd(" ", now), "required"},
		{"level rule without level", oneDraft(func(v replication.Tx) (replication.Draft, error) {
			return DefineLevelRules(v, []*crmv1.LevelRule{{MinSpendFen: 1}})
		}), "required"},
		{"level rules repeating a level", oneDraft(func(v replication.Tx) (replication.Draft, error) {
			return DefineLevelRules(v, []*crmv1.LevelRule{{Level: "VIP", MinSpendFen: 1}, {Level: "VIP"}})
		}), "duplicate"},
		{"level rule with negative spend", oneDraft(func(v replication.Tx) (replication.Draft, error) {
			return DefineLevelRules(v, []*crmv1.LevelRule{{Level: "VIP", MinSpendFen: -1}})
		}), "not_positive"},
		{"level rule with negative tenure", oneDraft(func(v replication.Tx) (replication.Draft, error) {
			return DefineLevelRules(v, []*crmv1.LevelRule{{Level: "VIP", MinTenureMonths: -1}})
		}), "out_of_range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := n.store.Dump()
			_, err := w.exec(n, "u", tc.cmd)
			if tc.code == "" && !errors.Is(err, fault.ErrNotFound) || tc.code != "" && !invalidWith(err, tc.code) {
				t.Fatalf("got %v, want %q", err, tc.code)
			}
			if !maps.Equal(before, n.store.Dump()) {
				t.Fatal("a refused command changed the store")
			}
		})
	}
}

func TestMemberLevels(t *testing.T) {
	loc := tzLocation(DefaultTimeZone)
	day := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		from, to string
		months   int
	}{
		{"2026-01-15 10:00", "2026-03-15 10:00", 2},
		{"2026-01-15 10:00", "2026-03-15 09:59", 1},
		{"2026-01-15 10:00", "2026-03-14 23:00", 1},
		{"2025-12-31 00:00", "2026-01-01 00:00", 0},
		{"2024-02-29 00:00", "2026-02-28 00:00", 23},
		{"2026-03-01 00:00", "2026-01-01 00:00", 0},
	} {
		if got := TenureMonths(day(tc.from), day(tc.to)); got != tc.months {
			t.Errorf("tenure %s → %s: %d months, want %d", tc.from, tc.to, got, tc.months)
		}
	}
	rules := []*crmv1.LevelRule{
		{Level: "钻石", MinSpendFen: 10_000_000},
		{Level: "金卡", MinSpendFen: 1_000_000, MinTenureMonths: 24},
		{Level: "银卡", MinTenureMonths: 6},
		{Level: "普通"},
	}
	created := day("2026-01-01 00:00")
	for _, tc := range []struct {
		name  string
		spent int64
		now   string
		want  string
	}{
		{"new customer", 0, "2026-02-01 00:00", "普通"},
		{"six months", 0, "2026-07-01 00:00", "银卡"},
		{"spend reaches gold", 1_000_000, "2026-02-01 00:00", "金卡"},
		{"tenure reaches gold", 0, "2028-01-01 00:00", "金卡"},
		{"diamond", 10_000_000, "2026-01-02 00:00", "钻石"},
	} {
		if got, _ := EvaluateLevel(rules, tc.spent, created, day(tc.now)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if got, _ := EvaluateLevel(rules[:1], 0, created, day("2026-02-01 00:00")); got != "" {
		t.Errorf("no rule matching: %q", got)
	}

	// Rules are replicated and read by GetMembership.
	w := newSimWorld(t, memberRegistry(), "sh-pudong")
	n := w.nodes[0]
	c := memberCustomers[0]
	w.must(n, "u", createCmd(c, "浦东五金"))
	w.must(n, "admin", oneDraft(func(v replication.Tx) (replication.Draft, error) { return DefineLevelRules(v, rules) }))
	w.must(n, "u", topUpCmd(c, 2_000_000))
	w.must(n, "u", spendCmd(c, 1_000_000))
	got, _, err := GetLevelRules(replication.ReadViews(n.store))
	if err != nil || len(got.GetRules()) != 4 || got.GetUpdatedBy() != "admin" {
		t.Fatalf("rules: %v %v", got, err)
	}
	if m := membershipAt(t, n, c, w.now().Add(24*time.Hour)); m.Level != "金卡" || m.Spent != 1_000_000 {
		t.Fatalf("membership: %+v", m)
	}
}

func TestCreditWarning(t *testing.T) {
	cust := func(level, limit string) *Customer {
		return &Customer{Fields: map[string]string{"credit_level": level, "credit_limit": limit}}
	}
	for _, tc := range []struct {
		name      string
		c         *Customer
		unsettled int64
		level     CreditLevel
		msg       string
	}{
		{"good customer", cust("A", "5000.00"), 0, CreditNone, ""},
		{"unknown amount", cust("A", "5000.00"), -1, CreditNone, ""},
		{"no data", cust("", ""), 100, CreditNone, ""},
		{"low level", cust("c", ""), -1, CreditCaution, "low credit level c"},
		{"bad level", cust("D", ""), -1, CreditDanger, "credit level D"},
		{"near the limit", cust("A", "5000"), 400_000, CreditCaution, "80% of the credit limit ¥5000.00"},
		{"over the limit", cust("A", "5000.5"), 500_051, CreditDanger, "exceeds the credit limit ¥5000.50"},
		{"at the limit", cust("A", "5000"), 500_000, CreditCaution, "100%"},
		{"zero limit", cust("A", "0"), 1, CreditDanger, "exceeds"},
		{"low level and over", cust("C", "10"), 2000, CreditDanger, "low credit level C; unsettled ¥20.00 exceeds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			level, msg := CreditWarning(tc.c, tc.unsettled)
			if level != tc.level || !strings.Contains(msg, tc.msg) || tc.msg == "" && msg != "" {
				t.Fatalf("got %v %q, want %v containing %q", level, msg, tc.level, tc.msg)
			}
		})
	}
	// The levels are system parameters.
	w := newSimWorld(t, memberRegistry(), "sh-pudong")
	n := w.nodes[0]
	w.must(n, "admin", paramCmd(ParamCreditBadLevels, "差, E"))
	p := simRead(t, n, func(v replication.Tx) (CreditPolicy, error) { return CreditPolicyOf(v) })
	if l, _ := p.Warning(cust("e", ""), -1); l != CreditDanger {
		t.Fatalf("configured bad level: %v (%+v)", l, p)
	}
	if l, _ := p.Warning(cust("差", ""), -1); l != CreditDanger {
		t.Fatalf("configured bad level: %v", l)
	}
	if l, _ := p.Warning(cust("C", ""), -1); l != CreditCaution {
		t.Fatalf("default low level: %v", l)
	}
}

var couponCodeShape = regexp.MustCompile(`^SH-PUDONG-\d{6}-\d+$`)

func TestCoupons(t *testing.T) {
	w := newSimWorld(t, memberRegistry(), "sh-pudong")
	n := w.nodes[0]
	c := memberCustomers[0]
	w.must(n, "u", createCmd(c, "浦东五金"))
	now := w.now()
	ev := w.must(n, "u", issueCmd(c, 2000, now.Add(time.Hour), now))[0]
	code := CouponCode(ev)
	if !couponCodeShape.MatchString(code) {
		t.Fatalf("code %q", code)
	}
	w.must(n, "u", issueCmd(c, 500, time.Time{}, now))
	list := simRead(t, n, func(v replication.Tx) ([]*Coupon, error) { return ListCoupons(v, c, "", 10, now) })
	if len(list) != 2 || list[0].State != crmv1.CouponState_COUPON_STATE_ACTIVE || list[0].Customer != c {
		t.Fatalf("coupons: %+v", list)
	}
	page := simRead(t, n, func(v replication.Tx) ([]*Coupon, error) { return ListCoupons(v, c, list[0].GetCode(), 10, now) })
	if len(page) != 1 || page[0].GetCode() != list[1].GetCode() {
		t.Fatalf("second page: %+v", page)
	}
	// Codes are typed in any case.
	w.must(n, "cashier", redeemCouponCmd(" "+strings.ToLower(code)+" ", now))
	cp := simRead(t, n, func(v replication.Tx) (*Coupon, error) { return GetCoupon(v, code, now) })
	if cp.State != crmv1.CouponState_COUPON_STATE_REDEEMED || cp.Redemption.GetActor() != "cashier" || len(cp.Rejected) != 0 {
		t.Fatalf("redeemed: %+v", cp)
	}
	if _, err := w.exec(n, "cashier", redeemCouponCmd(code, now)); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("second redemption: %v", err)
	}
	// Expiry is checked at redemption with the caller's clock.
	exp := w.must(n, "u", issueCmd(c, 100, now.Add(time.Hour), now))[0]
	if _, err := w.exec(n, "cashier", redeemCouponCmd(CouponCode(exp), now.Add(2*time.Hour))); !invalidWith(err, "expired") {
		t.Fatalf("expired coupon: %v", err)
	}
	if cp := simRead(t, n, func(v replication.Tx) (*Coupon, error) { return GetCoupon(v, CouponCode(exp), now.Add(2*time.Hour)) }); cp.State != crmv1.CouponState_COUPON_STATE_EXPIRED {
		t.Fatalf("state of an expired coupon: %v", cp.State)
	}
}

// One coupon redeemed at two nodes during a partition: the earlier
// redemption by (hlc, origin) counts, the other is a conflict on both.
func TestCouponRedeemedTwiceDuringPartition(t *testing.T) {
	w := newSimWorld(t, memberRegistry(), "sh-pudong", "bj-chaoyang")
	a, b := w.nodes[0], w.nodes[1]
	c := memberCustomers[0]
	w.must(a, "u", createCmd(c, "浦东五金"))
	code := CouponCode(w.must(a, "u", issueCmd(c, 2000, time.Time{}, w.now()))[0])
	w.syncAll()
	w.wall += 10
	w.must(b, "bj-cashier", redeemCouponCmd(code, w.now()))
	w.wall += 10
	w.must(a, "sh-cashier", redeemCouponCmd(code, w.now()))
	w.syncAll()
	for _, n := range w.nodes {
		cp := simRead(t, n, func(v replication.Tx) (*Coupon, error) { return GetCoupon(v, code, w.now()) })
		if cp.Redemption.GetActor() != "bj-cashier" || len(cp.Rejected) != 1 || cp.Rejected[0].GetActor() != "sh-cashier" {
			t.Fatalf("%s: %+v", n.id, cp)
		}
		cs := simRead(t, n, func(v replication.Tx) ([]Conflict, error) { return ListConflicts(v, "", 10, w.now()) })
		if len(cs) != 1 || cs[0].Kind != crmv1.MemberConflictKind_MEMBER_CONFLICT_KIND_COUPON_REDEEMED_TWICE || cs[0].Customer != c || cs[0].Coupon.GetCode() != code {
			t.Fatalf("%s conflicts: %+v", n.id, cs)
		}
	}
	if !maps.Equal(viewDump(a), viewDump(b)) {
		t.Fatalf("replicas differ:\n%s", dumpDiff(viewDump(a), viewDump(b)))
	}
}

// Two nodes each allow a spend their own view covers; together they
// overdraw. The overdraft shows on both, and a top-up settles it.
func TestOverdraftDuringPartition(t *testing.T) {
	w := newSimWorld(t, memberRegistry(), "sh-pudong", "bj-chaoyang")
	a, b := w.nodes[0], w.nodes[1]
	c := memberCustomers[0]
	w.must(a, "u", createCmd(c, "浦东五金"))
	w.must(a, "u", topUpCmd(c, 10000))
	w.must(a, "u", earnCmd(c, 10, 0))
	w.syncAll()
	w.must(a, "u", spendCmd(c, 8000))
	w.must(b, "u", spendCmd(c, 8000))
	w.must(b, "u", redeemPointsCmd(c, 10))
	w.must(a, "u", redeemPointsCmd(c, 10))
	w.syncAll()
	for _, n := range w.nodes {
		m := membershipAt(t, n, c, w.now())
		if m.Balance != -6000 || m.Points != -10 || len(m.Warnings()) != 2 {
			t.Fatalf("%s: %+v %v", n.id, m, m.Warnings())
		}
		cs := simRead(t, n, func(v replication.Tx) ([]Conflict, error) { return ListConflicts(v, "", 10, w.now()) })
		if len(cs) != 2 || cs[0].Amount != -6000 || cs[0].Kind != crmv1.MemberConflictKind_MEMBER_CONFLICT_KIND_BALANCE_OVERDRAWN ||
			cs[1].Kind != crmv1.MemberConflictKind_MEMBER_CONFLICT_KIND_POINTS_OVERDRAWN {
			t.Fatalf("%s conflicts: %+v", n.id, cs)
		}
		// Paging through conflicts.
		next := simRead(t, n, func(v replication.Tx) ([]Conflict, error) { return ListConflicts(v, cs[0].Key, 10, w.now()) })
		if len(next) != 1 || next[0].Key != cs[1].Key {
			t.Fatalf("%s second page: %+v", n.id, next)
		}
	}
	// Further spends are refused until the balance is covered.
	if _, err := w.exec(a, "u", spendCmd(c, 1)); !invalidWith(err, "insufficient") {
		t.Fatalf("spend on an overdrawn balance: %v", err)
	}
	w.must(b, "u", topUpCmd(c, 6000))
	w.syncAll()
	for _, n := range w.nodes {
		cs := simRead(t, n, func(v replication.Tx) ([]Conflict, error) { return ListConflicts(v, "", 10, w.now()) })
		if len(cs) != 1 || cs[0].Kind != crmv1.MemberConflictKind_MEMBER_CONFLICT_KIND_POINTS_OVERDRAWN {
			t.Fatalf("%s after the top-up: %+v", n.id, cs)
		}
	}
}

// Movements addressed to a customer merged elsewhere land on the winner,
// whether they arrive before or after the merge.
func TestMembershipFollowsMerge(t *testing.T) {
	w := newSimWorld(t, memberRegistry(), "sh-pudong", "bj-chaoyang")
	a, b := w.nodes[0], w.nodes[1]
	winner, loser := memberCustomers[0], memberCustomers[1]
	w.must(a, "u", createCmd(winner, "浦东五金"))
	w.must(a, "u", createCmd(loser, "浦东五金厂"))
	w.must(a, "u", topUpCmd(loser, 500))
	w.syncAll()
	w.must(a, "u", mergeCmd(winner, loser))
	// b has not seen the merge: its movements name the loser.
	w.must(b, "u", topUpCmd(loser, 300))
	code := CouponCode(w.must(b, "u", issueCmd(loser, 100, time.Time{}, w.now()))[0])
	w.syncAll()
	for _, n := range w.nodes {
		m := membershipAt(t, n, loser, w.now())
		if m.Customer != winner || m.Balance != 800 {
			t.Fatalf("%s: %+v", n.id, m)
		}
		cs := simRead(t, n, func(v replication.Tx) ([]*Coupon, error) { return ListCoupons(v, winner, "", 10, w.now()) })
		if len(cs) != 1 || cs[0].GetCode() != code || cs[0].Customer != winner {
			t.Fatalf("%s coupons: %+v", n.id, cs)
		}
	}
	if !maps.Equal(viewDump(a), viewDump(b)) {
		t.Fatalf("replicas differ:\n%s", dumpDiff(viewDump(a), viewDump(b)))
	}
}

// Nodes move points and balance, issue and redeem coupons and merge
// customers, each on its own view and syncing now and then. After healing
// every replica holds the same views, the totals are the sums of every
// movement on the customer it now stands for, overdrafts are listed
// exactly while a total is negative, and a coupon's redemption is its
// earliest.
func TestMembershipConverges(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		reg := memberRegistry()
		w := newSimWorld(t, reg, []string{"sh-pudong", "bj-chaoyang", "gz-tianhe"}[:rapid.IntRange(2, 3).Draw(t, "nodes")]...)
		for _, c := range memberCustomers {
			w.must(w.nodes[0], "u", createCmd(c, "客户"+c[len(c)-1:]))
		}
		w.syncAll()
		var codes []string
		for i, k := 0, rapid.IntRange(1, 40).Draw(t, "ops"); i < k; i++ {
			n := w.nodes[rapid.IntRange(0, len(w.nodes)-1).Draw(t, "node")]
			c := rapid.SampledFrom(memberCustomers).Draw(t, "customer")
			amount := int64(rapid.IntRange(1, 100).Draw(t, "amount"))
			var cmd replication.Command
			switch rapid.IntRange(0, 7).Draw(t, "op") {
			case 0:
				cmd = earnCmd(c, amount, amount*10)
			case 1:
				cmd = redeemPointsCmd(c, amount)
			case 2:
				cmd = topUpCmd(c, amount)
			case 3:
				cmd = spendCmd(c, amount)
			case 4:
				evs, err := w.exec(n, "u", issueCmd(c, amount, time.Time{}, w.now()))
				if err == nil {
					codes = append(codes, CouponCode(evs[0]))
				}
			case 5:
				if len(codes) > 0 {
					cmd = redeemCouponCmd(rapid.SampledFrom(codes).Draw(t, "code"), w.now())
				}
			case 6:
				cmd = mergeCmd(c, rapid.SampledFrom(memberCustomers).Draw(t, "loser"))
			case 7:
				w.sync(w.nodes[rapid.IntRange(0, len(w.nodes)-1).Draw(t, "from")], n)
			}
			if cmd != nil {
				// Refusals (short balance, unknown coupon at this node,
				// merges of merged customers) are part of the game.
				if _, err := w.exec(n, "u", cmd); err != nil {
					if _, ok := fault.AsInvalid(err); !ok && !errors.Is(err, fault.ErrNotFound) && !errors.Is(err, fault.ErrConflict) {
						t.Fatalf("command: %v", err)
					}
				}
			}
			w.wall += int64(rapid.IntRange(0, 2).Draw(t, "tick"))
		}
		w.heal(t)
		w.checkConverged(t)

		// The model, from the events alone.
		views := replication.ReadViews(w.nodes[0].store)
		resolve := func(id string) string {
			r, err := Resolve(views, id)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		totals := map[string]map[string]int64{}
		first := map[string]*replication.Event{}
		redemptions := map[string]int{}
		for _, s := range w.all() {
			for _, ev := range s {
				switch ev.Kind {
				case KindPointsEarned, KindPointsRedeemed, KindBalanceToppedUp, KindBalanceSpent:
					var b crmv1.MemberAmount
					if err := proto.Unmarshal(ev.Body, &b); err != nil {
						t.Fatal(err)
					}
					id, _ := customerEntityID(ev.Entity)
					k := memberKinds[slices.IndexFunc(memberKinds, func(k memberKind) bool { return k.kind == ev.Kind })]
					r := resolve(id)
					if totals[r] == nil {
						totals[r] = map[string]int64{}
					}
					totals[r][k.counter] += k.sign * b.GetAmount()
				case KindCouponRedeemed:
					var b crmv1.CouponRedeemed
					if err := proto.Unmarshal(ev.Body, &b); err != nil {
						t.Fatal(err)
					}
					redemptions[b.GetCode()]++
					if f := first[b.GetCode()]; f == nil || replication.StampOf(f).After(replication.StampOf(ev)) {
						first[b.GetCode()] = ev
					}
				}
			}
		}
		now := w.now()
		conflicts, err := ListConflicts(views, "", 1000, now)
		if err != nil {
			t.Fatal(err)
		}
		overdrawn, twice := map[string]bool{}, map[string]bool{}
		for _, c := range conflicts {
			if c.Coupon != nil {
				twice[c.Coupon.GetCode()] = true
			} else {
				overdrawn[fmt.Sprintf("%s/%v", c.Customer, c.Kind)] = true
			}
		}
		for _, c := range memberCustomers {
			m, err := GetMembership(views, c, now, 0)
			if err != nil {
				t.Fatal(err)
			}
			r := resolve(c)
			if m.Customer != r || m.Points != totals[r][counterPoints] || m.Balance != totals[r][counterBalance] {
				t.Fatalf("%s (now %s): points %d balance %d; want %d and %d", c, r, m.Points, m.Balance, totals[r][counterPoints], totals[r][counterBalance])
			}
			if overdrawn[r+"/"+crmv1.MemberConflictKind_MEMBER_CONFLICT_KIND_BALANCE_OVERDRAWN.String()] != (m.Balance < 0) ||
				overdrawn[r+"/"+crmv1.MemberConflictKind_MEMBER_CONFLICT_KIND_POINTS_OVERDRAWN.String()] != (m.Points < 0) {
				t.Fatalf("%s: overdraft conflicts %v for points %d balance %d", r, overdrawn, m.Points, m.Balance)
			}
		}
		for _, code := range codes {
			cp, err := GetCoupon(views, code, now)
			if err != nil {
				t.Fatal(err)
			}
			if cp.Customer != resolve(cp.GetCustomerId()) || twice[code] != (redemptions[code] >= 2) || len(cp.Rejected) != max(redemptions[code]-1, 0) {
				t.Fatalf("coupon %s: %+v; %d redemptions", code, cp, redemptions[code])
			}
			if f := first[code]; f != nil && (cp.Redemption.GetOrigin() != f.Origin || cp.Redemption.GetHlc() != uint64(f.HLC)) {
				t.Fatalf("coupon %s: redemption %+v, want the earliest %s", code, cp.Redemption, f)
			}
		}
	})
}
