package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/gen/branchline/warehouse/v1/warehousev1connect"
	"branchline/rpc"
)

func stockClient(t *testing.T, url string) warehousev1connect.WarehouseServiceClient {
	t.Helper()
	return warehousev1connect.NewWarehouseServiceClient(hc, url, rpc.WithBearer(mustLogin(t, url)))
}

// onHand is product's stock on hand in warehouse wh, as node c sees it.
func onHand(t *testing.T, c warehousev1connect.WarehouseServiceClient, wh, product string) int64 {
	t.Helper()
	res, err := c.GetStock(context.Background(), connect.NewRequest(&whv1.GetStockRequest{Product: product, Warehouse: wh}))
	must(t, "get stock", err)
	var n int64
	for _, s := range res.Msg.GetStocks() {
		n += s.GetOnHand()
	}
	return n
}

// escrowOf is the escrow of product in wh as node c sees it.
func escrowOf(t *testing.T, c warehousev1connect.WarehouseServiceClient, wh, product string) *whv1.Escrow {
	t.Helper()
	res, err := c.GetEscrow(context.Background(), connect.NewRequest(&whv1.GetEscrowRequest{Warehouse: wh, Product: product}))
	must(t, "get escrow", err)
	return res.Msg
}

func shareOf(e *whv1.Escrow, node string) *whv1.Share {
	for _, s := range e.GetShares() {
		if s.GetNode() == node {
			return s
		}
	}
	return &whv1.Share{Node: node}
}

// reserveAll reserves node c's whole share of the product, one unit at a
// time, until the node refuses for want of share; it returns how many it
// reserved. Every refusal must be that one.
func reserveAll(t *testing.T, c warehousev1connect.WarehouseServiceClient, wh, product, ref string) int64 {
	t.Helper()
	var n int64
	for {
		_, err := c.Reserve(context.Background(), connect.NewRequest(&whv1.ReserveRequest{Warehouse: wh, Product: product, Qty: 1, Ref: fmt.Sprintf("%s-%d", ref, n)}))
		if err == nil {
			n++
			continue
		}
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "share") {
			t.Fatalf("reserve #%d: %v; want a refusal for want of share", n+1, err)
		}
		return n
	}
}

// TestWarehousePartition: a warehouse node and a branch node, both cut
// from the hub, record receipts, issues, a stocktake with a move during
// the count, a transfer between their warehouses, and sell the same
// product from their escrow shares. Neither reserves beyond its share, so
// together they never promise more than the warehouse released; after
// healing every replica holds the same stock, the transfer arrives with
// its discrepancy, and the hub rebalances the shares.
func TestWarehousePartition(t *testing.T) {
	ctx := context.Background()
	hubs := startCluster(t, 1)
	tokA, tokB := addNode(t, "wh-a", hubs...), addNode(t, "br-b", hubs...)
	wanA, wanB := newLink(t, hubs), newLink(t, hubs)
	a := startNode(t, "wh-a", wanA.urls(), tokA)
	b := startNode(t, "br-b", wanB.urls(), tokB)
	sa, sb := stockClient(t, a.url), stockClient(t, b.url)
	const p = "A100"

	_, err := sa.SetProduct(ctx, connect.NewRequest(&whv1.SetProductRequest{Product: &whv1.Product{
		Id: p, Name: "电饭煲", Category: "家电", Class: "sale", RetailPrice: 29900, CostPrice: 18000, Barcode: "6901234567892",
	}}))
	must(t, "set product", err)
	for _, w := range []struct {
		c          warehousev1connect.WarehouseServiceClient
		id, owner  string
		good, defc string
	}{{sa, "WH-A", "wh-a", "A1", "A9"}, {sb, "WH-B", "br-b", "B1", "B9"}} {
		_, err := w.c.SetWarehouse(ctx, connect.NewRequest(&whv1.SetWarehouseRequest{Warehouse: &whv1.Warehouse{Id: w.id, Name: w.id, Owner: w.owner}}))
		must(t, "set warehouse "+w.id, err)
		_, err = w.c.SetBin(ctx, connect.NewRequest(&whv1.SetBinRequest{Warehouse: w.id, Bin: &whv1.Bin{Id: w.good, Name: "良品", Kind: "good"}}))
		must(t, "set bin", err)
		_, err = w.c.SetBin(ctx, connect.NewRequest(&whv1.SetBinRequest{Warehouse: w.id, Bin: &whv1.Bin{Id: w.defc, Name: "次品", Kind: "defective"}}))
		must(t, "set bin", err)
	}
	for _, seller := range []string{"wh-a", "br-b"} {
		_, err := sa.AddSeller(ctx, connect.NewRequest(&whv1.AddSellerRequest{Warehouse: "WH-A", Node: seller}))
		must(t, "add seller "+seller, err)
	}
	receive := func(c warehousev1connect.WarehouseServiceClient, wh, bin, typ string, qty int64) {
		t.Helper()
		_, err := c.Receive(ctx, connect.NewRequest(&whv1.ReceiveRequest{Warehouse: wh, Type: typ, Lines: []*whv1.MoveLine{{Product: p, Bin: bin, Qty: qty}}}))
		must(t, fmt.Sprintf("receive %d into %s", qty, wh), err)
	}
	issue := func(c warehousev1connect.WarehouseServiceClient, wh, bin, typ string, qty int64) {
		t.Helper()
		_, err := c.Issue(ctx, connect.NewRequest(&whv1.IssueRequest{Warehouse: wh, Type: typ, Lines: []*whv1.MoveLine{{Product: p, Bin: bin, Qty: qty}}}))
		must(t, fmt.Sprintf("issue %d from %s", qty, wh), err)
	}
	receive(sa, "WH-A", "A1", "purchase", 100)
	converged(t, 30*time.Second, 0, hubs, a, b)
	receive(sb, "WH-B", "B1", "purchase", 20)

	// The warehouse offers its free stock to the hub, the hub grants both
	// sellers a share, and each node learns of its share.
	waitFor(t, 60*time.Second, "both sellers to hold a share", func() error {
		ea, eb := escrowOf(t, sa, "WH-A", p), escrowOf(t, sb, "WH-A", p)
		if shareOf(ea, "wh-a").GetBalance() <= 0 || shareOf(eb, "br-b").GetBalance() <= 0 {
			return fmt.Errorf("wh-a sees %v, br-b sees %v", ea, eb)
		}
		return nil
	})
	converged(t, 30*time.Second, 0, hubs, a, b)
	released := escrowOf(t, sa, "WH-A", p).GetReleased()

	// The WAN goes down for both.
	wanA.setCut(true)
	wanB.setCut(true)

	// Warehouse A: a receipt, damage, a stocktake during which 2 more
	// arrive, and 7 shipped to warehouse B.
	receive(sa, "WH-A", "A1", "other", 20)
	issue(sa, "WH-A", "A1", "damaged", 5)
	st, err := sa.OpenStocktake(ctx, connect.NewRequest(&whv1.OpenStocktakeRequest{Warehouse: "WH-A", Type: "periodic", Bin: "A1"}))
	must(t, "open stocktake", err)
	book := onHand(t, sa, "WH-A", p)
	_, err = sa.RecordCount(ctx, connect.NewRequest(&whv1.RecordCountRequest{Id: st.Msg.GetId(), Lines: []*whv1.MoveLine{{Product: p, Bin: "A1", Qty: book - 2}}}))
	must(t, "count", err)
	receive(sa, "WH-A", "A1", "other", 2) // during the count: must not be lost
	_, err = sa.PostStocktake(ctx, connect.NewRequest(&whv1.PostStocktakeRequest{Id: st.Msg.GetId()}))
	must(t, "post stocktake", err)
	if _, err := sa.PostStocktake(ctx, connect.NewRequest(&whv1.PostStocktakeRequest{Id: st.Msg.GetId()})); connect.CodeOf(err) != connect.CodeAlreadyExists {
		t.Fatalf("second post of a count sheet: %v, want AlreadyExists", err)
	}
	tr, err := sa.ShipTransfer(ctx, connect.NewRequest(&whv1.ShipTransferRequest{From: "WH-A", To: "WH-B", Bin: "A1", Lines: []*whv1.MoveLine{{Product: p, Qty: 7}}}))
	must(t, "ship transfer", err)
	wantA := 100 + 20 - 5 + (book - 2 - book) + 2 - 7
	if got := onHand(t, sa, "WH-A", p); got != wantA {
		t.Fatalf("WH-A on hand %d at its node, want %d", got, wantA)
	}

	// Branch B: its own warehouse's moves and stocktake.
	issue(sb, "WH-B", "B1", "requisition", 3)
	stB, err := sb.OpenStocktake(ctx, connect.NewRequest(&whv1.OpenStocktakeRequest{Warehouse: "WH-B", Type: "offset", Bin: "B1"}))
	must(t, "open stocktake B", err)
	_, err = sb.RecordCount(ctx, connect.NewRequest(&whv1.RecordCountRequest{Id: stB.Msg.GetId(), Lines: []*whv1.MoveLine{{Product: p, Bin: "B1", Qty: 16}}}))
	must(t, "count B", err)
	_, err = sb.PostStocktake(ctx, connect.NewRequest(&whv1.PostStocktakeRequest{Id: stB.Msg.GetId()}))
	must(t, "post stocktake B", err)

	// Both sell the same product of warehouse A, each from its own share,
	// until each refuses: together never more than was released.
	shareA := shareOf(escrowOf(t, sa, "WH-A", p), "wh-a").GetBalance()
	shareB := shareOf(escrowOf(t, sb, "WH-A", p), "br-b").GetBalance()
	soldA := reserveAll(t, sa, "WH-A", p, "ORD-A")
	soldB := reserveAll(t, sb, "WH-A", p, "ORD-B")
	t.Logf("during the partition: released %d; wh-a sold %d of its share %d, br-b %d of %d", released, soldA, shareA, soldB, shareB)
	if soldA != shareA || soldB != shareB || soldA+soldB > released {
		t.Fatalf("sold %d + %d against shares %d + %d of %d released", soldA, soldB, shareA, shareB, released)
	}

	// Heal. B receives the transfer one short; every replica agrees.
	wanA.setCut(false)
	wanB.setCut(false)
	waitFor(t, 30*time.Second, "the transfer at branch B", func() error {
		_, err := sb.GetTransfer(ctx, connect.NewRequest(&whv1.GetTransferRequest{Id: tr.Msg.GetId()}))
		return err
	})
	got, err := sb.ReceiveTransfer(ctx, connect.NewRequest(&whv1.ReceiveTransferRequest{Id: tr.Msg.GetId(), Bin: "B1",
		Lines: []*whv1.MoveLine{{Product: p, Bin: "B1", Qty: 6}}, Note: "少一台"}))
	must(t, "receive transfer", err)
	if !got.Msg.GetDiscrepancy() {
		t.Fatalf("transfer received 6 of 7 shows no discrepancy: %v", got.Msg)
	}
	converged(t, 60*time.Second, 0, hubs, a, b)
	wantB := int64(20 - 3 + (16 - 17) + 6)
	// Each warehouse's stock is kept by its owner (and head office): a
	// node holds no other warehouse's stock moves (scopes).
	if a, b := onHand(t, sa, "WH-A", p), onHand(t, sb, "WH-B", p); a != wantA || b != wantB {
		t.Fatalf("wh-a sees WH-A %d, br-b WH-B %d; want %d, %d", a, b, wantA, wantB)
	}

	// Branch B's customer cancels: the freed share goes back, the hub
	// rebalances (with what warehouse A received during the outage), and
	// both nodes see the same shares, each at its target.
	res, err := sb.ListReservations(ctx, connect.NewRequest(&whv1.ListReservationsRequest{Warehouse: "WH-A"}))
	must(t, "list reservations", err)
	cancelled := 0
	for _, r := range res.Msg.GetReservations() {
		if r.GetNode() == "br-b" && r.GetStatus() == "active" && cancelled < int(soldB)/2 {
			_, err := sb.Release(ctx, connect.NewRequest(&whv1.ReleaseRequest{Id: r.GetId(), Note: "客户取消"}))
			must(t, "release", err)
			cancelled++
		}
	}
	waitFor(t, 60*time.Second, "shares rebalanced", func() error {
		ea, eb := escrowOf(t, sa, "WH-A", p), escrowOf(t, sb, "WH-A", p)
		// The seller holds the escrow, not the owner's stock moves: it
		// shows no backing or free stock (scopes).
		if !ea.GetHeld() || eb.GetHeld() || eb.GetBacking() != 0 || eb.GetFree() != 0 {
			return fmt.Errorf("owner's escrow held %v, seller's held %v with backing %d, free %d", ea.GetHeld(), eb.GetHeld(), eb.GetBacking(), eb.GetFree())
		}
		owners := proto.CloneOf(ea)
		owners.Backing, owners.Free, owners.Held = 0, 0, false
		if owners.String() != eb.String() {
			return fmt.Errorf("nodes differ:\n wh-a %v\n br-b %v", ea, eb)
		}
		if ea.GetPool() != 0 {
			return fmt.Errorf("pool %d not granted", ea.GetPool())
		}
		for _, s := range ea.GetShares() {
			if !s.GetHasTarget() || s.GetBalance() < s.GetTarget()-1 || s.GetBalance() > s.GetTarget()+1 {
				return fmt.Errorf("share of %s: %d, target %d (%v)", s.GetNode(), s.GetBalance(), s.GetTarget(), s.GetHasTarget())
			}
		}
		if shareOf(ea, "wh-a").GetBalance()+shareOf(ea, "br-b").GetBalance() == 0 {
			return errors.New("no share left to sell")
		}
		return nil
	})
	converged(t, 60*time.Second, 0, hubs, a, b)
	e := escrowOf(t, sa, "WH-A", p)
	t.Logf("after healing: released %d, reclaimed %d, backing %d, free %d, shares %v", e.GetReleased(), e.GetReclaimed(), e.GetBacking(), e.GetFree(), e.GetShares())
}
