package pickup_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"branchline/crm/pickup"
	"branchline/fault"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/replication"
	"branchline/replication/reptest"
)

var origins = []string{"sh-pudong", "sh-minhang", "bj-haidian"}

// refused checks that a command's error is one a user can be shown: bad
// input, not found, denied or a conflict with the state.
func refused(t tb, err error) {
	t.Helper()
	if _, ok := fault.AsInvalid(err); ok || errors.Is(err, fault.ErrNotFound) || errors.Is(err, fault.ErrDenied) || errors.Is(err, fault.ErrConflict) {
		return
	}
	t.Fatalf("unexpected failure: %v", err)
}

// converge replays every event of the cluster in two random interleavings
// on fresh stores (as other replicas would receive them), checks that
// they end with the same views, then syncs the cluster and checks that
// every replica holds those views too.
func converge(t *rapid.T, c *cluster) {
	var streams [][]*replication.Event
	for _, r := range c.reps {
		streams = append(streams, r.log)
	}
	_, a := reptest.ApplyAll(t, c.reg, reptest.Interleave(t, streams, "a"))
	_, b := reptest.ApplyAll(t, c.reg, reptest.Interleave(t, streams, "b"))
	if a.Digest() != b.Digest() {
		t.Fatalf("replicas diverged: %v != %v", a.Digest(), b.Digest())
	}
	c.sync()
	for o := range c.reps {
		if d := c.digest(o); d != a.Digest() {
			t.Fatalf("replica %s diverged from the replay", c.reps[o].name)
		}
	}
}

// TestNumberingProp: pickups booked at several nodes on several days,
// with events exchanged in any order, get numbers unique across the
// company and gapless per node and day; every replica finds each by
// number and waybill.
func TestNumberingProp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := newCluster(t, origins...)
		c.fixture(0)
		c.sync()
		for range rapid.IntRange(1, 40).Draw(t, "steps") {
			if rapid.IntRange(0, 2).Draw(t, "action") < 2 {
				o := rapid.IntRange(0, len(origins)-1).Draw(t, "origin")
				c.now = t0.Add(time.Duration(rapid.IntRange(0, 3*24*60).Draw(t, "minute")) * time.Minute)
				c.book(o, input())
			} else {
				c.deliver(rapid.IntRange(0, len(origins)-1).Draw(t, "to"), rapid.IntRange(0, len(origins)-1).Draw(t, "from"), rapid.IntRange(1, 5).Draw(t, "n"))
			}
		}
		converge(t, c)
		numbers := map[string]string{} // number or waybill → id
		perDay := map[string][]int64{}
		for _, r := range c.reps {
			for _, ev := range r.log {
				if ev.Kind != pickup.KindCreated {
					continue
				}
				var b pickupv1.PickupCreated
				if err := proto.Unmarshal(ev.Body, &b); err != nil {
					t.Fatal(err)
				}
				for _, n := range []string{b.GetNumber(), b.GetWaybill()} {
					if prev, dup := numbers[n]; dup {
						t.Fatalf("number %s given to %s and %s", n, prev, ev.Entity)
					}
					numbers[n] = ev.Entity
				}
				k := ev.Origin + " " + b.GetDay()
				perDay[k] = append(perDay[k], b.GetN())
			}
		}
		for k, ns := range perDay {
			for i, n := range ns { // each origin's log is in order
				if n != int64(i+1) {
					t.Fatalf("%s numbered %v, want 1..%d", k, ns, len(ns))
				}
			}
		}
		for o := range c.reps {
			for n, ent := range numbers {
				p, err := pickup.ByNumber(c.views(o), n)
				if err != nil || pickup.Entity(p.ID) != ent {
					t.Fatalf("at %s, %s finds %v, %v; want %s", c.reps[o].name, n, p, err, ent)
				}
			}
		}
	})
}

// TestAssignmentProp: the automatic assignment depends only on the views
// (replicas that received the couriers' settings in different orders
// choose the same courier), and n bookings over k couriers on duty leave
// their open pickups differing by at most one.
func TestAssignmentProp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := newCluster(t, "sh-pudong", "sh-minhang")
		c.must(0, "disp", func(v replication.Tx) ([]replication.Draft, error) {
			return one(pickup.SetZone(v, pickup.Zone{ID: "pudong", Name: "浦东", Districts: []string{"浦东新区"}}))
		})
		c.sync()
		k := rapid.IntRange(1, 5).Draw(t, "couriers")
		var onDuty []string
		for i := range k + 2 {
			user := fmt.Sprintf("c%d", rapid.IntRange(0, 9).Draw(t, "user"))
			duty := i < k || rapid.Bool().Draw(t, "duty")
			o := rapid.IntRange(0, 1).Draw(t, "origin")
			c.must(o, "disp", func(v replication.Tx) ([]replication.Draft, error) {
				return pickup.SetCourier(v, pickup.Courier{User: user, Name: user, OnDuty: duty, Zones: []string{"pudong"}})
			})
		}
		c.sync()
		a0, err0 := pickup.AutoCourier(c.views(0), "pudong")
		a1, err1 := pickup.AutoCourier(c.views(1), "pudong")
		if err0 != nil || err1 != nil || a0 != a1 {
			t.Fatalf("replicas choose %q and %q (%v, %v)", a0, a1, err0, err1)
		}
		cs, err := pickup.CouriersOf(c.views(0), "pudong")
		if err != nil {
			t.Fatal(err)
		}
		for _, cr := range cs {
			if cr.OnDuty {
				onDuty = append(onDuty, cr.User)
			}
		}
		if len(onDuty) == 0 {
			if a0 != "" {
				t.Fatalf("chose %s with nobody on duty", a0)
			}
			return
		}
		if a0 != onDuty[0] {
			t.Fatalf("chose %s, want %s (no open pickups, first by name)", a0, onDuty[0])
		}
		n := rapid.IntRange(0, 30).Draw(t, "pickups")
		for range n {
			_, bk := c.book(0, input())
			if !slices.Contains(onDuty, bk.Courier) {
				t.Fatalf("assigned to %q, not on duty", bk.Courier)
			}
		}
		lo, hi := n, 0
		for _, u := range onDuty {
			cr, _, err := pickup.GetCourier(c.views(0), u)
			if err != nil {
				t.Fatal(err)
			}
			lo, hi = min(lo, cr.Open), max(hi, cr.Open)
		}
		if hi-lo > 1 {
			t.Fatalf("%d pickups over %d couriers: open counts from %d to %d", n, len(onDuty), lo, hi)
		}
	})
}

// TestWorkflowConvergeProp: random transitions made at three nodes on
// what each has seen, exchanged in any order, converge to the same views;
// a pick-up always stands against a cancel, which every replica keeps as
// a conflict of the branch.
func TestWorkflowConvergeProp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := newCluster(t, origins...)
		c.fixture(0)
		var ids []string
		for range rapid.IntRange(1, 3).Draw(t, "pickups") {
			id, _ := c.book(0, input())
			ids = append(ids, id)
		}
		c.sync()
		couriers := []string{"li", "wang", "zhao"}
		for range rapid.IntRange(1, 40).Draw(t, "steps") {
			c.now = c.now.Add(time.Duration(rapid.IntRange(0, 1500).Draw(t, "ms")) * time.Millisecond)
			o := rapid.IntRange(0, len(origins)-1).Draw(t, "origin")
			node := origins[o]
			id := rapid.SampledFrom(ids).Draw(t, "pickup")
			cr := rapid.SampledFrom(couriers).Draw(t, "courier")
			var cmd func(v replication.Tx) ([]replication.Draft, error)
			actor := "agent"
			switch rapid.IntRange(0, 10).Draw(t, "action") {
			case 0:
				cmd, actor = func(v replication.Tx) ([]replication.Draft, error) { return pickup.Accept(v, id, cr) }, cr
			case 1:
				w, p := int64(rapid.IntRange(1, 5000).Draw(t, "grams")), int64(rapid.IntRange(0, 3000).Draw(t, "fen"))
				cmd, actor = func(v replication.Tx) ([]replication.Draft, error) { return pickup.PickUp(v, id, cr, w, p) }, cr
			case 2:
				cmd, actor = func(v replication.Tx) ([]replication.Draft, error) { return pickup.Fail(v, id, cr, "无人") }, cr
			case 3:
				cmd = func(v replication.Tx) ([]replication.Draft, error) { return pickup.Cancel(v, id, node, "取消") }
			case 4:
				cmd = func(v replication.Tx) ([]replication.Draft, error) { return pickup.Reassign(v, id, node, cr) }
			case 5:
				cmd = func(v replication.Tx) ([]replication.Draft, error) { return pickup.Check(v, id, node, "") }
			case 6:
				msg := newID()
				cmd, actor = func(v replication.Tx) ([]replication.Draft, error) { return pickup.Notify(v, id, msg) }, "system"
			case 7:
				note := rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "note")
				cmd = func(v replication.Tx) ([]replication.Draft, error) {
					return one(pickup.Edit(v, id, node, map[string]string{"note": note}))
				}
			default:
				c.deliver(o, rapid.IntRange(0, len(origins)-1).Draw(t, "from"), rapid.IntRange(1, 6).Draw(t, "n"))
				continue
			}
			if _, err := c.exec(o, actor, func(v replication.Tx) ([]replication.Draft, error) { return cmd(v) }); err != nil {
				refused(t, err)
			}
		}
		converge(t, c)
		for o := range c.reps {
			cs, err := pickup.Conflicts(c.views(o), "sh-pudong")
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				p := c.get(o, id)
				if p.PickedUpBy == "" {
					continue
				}
				if p.Status != pickup.StatusPickedUp && p.Status != pickup.StatusChecked {
					t.Fatalf("picked up by %s but %s", p.PickedUpBy, p.Status)
				}
				if p.CancelledBy != "" && !slices.ContainsFunc(cs, func(cf pickup.Conflict) bool {
					return cf.Pickup == id && cf.Lost == pickup.StatusCancelled
				}) {
					t.Fatalf("at %s the cancel of picked-up %s is not a conflict: %+v", c.reps[o].name, p.Number, cs)
				}
			}
		}
	})
}

// TestAccountConvergeProp: deposits, payments, refunds and monthly
// pickups (booked, picked up, cancelled) at three nodes in any order give
// every replica the same balances, and the balance is the sum of the
// charges less payments plus refunds.
func TestAccountConvergeProp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := newCluster(t, origins...)
		cust := c.fixture(0)
		c.sync()
		var ids []string
		for range rapid.IntRange(1, 40).Draw(t, "steps") {
			c.now = t0.AddDate(0, 0, rapid.IntRange(0, 60).Draw(t, "day"))
			o := rapid.IntRange(0, len(origins)-1).Draw(t, "origin")
			switch rapid.IntRange(0, 5).Draw(t, "action") {
			case 0:
				kind := rapid.SampledFrom(pickup.EntryKinds).Draw(t, "kind")
				if err := record(c, o, cust, kind, int64(rapid.IntRange(1, 5000).Draw(t, "amount")), ""); err != nil {
					refused(t, err)
				}
			case 1:
				in := input()
				in.Payment, in.Customer = pickup.PaymentMonthly, cust
				in.WeightGrams = int64(rapid.IntRange(1, 5000).Draw(t, "grams"))
				if _, err := c.exec(o, "agent", func(v replication.Tx) ([]replication.Draft, error) {
					id := newID()
					ds, _, err := pickup.Create(v, in, id, origins[o], c.now)
					if err == nil {
						ids = append(ids, id)
					}
					return ds, err
				}); err != nil {
					refused(t, err)
				}
			case 2, 3:
				if len(ids) == 0 {
					continue
				}
				id := rapid.SampledFrom(ids).Draw(t, "pickup")
				price := int64(rapid.IntRange(0, 4000).Draw(t, "fen"))
				_, err := c.exec(o, "courier", func(v replication.Tx) ([]replication.Draft, error) {
					p, err := pickup.Get(v, id)
					if err != nil {
						return nil, err
					}
					if rapid.Bool().Draw(t, "cancel") {
						return pickup.Cancel(v, id, origins[o], "取消")
					}
					return pickup.PickUp(v, id, p.Courier, 1000, price)
				})
				if err != nil {
					refused(t, err)
				}
			default:
				c.deliver(o, rapid.IntRange(0, len(origins)-1).Draw(t, "from"), rapid.IntRange(1, 6).Draw(t, "n"))
			}
		}
		converge(t, c)
		var deposit, paid int64
		for _, r := range c.reps {
			for _, ev := range r.log {
				var b pickupv1.AccountEntry
				if proto.Unmarshal(ev.Body, &b) != nil {
					continue
				}
				switch ev.Kind {
				case pickup.KindDepositPaid:
					deposit += b.GetAmountFen()
				case pickup.KindDepositRefunded:
					deposit -= b.GetAmountFen()
				case pickup.KindPaymentReceived:
					paid += b.GetAmountFen()
				case pickup.KindRefundPaid:
					paid -= b.GetAmountFen()
				}
			}
		}
		var charges int64
		for _, id := range ids {
			p := c.get(0, id)
			want := int64(0)
			switch p.Status {
			case pickup.StatusPickedUp, pickup.StatusChecked:
				want = p.ActualPrice
			case pickup.StatusCancelled, pickup.StatusFailed:
			default:
				want = p.Price
			}
			if p.Charge != want {
				t.Fatalf("pickup %s %s charges %d, want %d", p.Number, p.Status, p.Charge, want)
			}
			charges += p.Charge
		}
		for o := range c.reps {
			a, err := pickup.GetAccount(c.views(o), cust)
			if err != nil || a.Deposit != deposit || a.Unsettled != charges-paid {
				t.Fatalf("at %s: %+v (%v); want deposit %d, unsettled %d", c.reps[o].name, a, err, deposit, charges-paid)
			}
		}
		last, err := pickup.Statement(c.views(0), cust, t0.AddDate(0, 0, 60).Format("2006-01"))
		if err != nil || last.Closing != charges-paid {
			t.Fatalf("the last statement closes at %d (%v), want %d", last.Closing, err, charges-paid)
		}
	})
}
