package warehouse

import (
	"testing"
	"time"

	"branchline/replication"
	"branchline/replication/reptest"
)

// fuzzBase makes views holding a bit of everything, and the events that
// made them (the seed corpus).
func fuzzBase(t tb) (*world, []*replication.Event) {
	w := newWorld(t)
	hub := newReplica(t, w.s, replication.HubOrigin, w.reg)
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P1", Bin: "G1", Batch: "B1", Qty: 9}, ReceiptLine{Product: "P2", Bin: "G1", Qty: 9},
		ReceiptLine{Product: "P3", Bin: "G2", Batch: "E1", Qty: 3})
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(SetLimit(v, Limit{Warehouse: "A", Product: "P2", Min: 3, Safety: 1}, nil))
	})
	po := newID()
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(CreatePurchaseOrder(v, po, PurchaseSpec{Warehouse: "A", Supplier: "s", Lines: []POLine{{Product: "P2", Ordered: 2}}}, w.s.now))
	})
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordReceipt(v, "wa", newID(), Receipt{Warehouse: "A", PurchaseOrder: po, Lines: []ReceiptLine{{Product: "P2", Bin: "G2", Qty: 1}}}, w.s.now))
	})
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(ClosePurchaseOrder(v, po, "", w.s.now))
	})
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordBinMove(v, "wa", newID(), BinMove{Warehouse: "A", Lines: []BinMoveLine{{Product: "P1", From: "G1", To: "D", Qty: 1}}}, w.s.now))
	})
	sid := newID()
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(OpenStocktake(v, "wa", sid, StocktakeSpec{Warehouse: "A", Type: StocktakeOffset, Bin: "G2"}, w.s.now))
	})
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordCount(v, "wa", sid, []Count{{Product: "P2", Bin: "G2", Qty: 2}}))
	})
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(PostStocktake(v, "wa", sid, w.s.now)) })
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(OpenStocktake(v, "wa", newID(), StocktakeSpec{Warehouse: "A", Type: StocktakeOffset, Bin: "G1"}, w.s.now))
	})
	tid := newID()
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(ShipTransfer(v, "wa", tid, TransferSpec{From: "A", To: "B", Lines: []IssueLine{{Product: "P1", Qty: 2}}}, w.s.now))
	})
	w.wb.pull(t, w.wa, -1)
	w.wb.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(ReceiveTransfer(v, "wb", tid, TransferReceipt{Bin: "G1"}, w.s.now))
	})
	r1 := newID()
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(Reserve(v, "wa", r1, ReserveSpec{Warehouse: "A", Product: "K", Qty: 1, Ref: "SO"}, w.s.now))
	})
	nid := newID()
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(CreateNotice(v, "wa", nid, NoticeSpec{Warehouse: "A", Reservations: []string{r1}}, w.s.now))
	})
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return ConfirmNotice(v, "wa", nid, w.s.now) })
	r2 := newID()
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(Reserve(v, "wa", r2, ReserveSpec{Warehouse: "A", Product: "P2", Qty: 1, Ref: "SO"}, w.s.now))
	})
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(Release(v, "wa", r2, "")) })
	addSellers(t, w.wa, "A", "wb")
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Offer(v, "wa") })
	hub.pull(t, w.wa, -1)
	hub.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Rebalance(v, w.s.now) })
	w.wb.pull(t, hub, -1)
	w.wb.pull(t, w.wa, -1)
	w.wb.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(Reserve(v, "wb", newID(), ReserveSpec{Warehouse: "A", Product: "P2", Qty: 1, Ref: "SO"}, w.s.now))
	})
	w.wb.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(RemoveSeller(v, "A", "wb")) })
	w.wb.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Surplus(v, "wb") })
	w.wa.pull(t, w.wb, -1)
	w.wa.pull(t, hub, -1)
	return w, append(append(append([]*replication.Event(nil), w.wa.log...), w.wb.log...), hub.log...)
}

// FuzzApply: any body of any warehouse kind that the hub's check accepts
// applies without failing on views that hold a bit of everything, and the
// read side and the escrow decisions cope with whatever it left.
func FuzzApply(f *testing.F) {
	w, evs := fuzzBase(f)
	kinds := w.reg.Kinds()
	for _, ev := range evs {
		for i, k := range kinds {
			if k == ev.Kind {
				f.Add(i, ev.Entity, ev.Body, ev.Origin == replication.HubOrigin)
			}
		}
	}
	base := w.wa.mem.Dump()
	f.Fuzz(func(t *testing.T, kind int, entity string, body []byte, fromHub bool) {
		if kind < 0 || kind >= len(kinds) {
			return
		}
		ev := &replication.Event{Origin: "bj-haidian", Seq: 1, HLC: replication.MakeHLC(w.s.now.UnixMilli()+1, 0),
			Kind: kinds[kind], Entity: entity, Actor: "fuzz", Body: body}
		if fromHub {
			ev.Origin = replication.HubOrigin
			ev.Seq = 1 << 20
		}
		if w.reg.Check(ev) != nil {
			return
		}
		m := reptest.NewMem()
		for k, v := range base {
			if err := m.Set([]byte(k), []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		views, err := replication.OpenViews(w.reg, m)
		if err != nil {
			t.Fatal(err)
		}
		b := views.Begin(m)
		if _, err := b.Apply(ev); err != nil {
			t.Fatalf("accepted %s does not apply: %v", ev, err)
		}
		v := replication.ReadViews(m)
		now := w.s.now.Add(time.Hour)
		for _, read := range []func() error{
			func() error { _, _, err := ListMoves(v, MoveFilter{}, "", 1000); return err },
			func() error { _, _, err := ListProducts(v, "", 1000); return err },
			func() error { _, err := ListWarehouses(v); return err },
			func() error { _, err := Offer(v, "wa"); return err },
			func() error { _, err := Surplus(v, "wb"); return err },
			func() error { _, err := Rebalance(v, now); return err },
		} {
			if err := read(); err != nil {
				t.Fatalf("read after %s: %v", ev, err)
			}
		}
		for _, wh := range []string{"A", "B"} {
			for _, read := range []func() error{
				func() error { _, err := Alerts(v, wh, now); return err },
				func() error { _, _, err := ListStock(v, wh, "", 1000); return err },
				func() error { _, _, err := ListStocktakes(v, wh, "", 1000); return err },
				func() error { _, _, err := ListTransfers(v, wh, "", 1000); return err },
				func() error { _, _, err := ListReservations(v, wh, "", "", 1000); return err },
				func() error { _, _, err := ListPurchaseOrders(v, wh, "", 1000); return err },
				func() error { _, _, err := ListNotices(v, wh, "", 1000); return err },
				func() error { _, _, err := ListEscrow(v, wh, "", 1000); return err },
			} {
				if err := read(); err != nil {
					t.Fatalf("read of %s after %s: %v", wh, ev, err)
				}
			}
		}
	})
}
