package warehouse

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
)

// made is an event's kind and scopes, as a test expects them.
type made struct {
	kind   string
	scopes []string
}

func (m made) String() string { return fmt.Sprintf("%s %q", m.kind, m.scopes) }

func madeOf(evs []*replication.Event) []made {
	out := make([]made, len(evs))
	for i, ev := range evs {
		out[i] = made{ev.Kind, ev.Scopes}
		if out[i].scopes == nil {
			out[i].scopes = []string{}
		}
	}
	return out
}

func sameMade(a, b []made) bool {
	return slices.EqualFunc(a, b, func(x, y made) bool { return x.kind == y.kind && slices.Equal(x.scopes, y.scopes) })
}

// TestScopes runs every warehouse command where it is made (the owners wa
// of A and wb of B, the seller n1, the hub) and checks the scopes of the
// events it makes, kind by kind: what doc.go's table says.
func TestScopes(t *testing.T) {
	w := newWorld(t)
	hub := newReplica(t, w.s, replication.HubOrigin, w.reg)
	n1 := newReplica(t, w.s, "n1", w.reg)
	all := []*replica{w.wa, w.wb, hub, n1}
	company := []string{}
	var (
		sheet, sheet2, transfer, res1, res2, res3, local, notice, po = newID(), newID(), newID(), newID(), newID(), newID(), newID(), newID(), newID()
	)
	steps := []struct {
		name string
		at   *replica
		cmd  replication.Command
		want []made
	}{
		{"a product is company-wide", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			return one(SetProduct(v, Product{ID: "P4", Name: "Spoon"}, nil))
		}, []made{{KindProductSet, company}}},
		{"a warehouse is company-wide", w.wb, func(v replication.Tx) ([]replication.Draft, error) {
			return one(SetWarehouse(v, Warehouse{ID: "A", Address: "Pudong"}, []string{"address"}))
		}, []made{{KindWarehouseSet, company}}},
		{"a bin is company-wide", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			return one(SetBin(v, "A", Bin{ID: "G3"}))
		}, []made{{KindBinSet, company}}},
		{"a limit is company-wide", w.wb, func(v replication.Tx) ([]replication.Draft, error) {
			return one(SetLimit(v, Limit{Warehouse: "A", Product: "P2", Min: 1, Max: 50}, nil))
		}, []made{{KindLimitSet, company}}},
		{"a seller is company-wide", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			return one(AddSeller(v, "A", "n1"))
		}, []made{{KindSellerAdded, company}}},
		{"a receipt is its warehouse's", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			return one(RecordReceipt(v, "wa", newID(), Receipt{Warehouse: "A", Type: ReceiptPurchase,
				Lines: []ReceiptLine{{Product: "P2", Bin: "G1", Qty: 40}, {Product: "P1", Bin: "G1", Batch: "B1", Qty: 10}}}, w.s.now))
		}, []made{{KindStockMoved, []string{"w:A"}}}},
		{"an issue is its warehouse's", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			return one(RecordIssue(v, "wa", newID(), Issue{Warehouse: "A", Type: IssueDamaged, Lines: []IssueLine{{Product: "P2", Bin: "G1", Qty: 1}}}, w.s.now))
		}, []made{{KindStockMoved, []string{"w:A"}}}},
		{"a bin move is its warehouse's", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			return one(RecordBinMove(v, "wa", newID(), BinMove{Warehouse: "A", Lines: []BinMoveLine{{Product: "P2", From: "G1", To: "D", Qty: 1}}}, w.s.now))
		}, []made{{KindStockMoved, []string{"w:A"}}}},
		{"a stocktake opened", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			return one(OpenStocktake(v, "wa", sheet, StocktakeSpec{Warehouse: "A", Type: StocktakePeriodic, Bin: "G1"}, w.s.now))
		}, []made{{KindStocktakeOpened, []string{"w:A"}}}},
		{"a count, from the sheet", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			return one(RecordCount(v, "wa", sheet, []Count{{Product: "P2", Bin: "G1", Qty: 37}}))
		}, []made{{KindStocktakeCounted, []string{"w:A"}}}},
		{"a post", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			return one(PostStocktake(v, "wa", sheet, w.s.now))
		}, []made{{KindStocktakePosted, []string{"w:A"}}}},
		{"a cancel, from the sheet", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			ds, err := one(OpenStocktake(v, "wa", sheet2, StocktakeSpec{Warehouse: "A", Type: StocktakeOther, Bin: "D"}, w.s.now))
			if err != nil {
				return nil, err
			}
			// The cancel reads the sheet its command opened: the batch's
			// views hold the earlier draft.
			return append(ds, replication.Draft{Kind: KindStocktakeCancelled, Entity: StocktakeEntity(sheet2), Body: &whv1.StocktakeCancelled{}}), nil
		}, []made{{KindStocktakeOpened, []string{"w:A"}}, {KindStocktakeCancelled, []string{"w:A"}}}},
		{"a transfer shipped: both warehouses, the shipper's first", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			return one(ShipTransfer(v, "wa", transfer, TransferSpec{From: "A", To: "B", Lines: []IssueLine{{Product: "P2", Qty: 2}}}, w.s.now))
		}, []made{{KindTransferShipped, []string{"w:A", "w:B"}}}},
		{"a transfer received: both warehouses, the receiver's first", w.wb, func(v replication.Tx) ([]replication.Draft, error) {
			return one(ReceiveTransfer(v, "wb", transfer, TransferReceipt{Bin: "G1"}, w.s.now))
		}, []made{{KindTransferReceived, []string{"w:B", "w:A"}}}},
		{"a local reservation at the owner: no escrow scope", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			return one(Reserve(v, "wa", local, ReserveSpec{Warehouse: "A", Product: "P1", Qty: 1, Ref: "SO-3"}, w.s.now))
		}, []made{{KindReservationMade, []string{"w:A", "b:wa"}}}},
		{"", w.wa, func(v replication.Tx) ([]replication.Draft, error) { return one(Ship(v, "wa", local, w.s.now)) },
			[]made{{KindReservationShipped, []string{"w:A"}}}},
		{"a release into the pool: the escrow's, and the owner's", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			return Offer(v, "wa")
		}, []made{{KindEscrowReleased, []string{"e:A", "w:A"}}, {KindEscrowReleased, []string{"e:A", "w:A"}}}},
		{"the hub's targets and grants: the escrow's, the owner's, the grantee's", hub, func(v replication.Tx) ([]replication.Draft, error) {
			return Rebalance(v, w.s.now)
		}, []made{
			{KindEscrowTarget, []string{"e:A", "w:A"}}, {KindEscrowGranted, []string{"e:A", "b:n1", "w:A"}},
			{KindEscrowTarget, []string{"e:A", "w:A"}}, {KindEscrowGranted, []string{"e:A", "b:n1", "w:A"}},
		}},
		{"an escrow reservation: the warehouse's, its maker's, the sellers'", n1, func(v replication.Tx) ([]replication.Draft, error) {
			return one(Reserve(v, "n1", res1, ReserveSpec{Warehouse: "A", Product: "P2", Qty: 2, Ref: "SO-1"}, w.s.now))
		}, []made{{KindReservationMade, []string{"w:A", "b:n1", "e:A"}}}},
		{"its release by its maker, from the reservation", n1, func(v replication.Tx) ([]replication.Draft, error) {
			return one(Release(v, "n1", res1, ""))
		}, []made{{KindReservationReleased, []string{"w:A", "b:n1", "e:A"}}}},
		{"a notice: the warehouse's and its maker's", n1, func(v replication.Tx) ([]replication.Draft, error) {
			ds, err := one(Reserve(v, "n1", res2, ReserveSpec{Warehouse: "A", Product: "P2", Qty: 1, Ref: "SO-2"}, w.s.now))
			if err != nil {
				return nil, err
			}
			d, err := Reserve(v, "n1", res3, ReserveSpec{Warehouse: "A", Product: "P2", Qty: 1, Ref: "SO-2"}, w.s.now)
			return append(ds, d), err
		}, []made{{KindReservationMade, []string{"w:A", "b:n1", "e:A"}}, {KindReservationMade, []string{"w:A", "b:n1", "e:A"}}}},
		{"", n1, func(v replication.Tx) ([]replication.Draft, error) {
			return one(CreateNotice(v, "n1", notice, NoticeSpec{Warehouse: "A", Ref: "SO-2", Reservations: []string{res2, res3}}, w.s.now))
		}, []made{{KindNoticeCreated, []string{"w:A", "b:n1"}}}},
		{"a noticed reservation released by the owner still reaches its maker", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			return one(Release(v, "wa", res3, "out of stock"))
		}, []made{{KindReservationReleased, []string{"w:A", "b:n1", "e:A"}}}},
		{"a shipment is a stock move: the warehouse's only; the confirmation reaches the notice's maker", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			return ConfirmNotice(v, "wa", notice, w.s.now)
		}, []made{{KindReservationShipped, []string{"w:A"}}, {KindNoticeConfirmed, []string{"w:A", "b:n1"}}}},
		{"a seller removed is company-wide", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			return one(RemoveSeller(v, "A", "n1"))
		}, []made{{KindSellerRemoved, company}}},
		{"a share returned: the escrow's, the owner's, the returner's", n1, func(v replication.Tx) ([]replication.Draft, error) {
			return Surplus(v, "n1")
		}, []made{{KindEscrowReturned, []string{"e:A", "b:n1", "w:A"}}, {KindEscrowReturned, []string{"e:A", "b:n1", "w:A"}}}},
		{"the hub's reclaims: the escrow's and the owner's", hub, func(v replication.Tx) ([]replication.Draft, error) {
			return Rebalance(v, w.s.now)
		}, []made{{KindEscrowReclaimed, []string{"e:A", "w:A"}}, {KindEscrowReclaimed, []string{"e:A", "w:A"}}}},
		{"a purchase order: the warehouse's and its maker's", w.wb, func(v replication.Tx) ([]replication.Draft, error) {
			return one(CreatePurchaseOrder(v, po, PurchaseSpec{Warehouse: "A", Supplier: "Tea Co.", Lines: []POLine{{Product: "P1", Ordered: 5}}}, w.s.now))
		}, []made{{KindPOCreated, []string{"w:A", "b:wb"}}}},
		{"closed anywhere, it reaches its maker", w.wa, func(v replication.Tx) ([]replication.Draft, error) {
			return one(ClosePurchaseOrder(v, po, "", w.s.now))
		}, []made{{KindPOClosed, []string{"w:A", "b:wb"}}}},
		{"one the hub makes: no branch of the hub", hub, func(v replication.Tx) ([]replication.Draft, error) {
			return one(CreatePurchaseOrder(v, newID(), PurchaseSpec{Warehouse: "B", Supplier: "Tea Co.", Lines: []POLine{{Product: "P1", Ordered: 5}}}, w.s.now))
		}, []made{{KindPOCreated, []string{"w:B"}}}},
	}
	for i, s := range steps {
		name := s.name
		if name == "" {
			name = steps[i-1].name + " (cont.)"
		}
		exchange(t, all...)
		if got := madeOf(s.at.must(t, s.cmd)); !sameMade(got, s.want) {
			t.Fatalf("%s: made %v; want %v", name, got, s.want)
		}
	}
}

// The hub's reaction to a release by a node that does not own the
// warehouse reaches that node: its views saw the release applied.
func TestScopeRefusedRelease(t *testing.T) {
	w := newWorld(t)
	hub := newReplica(t, w.s, replication.HubOrigin, w.reg)
	rogue := newReplica(t, w.s, "rogue", w.reg)
	rogue.pull(t, w.wa, -1)
	forged := rogue.must(t, func(replication.Tx) ([]replication.Draft, error) {
		return []replication.Draft{{Kind: KindEscrowReleased, Entity: EscrowEntity("A", "P2"), Body: &whv1.EscrowReleased{Qty: 5}}}, nil
	})
	hub.pull(t, w.wa, -1)
	hub.receive(t, forged...)
	got := madeOf(hub.must(t, func(v replication.Tx) ([]replication.Draft, error) { return RefuseForeignRelease(v, forged[0]) }))
	if want := []made{{KindEscrowReclaimed, []string{"e:A", "b:rogue", "w:A"}}}; !sameMade(got, want) {
		t.Fatalf("made %v; want %v", got, want)
	}
}

// A rule that needs what the views do not hold refuses the event, rather
// than send it nowhere; so does an event no replica would accept.
func TestScopeRulesRefuse(t *testing.T) {
	w := newWorld(t)
	body := func(m proto.Message) []byte { return must(marshal.Marshal(m)) }
	id := newID()
	for _, c := range []struct {
		name     string
		ev       replication.Event
		notFound bool
	}{
		{"release of an unknown reservation", replication.Event{Kind: KindReservationReleased, Entity: ReservationEntity(id), Body: body(&whv1.ReservationReleased{})}, true},
		{"count of an unknown sheet", replication.Event{Kind: KindStocktakeCounted, Entity: StocktakeEntity(id), Body: body(&whv1.StocktakeCounted{})}, true},
		{"cancel of an unknown sheet", replication.Event{Kind: KindStocktakeCancelled, Entity: StocktakeEntity(id), Body: body(&whv1.StocktakeCancelled{})}, true},
		{"confirmation of an unknown notice", replication.Event{Kind: KindNoticeConfirmed, Entity: NoticeEntity(id), Body: body(&whv1.NoticeConfirmed{})}, true},
		{"close of an unknown purchase order", replication.Event{Kind: KindPOClosed, Entity: PurchaseOrderEntity(id), Body: body(&whv1.PurchaseOrderClosed{})}, true},
		{"a move of no warehouse", replication.Event{Kind: KindStockMoved, Entity: MoveEntity(id), Body: body(&whv1.StockMoved{Warehouse: "a b"})}, false},
		{"a transfer to no warehouse", replication.Event{Kind: KindTransferShipped, Entity: TransferEntity(id), Body: body(&whv1.TransferShipped{From: "A"})}, false},
		{"a grant to no node", replication.Event{Kind: KindEscrowGranted, Entity: EscrowEntity("A", "P2"), Body: body(&whv1.EscrowGranted{Node: "a:b"})}, false},
		{"an escrow of no warehouse", replication.Event{Kind: KindEscrowReleased, Entity: "escrow/A", Body: body(&whv1.EscrowReleased{Qty: 1})}, false},
		{"a body that does not decode", replication.Event{Kind: KindStockMoved, Entity: MoveEntity(id), Body: []byte{0xff, 0xff}}, false},
		{"a release of no reservation", replication.Event{Kind: KindReservationReleased, Entity: "reservation/x", Body: body(&whv1.ReservationReleased{})}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.ev.Origin, c.ev.Seq = "wa", 1
			got, err := w.reg.Scopes(w.wa.view(), &c.ev)
			if err == nil {
				t.Fatalf("scopes %q; want an error", got)
			}
			if errors.Is(err, fault.ErrNotFound) != c.notFound {
				t.Fatalf("error %v; not found: want %v", err, c.notFound)
			}
		})
	}
}

func TestOwnedAndSellerScopes(t *testing.T) {
	w := newWorld(t)
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(SetWarehouse(v, Warehouse{ID: "C", Name: "Guangzhou", Owner: "wa"}, nil))
	})
	addSellers(t, w.wa, "A", "n1", "wb")
	addSellers(t, w.wa, "C", "n1")
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(RemoveSeller(v, "A", "wb")) })
	for _, c := range []struct {
		node          string
		owned, seller []string
	}{
		{"wa", []string{"w:A", "w:C"}, nil},
		{"wb", []string{"w:B"}, nil},
		{"n1", nil, []string{"e:A", "e:C"}},
		{"n2", nil, nil},
	} {
		owned, err := OwnedScopes(w.wa.view(), c.node)
		if err != nil || !slices.Equal(owned, c.owned) {
			t.Errorf("OwnedScopes(%s) = %q, %v; want %q", c.node, owned, err, c.owned)
		}
		sold, err := SellerScopes(w.wa.view(), c.node)
		if err != nil || !slices.Equal(sold, c.seller) {
			t.Errorf("SellerScopes(%s) = %q, %v; want %q", c.node, sold, err, c.seller)
		}
	}
	// A warehouse that changes hands changes scopes with it.
	w.wb.pull(t, w.wa, -1)
	w.wb.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(SetWarehouse(v, Warehouse{ID: "C", Owner: "wb"}, []string{"owner"}))
	})
	if owned, _ := OwnedScopes(w.wb.view(), "wb"); !slices.Equal(owned, []string{"w:B", "w:C"}) {
		t.Fatalf("after the hand-over wb owns %q", owned)
	}
}
