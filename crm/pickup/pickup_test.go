package pickup_test

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"unicode/utf8"

	"branchline/crm"
	"branchline/crm/pickup"
	"branchline/fault"
	"branchline/replication"
)

func TestCreate(t *testing.T) {
	c := newCluster(t, "sh-pudong")
	c.fixture(0)
	id, bk := c.book(0, input())
	if bk.Number != "P-sh-pudong-261123-0001" || bk.Waybill != "sh-pudong-261123-0001" {
		t.Fatalf("numbers %s %s", bk.Number, bk.Waybill)
	}
	// Both on-duty couriers have no open pickup: the tie goes to "li".
	if bk.Zone != "pudong" || bk.Courier != "li" || bk.Warning != nil {
		t.Fatalf("booking %+v", bk)
	}
	// Default tariff: first kg ¥12, the 200 g beyond ¥5.
	if bk.Quote.Final != 1700 || bk.Quote.Base != 1700 || bk.Quote.Area != pickup.AnyArea {
		t.Fatalf("quote %+v", bk.Quote)
	}
	p := c.get(0, id)
	if p.Status != pickup.StatusAssigned || p.Courier != "li" || !p.AutoAssigned || p.Branch != "sh-pudong" ||
		p.EnteredBy != "agent" || p.Price != 1700 || p.Pieces != 1 || p.Number != bk.Number || p.Day != "20261123" {
		t.Fatalf("pickup %+v", p)
	}
	if len(p.History) != 2 || p.History[0].Status != pickup.StatusNew || p.History[1].Status != pickup.StatusAssigned ||
		p.History[1].Actor != "agent" {
		t.Fatalf("history %+v", p.History)
	}
	// The next booking goes to the courier with fewer open pickups.
	id2, bk2 := c.book(0, input())
	if bk2.Number != "P-sh-pudong-261123-0002" || bk2.Courier != "wang" {
		t.Fatalf("second booking %+v", bk2)
	}
	for _, ref := range []string{bk2.Number, bk2.Waybill, id2} {
		got, err := pickup.Find(c.views(0), ref)
		if err != nil || got.ID != id2 {
			t.Fatalf("find %s: %v, %v", ref, got, err)
		}
	}
	tr, err := pickup.Track(c.views(0), bk.Waybill)
	if err != nil || tr.Number != bk.Number || tr.Status != pickup.StatusAssigned || len(tr.History) != 2 || tr.History[1].Actor != "" {
		t.Fatalf("track %+v, %v", tr, err)
	}
	if _, err := pickup.Track(c.views(0), "sh-pudong-261123-0099"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("track unknown: %v", err)
	}
	// No courier on duty: the pickup waits, new.
	c.must(0, "disp", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.SetCourier(v, pickup.Courier{User: "li", Name: "李师傅", Extension: "8101", Zones: []string{"pudong"}})
	})
	c.must(0, "disp", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.SetCourier(v, pickup.Courier{User: "wang", Name: "王师傅", Extension: "8102", Zones: []string{"pudong"}})
	})
	id3, bk3 := c.book(0, input())
	if bk3.Courier != "" || c.get(0, id3).Status != pickup.StatusNew {
		t.Fatalf("booking without couriers on duty %+v", bk3)
	}
	// The next day numbers from 1 again.
	c.now = c.now.AddDate(0, 0, 1)
	if _, bk := c.book(0, input()); bk.Number != "P-sh-pudong-261124-0001" {
		t.Fatalf("next day %s", bk.Number)
	}
}

func TestCreateBadInput(t *testing.T) {
	c := newCluster(t, "sh-pudong")
	cust := c.fixture(0)
	existing, _ := c.book(0, input())
	cases := []struct {
		name     string
		edit     func(in *pickup.Input)
		id, node string
		code     string
		sentinel error
	}{
		{"no sender name", func(in *pickup.Input) { in.Sender.Name = " " }, "", "", "required", nil},
		{"bad phone", func(in *pickup.Input) { in.Sender.Phone = "call me" }, "", "", "bad_phone", nil},
		{"zero weight", func(in *pickup.Input) { in.WeightGrams = 0 }, "", "", "bad_weight", nil},
		{"negative weight", func(in *pickup.Input) { in.WeightGrams = -500 }, "", "", "bad_weight", nil},
		{"too heavy", func(in *pickup.Input) { in.WeightGrams = pickup.MaxWeightGrams + 1 }, "", "", "bad_weight", nil},
		{"negative pieces", func(in *pickup.Input) { in.Pieces = -1 }, "", "", "bad_pieces", nil},
		{"unknown payment", func(in *pickup.Input) { in.Payment = "barter" }, "", "", "bad_payment", nil},
		{"monthly without customer", func(in *pickup.Input) { in.Payment = pickup.PaymentMonthly }, "", "", "required", nil},
		{"unknown customer", func(in *pickup.Input) { in.Customer = newID() }, "", "", "unknown_customer", nil},
		{"bad customer id", func(in *pickup.Input) { in.Customer = "nobody" }, "", "", "bad_id", nil},
		{"unknown zone", func(in *pickup.Input) { in.Zone = "nowhere" }, "", "", "unknown_zone", nil},
		{"zone not an id", func(in *pickup.Input) { in.Zone = "浦东" }, "", "", "unknown_zone", nil},
		{"no zone covers the address", func(in *pickup.Input) {
			in.Sender.Address, in.Sender.Postcode = "北京市海淀区中关村大街 1 号", "100080"
		}, "", "", "no_zone", nil},
		{"no destination", func(in *pickup.Input) { in.Destination = "" }, "", "", "required", nil},
		{"no goods", func(in *pickup.Input) { in.Goods = "" }, "", "", "required", nil},
		{"NUL in note", func(in *pickup.Input) { in.Note = "a\x00b" }, "", "", "bad_text", nil},
		{"newline in name", func(in *pickup.Input) { in.Receiver.Name = "王\n五" }, "", "", "bad_text", nil},
		{"invalid UTF-8", func(in *pickup.Input) { in.Goods = "\xff" }, "", "", "bad_text", nil},
		{"address too long", func(in *pickup.Input) { in.Sender.Address = strings.Repeat("浦", 201) }, "", "", "too_long", nil},
		{"bad postcode", func(in *pickup.Input) { in.Sender.Postcode = "20 01" }, "", "", "bad_postcode", nil},
		{"bad id", func(*pickup.Input) {}, "not-a-ulid", "", "bad_id", nil},
		{"bad node", func(*pickup.Input) {}, "", "SH PUDONG", "bad_node", nil},
		{"existing id", func(*pickup.Input) {}, existing, "", "", fault.ErrConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := input()
			tc.edit(&in)
			id, node := tc.id, tc.node
			if id == "" {
				id = newID()
			}
			if node == "" {
				node = "sh-pudong"
			}
			before := c.reps[0].mem.Dump()
			_, err := c.exec(0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
				ds, _, err := pickup.Create(v, in, id, node, c.now)
				return ds, err
			})
			wantErr(t, err, tc.code, tc.sentinel)
			if !maps.Equal(before, c.reps[0].mem.Dump()) {
				t.Fatal("a refused booking changed the store")
			}
		})
	}
	// Monthly for a known customer is fine; an explicit zone overrides the address.
	in := input()
	in.Payment, in.Customer, in.Zone = pickup.PaymentMonthly, cust, "pudong"
	in.Sender.Address, in.Sender.Postcode = "北京市海淀区", ""
	if _, bk := c.book(0, in); bk.Zone != "pudong" {
		t.Fatalf("explicit zone: %+v", bk)
	}
}

// step runs a single-draft command at replica o and returns its error.
func step(c *cluster, o int, actor string, cmd func(v replication.Tx) ([]replication.Draft, error)) error {
	c.t.Helper()
	before := c.reps[o].mem.Dump()
	_, err := c.exec(o, actor, func(v replication.Tx) ([]replication.Draft, error) { return cmd(v) })
	if err != nil && !maps.Equal(before, c.reps[o].mem.Dump()) {
		c.t.Fatalf("a refused command changed the store")
	}
	return err
}

func TestWorkflow(t *testing.T) {
	c := newCluster(t, "sh-pudong")
	c.fixture(0)
	id, _ := c.book(0, input()) // assigned to li
	v := func() replication.Tx { return c.views(0) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	status := func(want string) {
		t.Helper()
		if p := c.get(0, id); p.Status != want {
			t.Fatalf("status %s, want %s", p.Status, want)
		}
	}

	// Another courier may not act on li's pickup.
	err := step(c, 0, "wang", func(v replication.Tx) ([]replication.Draft, error) { return pickup.Accept(v, id, "wang") })
	wantErr(t, err, "", fault.ErrDenied)
	err = step(c, 0, "wang", func(v replication.Tx) ([]replication.Draft, error) { return pickup.PickUp(v, id, "wang", 1000, 0) })
	wantErr(t, err, "", fault.ErrDenied)
	// An agent of another branch may not cancel it.
	err = step(c, 0, "agent2", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.Cancel(v, id, "bj-haidian", "customer asked")
	})
	wantErr(t, err, "", fault.ErrDenied)
	if !strings.Contains(err.Error(), "belongs to branch sh-pudong") {
		t.Fatalf("denial %q does not say whose it is", err)
	}

	_, err = pickup.Notify(v(), id, "nope")
	wantErr(t, err, "bad_id", nil)
	msg := newID()
	must(step(c, 0, "system", func(v replication.Tx) ([]replication.Draft, error) { return pickup.Notify(v, id, msg) }))
	status(pickup.StatusNotified)
	if p := c.get(0, id); p.MessageID != msg || p.NotifiedAt.IsZero() {
		t.Fatalf("notified %+v", p)
	}
	must(step(c, 0, "li", func(v replication.Tx) ([]replication.Draft, error) { return pickup.Accept(v, id, "li") }))
	status(pickup.StatusAccepted)
	err = step(c, 0, "li", func(v replication.Tx) ([]replication.Draft, error) { return pickup.Accept(v, id, "li") })
	wantErr(t, err, "", fault.ErrConflict)

	// Edits at the branch.
	must(step(c, 0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
		return one(pickup.Edit(v, id, "sh-pudong", map[string]string{"receiver_name": "王六", "pieces": "2"}))
	}))
	if p := c.get(0, id); p.Receiver.Name != "王六" || p.Pieces != 2 {
		t.Fatalf("edited %+v", p)
	}
	err = step(c, 0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
		return one(pickup.Edit(v, id, "sh-pudong", map[string]string{"weight_grams": "1"}))
	})
	wantErr(t, err, "unknown_field", nil)
	err = step(c, 0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
		return one(pickup.Edit(v, id, "bj-haidian", map[string]string{"note": "x"}))
	})
	wantErr(t, err, "", fault.ErrDenied)

	err = step(c, 0, "li", func(v replication.Tx) ([]replication.Draft, error) { return pickup.PickUp(v, id, "li", 0, 0) })
	wantErr(t, err, "bad_weight", nil)
	err = step(c, 0, "li", func(v replication.Tx) ([]replication.Draft, error) { return pickup.PickUp(v, id, "li", -5, 0) })
	wantErr(t, err, "bad_weight", nil)
	err = step(c, 0, "li", func(v replication.Tx) ([]replication.Draft, error) { return pickup.PickUp(v, id, "li", 1000, -1) })
	wantErr(t, err, "bad_amount", nil)
	must(step(c, 0, "li", func(v replication.Tx) ([]replication.Draft, error) { return pickup.PickUp(v, id, "li", 2500, 0) }))
	status(pickup.StatusPickedUp)
	// Priced by the actual weight: first kg ¥12 + 2 × ¥5.
	if p := c.get(0, id); p.ActualWeight != 2500 || p.ActualPrice != 2200 || p.PickedUpBy != "li" {
		t.Fatalf("picked up %+v", p)
	}
	for name, cmd := range map[string]func(v replication.Tx) ([]replication.Draft, error){
		"cancel": func(v replication.Tx) ([]replication.Draft, error) {
			return pickup.Cancel(v, id, "sh-pudong", "too late")
		},
		"reassign": func(v replication.Tx) ([]replication.Draft, error) {
			return pickup.Reassign(v, id, "sh-pudong", "wang")
		},
		"fail":    func(v replication.Tx) ([]replication.Draft, error) { return pickup.Fail(v, id, "li", "no one home") },
		"pick up": func(v replication.Tx) ([]replication.Draft, error) { return pickup.PickUp(v, id, "li", 1000, 0) },
		"edit": func(v replication.Tx) ([]replication.Draft, error) {
			return one(pickup.Edit(v, id, "sh-pudong", map[string]string{"note": "x"}))
		},
	} {
		wantErr(t, step(c, 0, "agent", cmd), "", fault.ErrConflict)
		_ = name
	}
	err = step(c, 0, "agent", func(v replication.Tx) ([]replication.Draft, error) { return pickup.Check(v, id, "bj-haidian", "") })
	wantErr(t, err, "", fault.ErrDenied)
	must(step(c, 0, "agent", func(v replication.Tx) ([]replication.Draft, error) { return pickup.Check(v, id, "sh-pudong", "ok") }))
	status(pickup.StatusChecked)
	err = step(c, 0, "agent", func(v replication.Tx) ([]replication.Draft, error) { return pickup.Check(v, id, "sh-pudong", "") })
	wantErr(t, err, "", fault.ErrConflict)
	var steps []string
	for _, s := range c.get(0, id).History {
		steps = append(steps, s.Status)
	}
	if got := strings.Join(steps, " "); got != "new assigned notified accepted edited picked_up checked" {
		t.Fatalf("history %s", got)
	}
}

func TestReassignFailCancel(t *testing.T) {
	c := newCluster(t, "sh-pudong")
	c.fixture(0)
	id, _ := c.book(0, input()) // li
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	err := step(c, 0, "disp", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.Reassign(v, id, "sh-pudong", "nobody")
	})
	wantErr(t, err, "unknown_courier", nil)
	err = step(c, 0, "disp", func(v replication.Tx) ([]replication.Draft, error) { return pickup.Reassign(v, id, "sh-pudong", "li") })
	wantErr(t, err, "", fault.ErrConflict)
	err = step(c, 0, "disp", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.Reassign(v, id, "bj-haidian", "wang")
	})
	wantErr(t, err, "", fault.ErrDenied)
	must(step(c, 0, "li", func(v replication.Tx) ([]replication.Draft, error) { return pickup.Accept(v, id, "li") }))
	must(step(c, 0, "disp", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.Reassign(v, id, "sh-pudong", "wang")
	}))
	// The reassignment starts afresh: wang's pickup is assigned, not
	// accepted, and li may no longer act on it.
	if p := c.get(0, id); p.Status != pickup.StatusAssigned || p.Courier != "wang" || !p.AcceptedAt.IsZero() || p.AutoAssigned {
		t.Fatalf("after reassign %+v", p)
	}
	wantErr(t, step(c, 0, "li", func(v replication.Tx) ([]replication.Draft, error) { return pickup.Accept(v, id, "li") }), "", fault.ErrDenied)
	wantErr(t, step(c, 0, "wang", func(v replication.Tx) ([]replication.Draft, error) { return pickup.Fail(v, id, "wang", " ") }), "required", nil)
	must(step(c, 0, "wang", func(v replication.Tx) ([]replication.Draft, error) { return pickup.Fail(v, id, "wang", "no one home") }))
	if p := c.get(0, id); p.Status != pickup.StatusFailed || p.FailedBy != "wang" || p.FailReason != "no one home" {
		t.Fatalf("failed %+v", p)
	}
	wantErr(t, step(c, 0, "wang", func(v replication.Tx) ([]replication.Draft, error) { return pickup.PickUp(v, id, "wang", 100, 0) }), "", fault.ErrConflict)
	// A failed pickup is retried by reassigning it, to the same courier too.
	must(step(c, 0, "disp", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.Reassign(v, id, "sh-pudong", "wang")
	}))
	if p := c.get(0, id); p.Status != pickup.StatusAssigned || p.FailedBy != "" {
		t.Fatalf("retried %+v", p)
	}
	wantErr(t, step(c, 0, "agent", func(v replication.Tx) ([]replication.Draft, error) { return pickup.Cancel(v, id, "sh-pudong", "") }), "required", nil)
	must(step(c, 0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.Cancel(v, id, "sh-pudong", "customer cancelled")
	}))
	p := c.get(0, id)
	if p.Status != pickup.StatusCancelled || p.CancelledBy != "agent" || p.CancelReason != "customer cancelled" || len(p.Conflicts) != 0 {
		t.Fatalf("cancelled %+v", p)
	}
	for _, cmd := range []func(v replication.Tx) ([]replication.Draft, error){
		func(v replication.Tx) ([]replication.Draft, error) { return pickup.PickUp(v, id, "wang", 100, 0) },
		func(v replication.Tx) ([]replication.Draft, error) { return pickup.Accept(v, id, "wang") },
		func(v replication.Tx) ([]replication.Draft, error) { return pickup.Cancel(v, id, "sh-pudong", "again") },
		func(v replication.Tx) ([]replication.Draft, error) { return pickup.Reassign(v, id, "sh-pudong", "li") },
		func(v replication.Tx) ([]replication.Draft, error) { return pickup.Check(v, id, "sh-pudong", "") },
		func(v replication.Tx) ([]replication.Draft, error) { return pickup.Notify(v, id, newID()) },
	} {
		wantErr(t, step(c, 0, "x", cmd), "", fault.ErrConflict)
	}
	if _, err := pickup.Get(c.views(0), newID()); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}
	wantErr(t, step(c, 0, "li", func(v replication.Tx) ([]replication.Draft, error) { return pickup.Accept(v, newID(), "li") }), "", fault.ErrNotFound)
}

// TestPickUpBeatsCancel is the rule the issue insists on: during an
// outage the courier picks up (their phone reached another branch's node)
// while the agent cancels at the branch; after healing, whatever the order
// the events arrive in, the pick-up stands on every replica and the cancel
// is a conflict record listed for the branch.
func TestPickUpBeatsCancel(t *testing.T) {
	for _, cancelFirst := range []bool{true, false} {
		c := newCluster(t, "sh-pudong", "sh-minhang", "hub")
		c.fixture(0)
		id, _ := c.book(0, input()) // li
		c.sync()
		c.now = c.now.Add(10 * 60e9)
		pick := func() {
			if err := step(c, 1, "li", func(v replication.Tx) ([]replication.Draft, error) { return pickup.PickUp(v, id, "li", 1300, 1800) }); err != nil {
				t.Fatal(err)
			}
		}
		cancel := func() {
			if err := step(c, 0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
				return pickup.Cancel(v, id, "sh-pudong", "customer cancelled")
			}); err != nil {
				t.Fatal(err)
			}
		}
		if cancelFirst {
			cancel()
			c.now = c.now.Add(1e9)
			pick()
		} else {
			pick()
			c.now = c.now.Add(1e9)
			cancel()
		}
		// The hub hears of the cancel first, the branch of the pick-up.
		c.deliver(2, 0, 100)
		c.deliver(2, 1, 100)
		c.sync()
		d := c.digest(0)
		for o := range c.reps {
			if c.digest(o) != d {
				t.Fatalf("replica %s diverged", c.reps[o].name)
			}
			p := c.get(o, id)
			if p.Status != pickup.StatusPickedUp || p.ActualPrice != 1800 || p.PickedUpBy != "li" {
				t.Fatalf("at %s: %+v", c.reps[o].name, p)
			}
			cs, err := pickup.Conflicts(c.views(o), "sh-pudong")
			if err != nil || len(cs) != 1 {
				t.Fatalf("conflicts at %s: %+v, %v", c.reps[o].name, cs, err)
			}
			cf := cs[0]
			if cf.Lost != pickup.StatusCancelled || cf.LostBy != "agent" || cf.Detail != "customer cancelled" ||
				cf.Won != pickup.StatusPickedUp || cf.WonBy != "li" || cf.Pickup != id || cf.LostAt.IsZero() {
				t.Fatalf("conflict %+v", cf)
			}
			if cs, _ := pickup.Conflicts(c.views(o), "sh-minhang"); len(cs) != 0 {
				t.Fatalf("conflicts listed for another branch: %+v", cs)
			}
		}
		// The losing cancel stays in the history.
		var steps []string
		for _, s := range c.get(0, id).History {
			steps = append(steps, s.Status)
		}
		if !strings.Contains(strings.Join(steps, " "), pickup.StatusCancelled) {
			t.Fatalf("history lost the cancel: %v", steps)
		}
	}
}

func TestZoneFor(t *testing.T) {
	c := newCluster(t, "sh-pudong")
	for _, z := range []pickup.Zone{
		{ID: "pudong", Name: "浦东", Districts: []string{"浦东新区"}, Postcodes: []string{"2001"}},
		{ID: "zhangjiang", Name: "张江", Keywords: []string{"张江", "浦东新区张江镇"}, Postcodes: []string{"201203"}},
		{ID: "minhang", Name: "闵行", Districts: []string{"闵行区"}, Postcodes: []string{"2011"}},
		{ID: "aaa", Name: "dup", Districts: []string{"徐汇区"}},
		{ID: "bbb", Name: "dup", Districts: []string{"徐汇区"}},
	} {
		c.must(0, "disp", func(v replication.Tx) ([]replication.Draft, error) { return one(pickup.SetZone(v, z)) })
	}
	cases := []struct{ address, postcode, want, code string }{
		{"上海市浦东新区张杨路 500 号", "200120", "pudong", ""},
		{"上海市浦东新区张江镇科苑路 88 号", "201203", "zhangjiang", ""}, // longest postcode prefix
		{"上海市浦东新区张江镇科苑路 88 号", "", "zhangjiang", ""},       // longest keyword
		{"上海市浦东新区张杨路 500 号", "", "pudong", ""},
		{"上海市闵行区", "", "minhang", ""},
		{"somewhere", "201100", "minhang", ""},
		{"上海市闵行区", "200120", "pudong", ""}, // the postcode decides first
		{"上海市徐汇区", "", "aaa", ""},          // a tie goes to the lower id
		{"北京市海淀区", "100080", "", "no_zone"},
	}
	for _, tc := range cases {
		got, err := pickup.ZoneFor(c.views(0), tc.address, tc.postcode)
		if tc.code != "" {
			wantErr(t, err, tc.code, nil)
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ZoneFor(%q, %q) = %q, %v; want %q", tc.address, tc.postcode, got, err, tc.want)
		}
	}
	// A removed zone matches nothing; setting it again brings it back.
	c.must(0, "disp", func(v replication.Tx) ([]replication.Draft, error) { return one(pickup.RemoveZone(v, "minhang")) })
	if _, err := pickup.ZoneFor(c.views(0), "上海市闵行区", ""); err == nil {
		t.Fatal("a removed zone still matches")
	}
	if _, err := c.exec(0, "disp", func(v replication.Tx) ([]replication.Draft, error) { return one(pickup.RemoveZone(v, "minhang")) }); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
	c.must(0, "disp", func(v replication.Tx) ([]replication.Draft, error) {
		return one(pickup.SetZone(v, pickup.Zone{ID: "minhang", Name: "闵行", Districts: []string{"闵行区"}}))
	})
	if got, err := pickup.ZoneFor(c.views(0), "上海市闵行区", ""); err != nil || got != "minhang" {
		t.Fatalf("restored zone: %q, %v", got, err)
	}
	for _, bad := range []pickup.Zone{
		{ID: "Bad Id", Name: "x"},
		{ID: "ok", Name: ""},
		{ID: "ok", Name: "x", Postcodes: []string{"二〇〇"}},
		{ID: "ok", Name: "x", Postcodes: []string{"2 1"}},
		{ID: "ok", Name: "x", Keywords: []string{"a,b"}},
		{ID: "ok", Name: "x", Districts: []string{"a\nb"}},
	} {
		if _, err := pickup.SetZone(c.views(0), bad); err == nil {
			t.Errorf("SetZone(%+v) accepted", bad)
		}
	}
	zs, err := pickup.ListZones(c.views(0))
	if err != nil || len(zs) != 5 || zs[0].ID != "aaa" {
		t.Fatalf("zones %+v, %v", zs, err)
	}
}

func TestCouriers(t *testing.T) {
	c := newCluster(t, "sh-pudong")
	c.fixture(0)
	c.must(0, "disp", func(v replication.Tx) ([]replication.Draft, error) {
		return one(pickup.SetZone(v, pickup.Zone{ID: "minhang", Name: "闵行", Districts: []string{"闵行区"}}))
	})
	_, err := c.exec(0, "disp", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.SetCourier(v, pickup.Courier{User: "li", Name: "李师傅", Zones: []string{"nowhere"}})
	})
	wantErr(t, err, "unknown_zone", nil)
	for _, bad := range []pickup.Courier{
		{User: "bad user", Name: "x"},
		{User: "li", Name: ""},
		{User: "li", Name: "x", Extension: "12ab"},
	} {
		if _, err := pickup.SetCourier(c.views(0), bad); err == nil {
			t.Errorf("SetCourier(%+v) accepted", bad)
		}
	}
	// li moves to minhang: one add, one remove.
	evs := c.must(0, "disp", func(v replication.Tx) ([]replication.Draft, error) {
		return pickup.SetCourier(v, pickup.Courier{User: "li", Name: "李师傅", Extension: "8101", OnDuty: true, Zones: []string{"minhang"}})
	})
	if len(evs) != 2 || evs[0].Kind != pickup.KindCourierZoneAdded || evs[1].Kind != pickup.KindCourierZoneRemoved {
		t.Fatalf("events %v", evs)
	}
	cs, err := pickup.CouriersOf(c.views(0), "pudong")
	if err != nil || len(cs) != 2 || cs[0].User != "wang" || cs[1].User != "zhao" {
		t.Fatalf("pudong couriers %+v, %v", cs, err)
	}
	// zhao is off duty: never chosen.
	for range 3 {
		if _, bk := c.book(0, input()); bk.Courier != "wang" {
			t.Fatalf("booked for %q", bk.Courier)
		}
	}
	w, ok, err := pickup.GetCourier(c.views(0), "wang")
	if err != nil || !ok || w.Open != 3 || !w.OnDuty || w.Extension != "8102" {
		t.Fatalf("wang %+v %v %v", w, ok, err)
	}
	all, err := pickup.ListCouriers(c.views(0))
	if err != nil || len(all) != 3 || all[0].User != "li" || all[0].Zones[0] != "minhang" {
		t.Fatalf("couriers %+v, %v", all, err)
	}
}

func TestDispatchText(t *testing.T) {
	p := pickup.Pickup{Number: "P-sh-pudong-261123-0007", Sender: pickup.Party{Name: "张三", Phone: "13800000001",
		Address: "上海市浦东新区张杨路 500 号"}, Goods: "文件", WeightGrams: 2500, Pieces: 2, Payment: pickup.PaymentCollect, Note: "下午三点后"}
	got := pickup.DispatchText(p)
	want := "【派件】P-sh-pudong-261123-0007  寄件人 张三 13800000001  地址 上海市浦东新区张杨路 500 号  货物 文件  重量 2.5kg  2件  到付  备注 下午三点后"
	if got != want {
		t.Fatalf("DispatchText =\n%s\nwant\n%s", got, want)
	}
	for _, long := range []pickup.Pickup{
		{Number: p.Number, Sender: p.Sender, Goods: strings.Repeat("货", 100), WeightGrams: 1000, Note: strings.Repeat("备", 200)},
		{Number: p.Number, Sender: pickup.Party{Name: "张三", Address: strings.Repeat("路", 200)}, Goods: "x", WeightGrams: 1},
	} {
		got := pickup.DispatchText(long)
		if len(got) > pickup.MaxDispatchText || !utf8.ValidString(got) || !strings.Contains(got, p.Number) {
			t.Fatalf("long DispatchText: %d bytes, %q", len(got), got)
		}
	}
}

// TestCreateSenderPhoneFromCustomer: a booking for an existing customer
// without a sender phone (the agent sees the customer's numbers masked)
// takes the customer's number from the record.
func TestCreateSenderPhoneFromCustomer(t *testing.T) {
	c := newCluster(t, "sh-pudong")
	bare := c.fixture(0)
	cust := newID()
	c.must(0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
		return one(crm.CreateCustomer(v, cust, map[string]string{"display_name": "李四物流", "mobile": "13800138000", "phone": "021 5555 6666"}))
	})
	in := input()
	in.Customer, in.Sender.Phone = cust, ""
	id, _ := c.book(0, in)
	if got := c.get(0, id).Sender.Phone; got != "+8613800138000" {
		t.Fatalf("sender phone %q, want the customer's mobile", got)
	}
	// A number the agent types stands.
	in.Sender.Phone = "13900000002"
	if id, _ := c.book(0, in); c.get(0, id).Sender.Phone == "+8613800138000" {
		t.Fatal("the typed sender phone was replaced by the customer's")
	}
	// A customer without a number: the phone is still required.
	in.Customer, in.Sender.Phone = bare, ""
	before := c.reps[0].mem.Dump()
	_, err := c.exec(0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
		ds, _, err := pickup.Create(v, in, newID(), "sh-pudong", c.now)
		return ds, err
	})
	wantErr(t, err, "required", nil)
	if !maps.Equal(before, c.reps[0].mem.Dump()) {
		t.Fatal("a refused booking changed the store")
	}
}

// TestPhonesNormalised: the sender's and the receiver's phone numbers
// are stored in E.164, through the normaliser crm uses for customers, at
// booking and at an edit; a number that is not one is a field error on
// that party's phone and changes nothing.
func TestPhonesNormalised(t *testing.T) {
	c := newCluster(t, "sh-pudong")
	c.fixture(0)
	for _, tc := range []struct {
		name         string
		sender, recv string
		wantS, wantR string
		field, code  string
	}{
		{"mobiles as typed", "138 0000 0001", "139-0000-0009", "+8613800000001", "+8613900000009", "", ""},
		{"landline with area code", "021 6234 5678", "(010) 8888 6666", "+862162345678", "+861088886666", "", ""},
		{"already E.164", "+8613800000001", "+85291234567", "+8613800000001", "+85291234567", "", ""},
		{"no receiver phone", "13800000001", "", "+8613800000001", "", "", ""},
		{"receiver too short", "13800000001", "12345", "", "", "receiver.phone", "bad_phone"},
		{"receiver not a number of the region", "13800000001", "000 0000", "", "", "receiver.phone", "bad_phone"},
		{"sender not a number", "138 0013 800", "13900000009", "", "", "sender.phone", "bad_phone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input()
			in.Sender.Phone, in.Receiver.Phone = tc.sender, tc.recv
			if tc.code == "" {
				id, _ := c.book(0, in)
				p := c.get(0, id)
				if p.Sender.Phone != tc.wantS || p.Receiver.Phone != tc.wantR {
					t.Fatalf("stored %q / %q, want %q / %q", p.Sender.Phone, p.Receiver.Phone, tc.wantS, tc.wantR)
				}
				return
			}
			before := c.reps[0].mem.Dump()
			_, err := c.exec(0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
				ds, _, err := pickup.Create(v, in, newID(), "sh-pudong", c.now)
				return ds, err
			})
			inv, ok := fault.AsInvalid(err)
			if !ok || inv.Field != tc.field || inv.Code != tc.code {
				t.Fatalf("error %v, want %s on %s", err, tc.code, tc.field)
			}
			if !maps.Equal(before, c.reps[0].mem.Dump()) {
				t.Fatal("a refused booking changed the store")
			}
		})
	}
	// An edit normalises too, and refuses what is not a number.
	id, _ := c.book(0, input())
	for _, tc := range []struct {
		field, value, want, code string
	}{
		{"receiver_phone", "010 8888 6666", "+861088886666", ""},
		{"sender_phone", "138-0000-0002", "+8613800000002", ""},
		{"receiver_phone", "12345", "", "bad_phone"},
	} {
		before := c.reps[0].mem.Dump()
		_, err := c.exec(0, "agent", func(v replication.Tx) ([]replication.Draft, error) {
			return one(pickup.Edit(v, id, "sh-pudong", map[string]string{tc.field: tc.value}))
		})
		if tc.code != "" {
			wantErr(t, err, tc.code, nil)
			if !maps.Equal(before, c.reps[0].mem.Dump()) {
				t.Fatal("a refused edit changed the store")
			}
			continue
		}
		if err != nil {
			t.Fatalf("edit %s=%q: %v", tc.field, tc.value, err)
		}
		p := c.get(0, id)
		if got := map[string]string{"receiver_phone": p.Receiver.Phone, "sender_phone": p.Sender.Phone}[tc.field]; got != tc.want {
			t.Fatalf("edit %s=%q stored %q, want %q", tc.field, tc.value, got, tc.want)
		}
	}
}
