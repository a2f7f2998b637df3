package warehouse

import (
	"fmt"
	"testing"

	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
)

func addSellers(t tb, r *replica, wh string, nodes ...string) {
	t.Helper()
	for _, n := range nodes {
		r.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(AddSeller(v, wh, n)) })
	}
}

func shareOf(t tb, r *replica, wh, p, node string) int64 {
	t.Helper()
	n, err := replication.GetCounter(r.view(), shareKey(wh, p, node))
	if err != nil {
		t.Fatalf("share: %v", err)
	}
	return n
}

func TestEscrowFlow(t *testing.T) {
	w := newWorld(t)
	hub := newReplica(t, w.s, replication.HubOrigin, w.reg)
	n1 := newReplica(t, w.s, "n1", w.reg)
	n2 := newReplica(t, w.s, "n2", w.reg)
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P2", Bin: "G1", Qty: 10}, ReceiptLine{Product: "P2", Bin: "D", Qty: 5})
	addSellers(t, w.wa, "A", "n1", "n2")
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Offer(v, "wa") })
	if e, _ := GetEscrow(w.wa.view(), "A", "P2"); e.Pool != 10 || e.Free != 0 || e.Backing != 10 {
		t.Fatalf("after offer %+v", e)
	}
	if d, _ := Offer(w.wa.view(), "wa"); len(d) != 0 {
		t.Fatal("nothing more to offer")
	}
	hub.pull(t, w.wa, -1)
	hub.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Rebalance(v, w.s.now) })
	for _, n := range []*replica{n1, n2} {
		n.pull(t, w.wa, -1)
		n.pull(t, hub, -1)
	}
	if shareOf(t, n1, "A", "P2", "n1") != 5 || shareOf(t, n2, "A", "P2", "n2") != 5 {
		t.Fatal("shares after rebalance")
	}
	r1, r2 := newID(), newID()
	n1.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(Reserve(v, "n1", r1, ReserveSpec{Warehouse: "A", Product: "P2", Qty: 4, Ref: "SO-1"}, w.s.now))
	})
	before := n1.digest(t)
	_, err := n1.exec(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(Reserve(v, "n1", r2, ReserveSpec{Warehouse: "A", Product: "P2", Qty: 2, Ref: "SO-2"}, w.s.now))
	})
	wantCode(t, err, "insufficient_share")
	if n1.digest(t) != before {
		t.Fatal("a refused reservation changed the views")
	}
	// The notice hands r1 to the warehouse: n1 can no longer release it,
	// and wa cannot ship it before it sees the notice.
	_, err = w.wa.exec(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(Ship(v, "wa", r1, w.s.now))
	})
	if !isNotFound(err) {
		t.Fatalf("ship of an unknown reservation: %v", err)
	}
	w.wa.pull(t, n1, -1)
	_, err = w.wa.exec(t, func(v replication.Tx) ([]replication.Draft, error) { return one(Ship(v, "wa", r1, w.s.now)) })
	wantErr(t, err, fault.ErrDenied)
	nid := newID()
	n1.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(CreateNotice(v, "n1", nid, NoticeSpec{Warehouse: "A", Ref: "SO-1", Reservations: []string{r1}}, w.s.now))
	})
	_, err = n1.exec(t, func(v replication.Tx) ([]replication.Draft, error) { return one(Release(v, "n1", r1, "")) })
	wantErr(t, err, fault.ErrDenied)
	w.wa.pull(t, n1, -1)
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return ConfirmNotice(v, "wa", nid, w.s.now) })
	e, err := GetEscrow(w.wa.view(), "A", "P2")
	if err != nil || e.Backing != 6 || e.Free != 0 {
		t.Fatalf("after shipping %+v, %v", e, err)
	}
	if st, _ := GetStock(w.wa.view(), "A", "P2"); st.Good != 6 || st.Reserved != 0 {
		t.Fatalf("stock after shipping %+v", st)
	}
	if n, _ := GetNotice(w.wa.view(), nid); n.Status != NoticeConfirmed {
		t.Fatalf("notice = %+v", n)
	}
	// n2 sells its whole share offline, then releases one back into it.
	r3 := newID()
	n2.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(Reserve(v, "n2", r3, ReserveSpec{Warehouse: "A", Product: "P2", Qty: 5, Ref: "SO-3"}, w.s.now))
	})
	n2.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(Release(v, "n2", r3, "")) })
	if shareOf(t, n2, "A", "P2", "n2") != 5 {
		t.Fatal("a release credits the share back")
	}
	// n1 holds 1, n2 holds 5: n2's fair share of 6 is 3; it returns 2
	// and the hub grants them to n1.
	exchange(t, w.wa, hub, n1, n2)
	n2.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Surplus(v, "n2") })
	hub.pull(t, n2, -1)
	hub.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Rebalance(v, w.s.now) })
	exchange(t, w.wa, hub, n1, n2)
	e, _ = GetEscrow(n1.view(), "A", "P2")
	if e.Pool != 0 || len(e.Shares) != 2 || e.Shares[0].Balance != 3 || e.Shares[1].Balance != 3 || e.Shares[0].Target != 3 {
		t.Fatalf("rebalanced %+v", e)
	}
	// n2 stops selling: its share goes back, the hub grants it to n1.
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(RemoveSeller(v, "A", "n2")) })
	exchange(t, w.wa, hub, n1, n2)
	n2.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Surplus(v, "n2") })
	exchange(t, w.wa, hub, n1, n2)
	hub.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Rebalance(v, w.s.now) })
	exchange(t, w.wa, hub, n1, n2)
	if shareOf(t, n1, "A", "P2", "n1") != 6 || shareOf(t, n1, "A", "P2", "n2") != 0 {
		t.Fatalf("after n2 left: %+v", must(GetEscrow(n1.view(), "A", "P2")))
	}
	// No sellers left: the hub gives the pool back to the warehouse.
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(RemoveSeller(v, "A", "n1")) })
	exchange(t, w.wa, hub, n1, n2)
	n1.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Surplus(v, "n1") })
	exchange(t, w.wa, hub, n1, n2)
	hub.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Rebalance(v, w.s.now) })
	exchange(t, w.wa, hub, n1, n2)
	e, _ = GetEscrow(w.wa.view(), "A", "P2")
	if e.Pool != 0 || e.Backing != 0 || e.Free != 6 || e.Reclaimed != 6 {
		t.Fatalf("reclaimed %+v", e)
	}
	d := w.wa.digest(t)
	for _, r := range []*replica{hub, n1, n2} {
		if r.digest(t) != d {
			t.Fatalf("%s differs", r.name)
		}
	}
	list, _, err := ListEscrow(hub.view(), "A", "", 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListEscrow = %v, %v", list, err)
	}
}

// TestEscrowHubOnly: the events only the hub makes are refused from
// anyone else.
func TestEscrowHubOnly(t *testing.T) {
	reg := newRegistry()
	for _, d := range []replication.Draft{
		{Kind: KindEscrowGranted, Entity: EscrowEntity("A", "P2"), Body: &whv1.EscrowGranted{Node: "n1", Qty: 5}},
		{Kind: KindEscrowReclaimed, Entity: EscrowEntity("A", "P2"), Body: &whv1.EscrowReclaimed{Qty: 5}},
		{Kind: KindEscrowTarget, Entity: EscrowEntity("A", "P2"), Body: &whv1.EscrowTargets{Targets: []*whv1.NodeQty{{Node: "n1", Qty: 5}}}},
	} {
		body, _ := marshal.Marshal(d.Body)
		ev := &replication.Event{Origin: "n1", Seq: 1, HLC: 1, Kind: d.Kind, Entity: d.Entity, Body: body}
		if err := reg.Check(ev); err == nil {
			t.Fatalf("%s from n1 accepted", d.Kind)
		}
		ev.Origin = replication.HubOrigin
		if err := reg.Check(ev); err != nil {
			t.Fatalf("%s from the hub refused: %v", d.Kind, err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprint("unexpected: ", err))
	}
	return v
}

// TestRefuseForeignRelease: the hub takes back at once what a node that
// does not own the warehouse released into the pool, and leaves the
// owner's releases alone.
func TestRefuseForeignRelease(t *testing.T) {
	w := newWorld(t)
	hub := newReplica(t, w.s, replication.HubOrigin, w.reg)
	rogue := newReplica(t, w.s, "rogue", w.reg)
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P2", Bin: "G1", Qty: 10})
	addSellers(t, w.wa, "A", "rogue")
	own := w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Offer(v, "wa") })
	hub.pull(t, w.wa, -1)
	rogue.pull(t, w.wa, -1)
	for _, ev := range own {
		if d, err := RefuseForeignRelease(hub.view(), ev); err != nil || len(d) != 0 {
			t.Fatalf("the owner's %s refused: %v, %v", ev, d, err)
		}
	}
	// The rogue node writes a release of the owner's stock.
	forged := rogue.must(t, func(replication.Tx) ([]replication.Draft, error) {
		return []replication.Draft{{Kind: KindEscrowReleased, Entity: EscrowEntity("A", "P2"), Body: &whv1.EscrowReleased{Qty: 50}}}, nil
	})
	hub.receive(t, forged...)
	d, err := RefuseForeignRelease(hub.view(), forged[0])
	if err != nil || len(d) != 1 || d[0].Kind != KindEscrowReclaimed {
		t.Fatalf("foreign release: %v, %v; want one reclaim", d, err)
	}
	if b := d[0].Body.(*whv1.EscrowReclaimed); b.GetQty() != 50 || b.GetRefusedOrigin() != "rogue" {
		t.Fatalf("reclaim %v", b)
	}
	hub.must(t, func(replication.Tx) ([]replication.Draft, error) { return d, nil })
	if e, _ := GetEscrow(hub.view(), "A", "P2"); e.Pool != 10 || e.Backing != 10 {
		t.Fatalf("after the refusal the pool is %d, backing %d; want the owner's 10", e.Pool, e.Backing)
	}
	// Another kind from a node that owns nothing, or a release into an
	// unknown warehouse.
	other := *forged[0]
	other.Kind = KindEscrowReturned
	if d, err := RefuseForeignRelease(hub.view(), &other); err != nil || len(d) != 0 {
		t.Fatalf("a return was refused: %v, %v", d, err)
	}
	unknown := rogue.must(t, func(replication.Tx) ([]replication.Draft, error) {
		return []replication.Draft{{Kind: KindEscrowReleased, Entity: EscrowEntity("ZZ", "P2"), Body: &whv1.EscrowReleased{Qty: 1}}}, nil
	})
	if d, err := RefuseForeignRelease(hub.view(), unknown[0]); err != nil || len(d) != 1 {
		t.Fatalf("release into an unknown warehouse: %v, %v; want a reclaim", d, err)
	}
}

// OfferChanged offers from the pairs its feed names, as Offer offers from
// every pair; a change to the warehouse itself ("wh\0*") means all of its
// products; the feed names the pairs whose free stock a write may change.
func TestOfferChanged(t *testing.T) {
	w := newWorld(t)
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P1", Bin: "G1", Batch: "L1", Qty: 3}, ReceiptLine{Product: "P2", Bin: "G1", Qty: 10})
	addSellers(t, w.wa, "A", "n1")
	cases := []struct {
		name    string
		changed []string
		want    map[string]int64 // product → released
	}{
		{"only P2 changed", []string{"A\x00P2"}, map[string]int64{"P2": 10}},
		{"another warehouse's pair", []string{"B\x00P1"}, map[string]int64{}},
		{"the warehouse changed", []string{"A\x00*"}, map[string]int64{"P1": 3, "P2": 10}},
		{"a first run: everything", nil, map[string]int64{"P1": 3, "P2": 10}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			drafts, complete, err := OfferChanged(w.wa.view(), "wa", c.changed)
			if err != nil || !complete {
				t.Fatalf("OfferChanged = %v, %v", complete, err)
			}
			got := map[string]int64{}
			for _, d := range drafts {
				_, p, _ := escrowOf(&replication.Event{Entity: d.Entity})
				got[p] += d.Body.(*whv1.EscrowReleased).GetQty()
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("released %v, want %v", got, c.want)
			}
		})
	}
	for key, want := range map[string]string{
		string(key("s", "A", "P2", "G1", "b1")): "A\x00P2",
		string(key("rl", "A", "P2")):            "A\x00P2",
		string(key("eb", "A", "P2")):            "A\x00P2",
		string(key("lim", "A", "P2", "safety")): "A\x00P2",
		string(key("w", "A", "owner")):          "A\x00*",
		string(key("sel", "A", "n1")):           "A\x00*",
	} {
		if got, ok := watchOffer([]byte(key)); !ok || got != want {
			t.Errorf("watchOffer(%q) = %q, %v; want %q", key, got, ok, want)
		}
	}
	if _, ok := watchOffer(key("p", "P2", "name")); ok {
		t.Error("a product's name changes no free stock")
	}
}
