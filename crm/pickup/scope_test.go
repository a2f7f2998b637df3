package pickup_test

import (
	"slices"
	"testing"

	"branchline/crm/pickup"
	"branchline/replication"
)

// TestScopes: a pickup's events are its branch's wherever they are made,
// and its couriers': the one assigned, the one a reassignment gives it to
// and takes it from, the one who picked it up. Account facts and the
// company's kinds go everywhere.
func TestScopes(t *testing.T) {
	c := newCluster(t, "sh-pudong", "sh-minhang")
	cust := c.fixture(0)
	for _, ev := range c.reps[0].log {
		if len(ev.Scopes) != 0 {
			t.Fatalf("%s of the company has scopes %v", ev, ev.Scopes)
		}
	}
	c.sync()
	type want struct {
		kind   string
		scopes []string
	}
	check := func(what string, evs []*replication.Event, wants ...want) {
		t.Helper()
		if len(evs) != len(wants) {
			t.Fatalf("%s: events %v, want %d", what, evs, len(wants))
		}
		for i, w := range wants {
			if evs[i].Kind != w.kind || !slices.Equal(evs[i].Scopes, w.scopes) {
				t.Errorf("%s: event %d is %s with scopes %q, want %s with %q", what, i, evs[i].Kind, evs[i].Scopes, w.kind, w.scopes)
			}
		}
	}
	run := func(o int, actor string, cmd replication.Command) []*replication.Event {
		t.Helper()
		return c.must(o, actor, cmd)
	}
	book := func(in pickup.Input) (string, []*replication.Event) {
		t.Helper()
		id := newID()
		return id, run(0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
			ds, _, err := pickup.Create(v, in, id, "sh-pudong", c.now)
			return ds, err
		})
	}
	home, li, wang := replication.BranchScope("sh-pudong"), replication.CourierScope("li"), replication.CourierScope("wang")

	// A cash booking of nobody: no account facts.
	id, evs := book(input())
	check("booking", evs, want{pickup.KindCreated, []string{home}}, want{pickup.KindAssigned, []string{home, li}})
	check("edit", run(0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
		return one(pickup.Edit(v, id, "sh-pudong", map[string]string{"note": "门卫处"}))
	}), want{pickup.KindFieldSet, []string{home, li}})
	c.sync()
	// Made at another node: still the branch's.
	check("accept elsewhere", run(1, "li", func(v replication.Tx) ([]replication.Draft, error) { return pickup.Accept(v, id, "li") }),
		want{pickup.KindAccepted, []string{home, li}})
	c.sync()
	check("reassign", run(0, "disp", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.Reassign(v, id, "sh-pudong", "wang")
	}), want{pickup.KindAssigned, []string{home, li, wang}})
	// li picks up at sh-minhang before hearing of it: the pick-up stands.
	check("pick up", run(1, "li", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.PickUp(v, id, "li", 1000, 0)
	}), want{pickup.KindPickedUp, []string{home, li}})
	c.sync()
	check("check", run(0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.Check(v, id, "sh-pudong", "")
	}), want{pickup.KindChecked, []string{home, li, wang}})

	// A monthly booking: each event after its company-wide account fact.
	in := input()
	in.Payment, in.Customer = pickup.PaymentMonthly, cust
	id, evs = book(in)
	check("monthly booking", evs, want{pickup.KindPickupRecorded, nil}, want{pickup.KindCreated, []string{home}},
		want{pickup.KindPickupRecorded, nil}, want{pickup.KindAssigned, []string{home, li}})
	if evs[0].Entity != pickup.AccountEntity(cust) {
		t.Fatalf("the fact is about %s", evs[0].Entity)
	}
	check("monthly cancel", run(0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.Cancel(v, id, "sh-pudong", "不寄了")
	}), want{pickup.KindPickupRecorded, nil}, want{pickup.KindCancelled, []string{home, li}})
	// A cash booking of a customer: a fact for the volume, none after.
	in.Payment = pickup.PaymentCash
	id, evs = book(in)
	check("cash booking of a customer", evs, want{pickup.KindPickupRecorded, nil}, want{pickup.KindCreated, []string{home}},
		want{pickup.KindAssigned, []string{home, li}})
	check("cash reassign", run(0, "disp", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.Reassign(v, id, "sh-pudong", "wang")
	}), want{pickup.KindAssigned, []string{home, li, wang}})
	check("cash fail", run(0, "wang", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.Fail(v, id, "wang", "无人")
	}), want{pickup.KindFailed, []string{home, wang}})

	check("payment", run(0, "fin", func(v replication.Tx) ([]replication.Draft, error) {
		return one(pickup.Record(v, cust, pickup.EntryPayment, 100, "", c.now))
	}), want{pickup.KindPaymentReceived, nil})
	check("tiers", run(0, "fin", func(replication.Tx) ([]replication.Draft, error) {
		return one(pickup.SetTiers([]pickup.Tier{{MinCount: 10, Percent: 95}}))
	}), want{pickup.KindTiersSet, nil})
}
