package pickup_test

import (
	"testing"

	"branchline/crm/pickup"
	"branchline/replication"
)

// FuzzApply: any body of any pickup kind that the hub's check accepts
// applies without failing, on views that already hold pickups, and the
// read side copes with whatever it left.
func FuzzApply(f *testing.F) {
	c := newCluster(f, "sh-pudong")
	cust := c.fixture(0)
	in := input()
	in.Payment, in.Customer = pickup.PaymentMonthly, cust
	id, _ := c.book(0, in)
	c.must(0, "li", func(v replication.Tx) ([]replication.Draft, error) { return pickup.PickUp(v, id, "li", 900, 0) })
	c.must(0, "fin", func(v replication.Tx) ([]replication.Draft, error) {
		return one(pickup.Record(v, cust, pickup.EntryPayment, 100, "x", c.now))
	})
	kinds := c.reg.Kinds()
	for _, ev := range c.reps[0].log {
		for i, k := range kinds {
			if k == ev.Kind {
				f.Add(i, ev.Entity, ev.Body)
			}
		}
	}
	base := c.reps[0].mem.Dump()
	f.Fuzz(func(t *testing.T, kind int, entity string, body []byte) {
		if kind < 0 || kind >= len(kinds) {
			return
		}
		ev := &replication.Event{Origin: "bj-haidian", Seq: 1, HLC: replication.MakeHLC(c.now.UnixMilli()+1, 0),
			Kind: kinds[kind], Entity: entity, Actor: "fuzz", Body: body}
		if c.reg.Check(ev) != nil {
			return
		}
		fc := newCluster(t, "sh-pudong")
		for k, v := range base {
			if err := fc.reps[0].mem.Set([]byte(k), []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		views, err := replication.OpenViews(fc.reg, fc.reps[0].mem)
		if err != nil {
			t.Fatal(err)
		}
		b := views.Begin(fc.reps[0].mem)
		if _, err := b.Apply(ev); err != nil {
			t.Fatalf("accepted %s does not apply: %v", ev, err)
		}
		v := fc.views(0)
		if _, _, err := pickup.List(v, pickup.Filter{}); err != nil {
			t.Fatalf("list after %s: %v", ev, err)
		}
		for _, read := range []func() error{
			func() error { _, err := pickup.Conflicts(v, ""); return err },
			func() error { _, err := pickup.Statement(v, cust, c.now.Format("2006-01")); return err },
			func() error { _, err := pickup.ListCouriers(v); return err },
			func() error { _, err := pickup.ListZones(v); return err },
			func() error { _, err := pickup.ListRatePlans(v); return err },
			func() error {
				_, err := pickup.Summary(v, c.now.AddDate(0, -1, 0), c.now.AddDate(0, 1, 0), shanghai)
				return err
			},
		} {
			if err := read(); err != nil {
				t.Fatalf("read after %s: %v", ev, err)
			}
		}
	})
}
