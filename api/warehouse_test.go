package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access"
	"branchline/auth"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
	"branchline/warehouse"
	"branchline/warehouse/warehouseapp"
)

// whGrants: admin may do everything; clerk reads and moves stock; seller
// reads and reserves; viewer reads; anyone else nothing.
func whGrants(_ context.Context, p *auth.Principal) (*access.Grant, error) {
	g := &access.Grant{User: p.User, Scopes: map[access.Perm]access.Scope{}}
	switch p.User {
	case "admin":
		return access.Superuser(p.User), nil
	case "clerk":
		g.Scopes[access.StockRead], g.Scopes[access.StockMove] = access.ScopeAll, access.ScopeAll
	case "seller":
		g.Scopes[access.StockRead], g.Scopes[access.StockReserve] = access.ScopeAll, access.ScopeAll
	case "viewer":
		g.Scopes[access.StockRead] = access.ScopeAll
	}
	return g, nil
}

// newWarehouseService returns a service at node sh-pudong (the memStore's
// origin) with products P1 (batches), P2 and bundle K = P1 + 2 P2, and
// warehouses A and B owned by it (bins G1, G2 good, D defective) and C
// owned by another node.
func newWarehouseService(t *testing.T) (*WarehouseService, *memStore) {
	t.Helper()
	st := newMemStore(t, warehouse.Register)
	clock := time.UnixMilli(1_790_000_000_000)
	s := &WarehouseService{App: &warehouseapp.Stock{Store: st, IDs: replication.NewIDs(), Node: "sh-pudong", Now: func() time.Time {
		clock = clock.Add(time.Second)
		return clock
	}}, Grants: whGrants, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := as("admin")
	for _, p := range []*whv1.Product{
		{Id: "P1", Name: "Tea", BatchTracked: true, Barcode: "6901", RetailPrice: 3900},
		{Id: "P2", Name: "Cup", Class: warehouse.ClassGift},
		{Id: "K", Name: "Tea set", Components: []*whv1.Component{{Product: "P1", Qty: 1}, {Product: "P2", Qty: 2}}},
	} {
		if _, err := s.SetProduct(ctx, connect.NewRequest(&whv1.SetProductRequest{Product: p})); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []*whv1.Warehouse{{Id: "A", Name: "Shanghai", Owner: "sh-pudong"}, {Id: "B", Name: "Pudong 2", Owner: "sh-pudong"}, {Id: "C", Name: "Beijing", Owner: "bj-haidian"}} {
		if _, err := s.SetWarehouse(ctx, connect.NewRequest(&whv1.SetWarehouseRequest{Warehouse: w})); err != nil {
			t.Fatal(err)
		}
		for _, b := range []*whv1.Bin{{Id: "G1"}, {Id: "G2"}, {Id: "D", Kind: warehouse.BinDefective}} {
			if _, err := s.SetBin(ctx, connect.NewRequest(&whv1.SetBinRequest{Warehouse: w.Id, Bin: b})); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s, st
}

func receiveReq(wh string, lines ...*whv1.MoveLine) *connect.Request[whv1.ReceiveRequest] {
	return connect.NewRequest(&whv1.ReceiveRequest{Warehouse: wh, Type: warehouse.ReceiptPurchase, Lines: lines})
}

// wantReason fails unless err is InvalidArgument with a BadRequest detail
// of reason.
func wantReason(t *testing.T, err error, reason string) {
	t.Helper()
	wantCode(t, err, connect.CodeInvalidArgument)
	var ce *connect.Error
	errors.As(err, &ce)
	for _, d := range ce.Details() {
		if m, derr := d.Value(); derr == nil {
			if br, ok := m.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) == 1 && br.GetFieldViolations()[0].GetReason() == reason {
				return
			}
		}
	}
	t.Fatalf("no BadRequest detail with reason %q: %v", reason, err)
}

func TestWarehouseProducts(t *testing.T) {
	s, st := newWarehouseService(t)
	before, n := st.state()
	_, err := s.SetProduct(as("viewer"), connect.NewRequest(&whv1.SetProductRequest{Product: &whv1.Product{Id: "X", Name: "x"}}))
	wantCode(t, err, connect.CodePermissionDenied)
	_, err = s.SetProduct(as("admin"), connect.NewRequest(&whv1.SetProductRequest{Product: &whv1.Product{Id: "X", Name: "x", Barcode: "6901"}}))
	wantCode(t, err, connect.CodeAlreadyExists)
	_, err = s.SetProduct(as("admin"), connect.NewRequest(&whv1.SetProductRequest{Product: &whv1.Product{Id: "X", Name: "x", RetailPrice: -5}}))
	wantReason(t, err, "bad_number")
	if d, m := st.state(); d != before || m != n {
		t.Fatal("refused calls wrote")
	}
	p, err := s.SetProduct(as("admin"), connect.NewRequest(&whv1.SetProductRequest{Product: &whv1.Product{Id: "P2", Category: "ceramics"}, Fields: []string{"category"}}))
	if err != nil || p.Msg.GetCategory() != "ceramics" || p.Msg.GetName() != "Cup" {
		t.Fatalf("partial update = %v, %v", p, err)
	}
	got, err := s.LookupBarcode(as("viewer"), connect.NewRequest(&whv1.LookupBarcodeRequest{Barcode: "6901"}))
	if err != nil || got.Msg.GetId() != "P1" {
		t.Fatalf("lookup = %v, %v", got, err)
	}
	_, err = s.LookupBarcode(as("viewer"), connect.NewRequest(&whv1.LookupBarcodeRequest{Barcode: "0000"}))
	wantCode(t, err, connect.CodeNotFound)
	l, err := s.ListProducts(as("viewer"), connect.NewRequest(&whv1.ListProductsRequest{PageSize: 2}))
	if err != nil || len(l.Msg.GetProducts()) != 2 || l.Msg.GetNextPageToken() == "" {
		t.Fatalf("list = %v, %v", l, err)
	}
	l, err = s.ListProducts(as("viewer"), connect.NewRequest(&whv1.ListProductsRequest{PageSize: 2, PageToken: l.Msg.GetNextPageToken()}))
	if err != nil || len(l.Msg.GetProducts()) != 1 || l.Msg.GetProducts()[0].GetId() != "P2" {
		t.Fatalf("page 2 = %v, %v", l, err)
	}
	_, err = s.GetProduct(as("nobody"), connect.NewRequest(&whv1.GetProductRequest{Id: "P1"}))
	wantCode(t, err, connect.CodePermissionDenied)
	w, err := s.GetWarehouse(as("viewer"), connect.NewRequest(&whv1.GetWarehouseRequest{Id: "A"}))
	if err != nil || len(w.Msg.GetBins()) != 3 || w.Msg.GetExpiryWarnDays() != warehouse.DefaultExpiryWarnDays {
		t.Fatalf("warehouse = %v, %v", w, err)
	}
	w, err = s.AddSeller(as("admin"), connect.NewRequest(&whv1.AddSellerRequest{Warehouse: "A", Node: "bj-haidian"}))
	if err != nil || len(w.Msg.GetSellers()) != 1 {
		t.Fatalf("add seller = %v, %v", w, err)
	}
	w, err = s.RemoveSeller(as("admin"), connect.NewRequest(&whv1.RemoveSellerRequest{Warehouse: "A", Node: "bj-haidian"}))
	if err != nil || len(w.Msg.GetSellers()) != 0 {
		t.Fatalf("remove seller = %v, %v", w, err)
	}
	ws, err := s.ListWarehouses(as("viewer"), connect.NewRequest(&whv1.ListWarehousesRequest{}))
	if err != nil || len(ws.Msg.GetWarehouses()) != 3 {
		t.Fatalf("warehouses = %v, %v", ws, err)
	}
}

// TestWarehouseBadInput: the bad inputs of the issue give a clear code
// and write nothing.
func TestWarehouseBadInput(t *testing.T) {
	s, st := newWarehouseService(t)
	ctx := as("clerk")
	if _, err := s.Receive(ctx, receiveReq("A", &whv1.MoveLine{Product: "P2", Bin: "G1", Qty: 5})); err != nil {
		t.Fatal(err)
	}
	open, err := s.OpenStocktake(ctx, connect.NewRequest(&whv1.OpenStocktakeRequest{Warehouse: "A", Type: warehouse.StocktakePeriodic}))
	if err != nil {
		t.Fatal(err)
	}
	sid := open.Msg.GetId()
	if _, err := s.RecordCount(ctx, connect.NewRequest(&whv1.RecordCountRequest{Id: sid, Lines: []*whv1.MoveLine{{Product: "P2", Bin: "G1", Qty: 4}}})); err != nil {
		t.Fatal(err)
	}
	posted, err := s.PostStocktake(ctx, connect.NewRequest(&whv1.PostStocktakeRequest{Id: sid}))
	if err != nil || posted.Msg.GetStatus() != warehouse.StocktakePosted || posted.Msg.GetLines()[0].GetDelta() != -1 {
		t.Fatalf("post = %v, %v", posted, err)
	}
	for _, c := range []struct {
		name   string
		call   func() error
		code   connect.Code
		reason string
	}{
		{"unknown product", func() error {
			_, err := s.Receive(ctx, receiveReq("A", &whv1.MoveLine{Product: "NOPE", Bin: "G1", Qty: 1}))
			return err
		}, connect.CodeInvalidArgument, "unknown_product"},
		{"negative quantity", func() error {
			_, err := s.Receive(ctx, receiveReq("A", &whv1.MoveLine{Product: "P2", Bin: "G1", Qty: -2}))
			return err
		}, connect.CodeInvalidArgument, "not_positive"},
		{"issue beyond stock", func() error {
			_, err := s.Issue(ctx, connect.NewRequest(&whv1.IssueRequest{Warehouse: "A", Type: warehouse.IssueOrder, Lines: []*whv1.MoveLine{{Product: "P2", Bin: "G1", Qty: 5}}}))
			return err
		}, connect.CodeInvalidArgument, "insufficient_stock"},
		{"receipt into an unknown bin", func() error {
			_, err := s.Receive(ctx, receiveReq("A", &whv1.MoveLine{Product: "P2", Bin: "Z9", Qty: 1}))
			return err
		}, connect.CodeInvalidArgument, "unknown_bin"},
		{"posting a count twice", func() error {
			_, err := s.PostStocktake(ctx, connect.NewRequest(&whv1.PostStocktakeRequest{Id: sid}))
			return err
		}, connect.CodeAlreadyExists, ""},
		{"another node's warehouse", func() error {
			_, err := s.Receive(ctx, receiveReq("C", &whv1.MoveLine{Product: "P2", Bin: "G1", Qty: 1}))
			return err
		}, connect.CodePermissionDenied, ""},
		{"without permission", func() error {
			_, err := s.Receive(as("seller"), receiveReq("A", &whv1.MoveLine{Product: "P2", Bin: "G1", Qty: 1}))
			return err
		}, connect.CodePermissionDenied, ""},
		{"unknown sheet", func() error {
			_, err := s.PostStocktake(ctx, connect.NewRequest(&whv1.PostStocktakeRequest{Id: "01J00000000000000000000000"}))
			return err
		}, connect.CodeNotFound, ""},
		{"negative page size", func() error {
			_, err := s.ListMoves(ctx, connect.NewRequest(&whv1.ListMovesRequest{PageSize: -1}))
			return err
		}, connect.CodeInvalidArgument, "negative"},
		{"reserve beyond available", func() error {
			_, err := s.Reserve(as("seller"), connect.NewRequest(&whv1.ReserveRequest{Warehouse: "A", Product: "P2", Qty: 5, Ref: "SO-1"}))
			return err
		}, connect.CodeInvalidArgument, "insufficient_stock"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, n := st.state()
			err := c.call()
			if c.reason != "" {
				wantReason(t, err, c.reason)
			} else {
				wantCode(t, err, c.code)
			}
			if d, m := st.state(); d != before || m != n {
				t.Fatal("a refused call wrote")
			}
		})
	}
}

func TestWarehouseMoves(t *testing.T) {
	s, _ := newWarehouseService(t)
	ctx := as("clerk")
	day := 24 * time.Hour
	exp := timestamppb.New(time.UnixMilli(1_790_000_000_000).Add(3 * day))
	r1, err := s.Receive(ctx, receiveReq("A", &whv1.MoveLine{Product: "P1", Bin: "G1", Batch: "B1", Qty: 4}))
	if err != nil || r1.Msg.GetDirection() != warehouse.DirReceipt || r1.Msg.GetActor() != "clerk" || r1.Msg.GetOrigin() != "sh-pudong" {
		t.Fatalf("receipt = %v, %v", r1, err)
	}
	if _, err := s.Receive(ctx, receiveReq("A", &whv1.MoveLine{Product: "P1", Bin: "G1", Batch: "B0", Qty: 4, ExpireTime: exp})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Receive(ctx, receiveReq("A", &whv1.MoveLine{Product: "K", Bin: "G2", Batch: "B9", Qty: 2})); err != nil {
		t.Fatal(err)
	}
	is, err := s.Issue(ctx, connect.NewRequest(&whv1.IssueRequest{Warehouse: "A", Type: warehouse.IssueRequisition, Lines: []*whv1.MoveLine{{Product: "P1", Bin: "G1", Qty: 5}}}))
	if err != nil || len(is.Msg.GetLines()) != 2 || is.Msg.GetLines()[0].GetBatch() != "B1" || is.Msg.GetLines()[0].GetQty() != -4 {
		t.Fatalf("FIFO issue = %v, %v", is, err)
	}
	mv, err := s.MoveBin(ctx, connect.NewRequest(&whv1.MoveBinRequest{Warehouse: "A", Lines: []*whv1.MoveLine{{Product: "P2", Bin: "G2", ToBin: "D", Qty: 1}}}))
	if err != nil || len(mv.Msg.GetLines()) != 2 {
		t.Fatalf("bin move = %v, %v", mv, err)
	}
	stk, err := s.GetStock(as("viewer"), connect.NewRequest(&whv1.GetStockRequest{Product: "P2"}))
	if err != nil || len(stk.Msg.GetStocks()) != 1 {
		t.Fatalf("stock = %v, %v", stk, err)
	}
	if p2 := stk.Msg.GetStocks()[0]; p2.GetOnHand() != 4 || p2.GetGood() != 3 || p2.GetAvailable() != 3 || len(p2.GetLines()) != 2 {
		t.Fatalf("P2 = %v", p2)
	}
	stk, err = s.GetStock(as("viewer"), connect.NewRequest(&whv1.GetStockRequest{Product: "P1", Warehouse: "A"}))
	if err != nil || stk.Msg.GetStocks()[0].GetOnHand() != 5 {
		t.Fatalf("P1 in A = %v, %v", stk, err)
	}
	ls, err := s.ListStock(as("viewer"), connect.NewRequest(&whv1.ListStockRequest{Warehouse: "A"}))
	if err != nil || len(ls.Msg.GetStocks()) != 2 {
		t.Fatalf("list stock = %v, %v", ls, err)
	}
	all, err := s.ListMoves(as("viewer"), connect.NewRequest(&whv1.ListMovesRequest{Warehouse: "A", PageSize: 3}))
	if err != nil || len(all.Msg.GetMoves()) != 3 || all.Msg.GetMoves()[0].GetId() != mv.Msg.GetId() || all.Msg.GetNextPageToken() == "" {
		t.Fatalf("moves = %v, %v", all, err)
	}
	rest, err := s.ListMoves(as("viewer"), connect.NewRequest(&whv1.ListMovesRequest{Warehouse: "A", PageSize: 3, PageToken: all.Msg.GetNextPageToken()}))
	if err != nil || len(rest.Msg.GetMoves()) != 2 || rest.Msg.GetMoves()[1].GetId() != r1.Msg.GetId() {
		t.Fatalf("moves page 2 = %v, %v", rest, err)
	}
	iss, err := s.ListMoves(as("viewer"), connect.NewRequest(&whv1.ListMovesRequest{Product: "P1", Direction: warehouse.DirIssue}))
	if err != nil || len(iss.Msg.GetMoves()) != 1 {
		t.Fatalf("issues of P1 = %v, %v", iss, err)
	}
	got, err := s.GetMove(as("viewer"), connect.NewRequest(&whv1.GetMoveRequest{Id: is.Msg.GetId()}))
	if err != nil || got.Msg.GetType() != warehouse.IssueRequisition {
		t.Fatalf("get move = %v, %v", got, err)
	}
	if _, err := s.SetLimit(as("admin"), connect.NewRequest(&whv1.SetLimitRequest{Warehouse: "A", Product: "P2", Min: ptr(int64(10))})); err != nil {
		t.Fatal(err)
	}
	lim, err := s.SetLimit(as("admin"), connect.NewRequest(&whv1.SetLimitRequest{Warehouse: "A", Product: "P2", Safety: ptr(int64(1))}))
	if err != nil || lim.Msg.GetMin() != 10 || lim.Msg.GetSafety() != 1 {
		t.Fatalf("limit = %v, %v", lim, err)
	}
	read, err := s.GetLimit(as("viewer"), connect.NewRequest(&whv1.GetLimitRequest{Warehouse: "A", Product: "P2"}))
	if err != nil || read.Msg.GetMin() != 10 || read.Msg.GetMax() != 0 || read.Msg.GetSafety() != 1 {
		t.Fatalf("get limit = %v, %v; want min 10, safety 1", read, err)
	}
	if _, err := s.GetLimit(as("viewer"), connect.NewRequest(&whv1.GetLimitRequest{Warehouse: "A", Product: "P2\x00x"})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("get limit of a bad code: %v, want InvalidArgument", err)
	}
	al, err := s.ListAlerts(as("viewer"), connect.NewRequest(&whv1.ListAlertsRequest{Warehouse: "A"}))
	if err != nil || len(al.Msg.GetAlerts()) != 2 || al.Msg.GetAlerts()[0].GetKind() != warehouse.AlertBelowMin || al.Msg.GetAlerts()[1].GetKind() != warehouse.AlertExpiring {
		t.Fatalf("alerts = %v, %v", al, err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestWarehouseReservationsAndNotices(t *testing.T) {
	s, _ := newWarehouseService(t)
	if _, err := s.Receive(as("clerk"), receiveReq("A", &whv1.MoveLine{Product: "K", Bin: "G1", Batch: "B1", Qty: 3})); err != nil {
		t.Fatal(err)
	}
	sell := as("seller")
	r1, err := s.Reserve(sell, connect.NewRequest(&whv1.ReserveRequest{Warehouse: "A", Product: "K", Qty: 2, Ref: "SO-1"}))
	if err != nil || r1.Msg.GetStatus() != warehouse.ReservationActive || len(r1.Msg.GetLines()) != 2 || r1.Msg.GetEscrow() {
		t.Fatalf("reserve = %v, %v", r1, err)
	}
	r2, err := s.Reserve(sell, connect.NewRequest(&whv1.ReserveRequest{Warehouse: "A", Product: "P2", Qty: 1, Ref: "SO-1"}))
	if err != nil {
		t.Fatal(err)
	}
	stk, _ := s.GetStock(sell, connect.NewRequest(&whv1.GetStockRequest{Product: "P2", Warehouse: "A"}))
	if p := stk.Msg.GetStocks()[0]; p.GetReserved() != 5 || p.GetAvailable() != 1 {
		t.Fatalf("P2 = %v", p)
	}
	n, err := s.CreateNotice(sell, connect.NewRequest(&whv1.CreateNoticeRequest{Warehouse: "A", Ref: "SO-1", Reservations: []string{r1.Msg.GetId()}}))
	if err != nil || n.Msg.GetStatus() != warehouse.NoticePending {
		t.Fatalf("notice = %v, %v", n, err)
	}
	_, err = s.CreateNotice(sell, connect.NewRequest(&whv1.CreateNoticeRequest{Warehouse: "A", Reservations: []string{r1.Msg.GetId()}}))
	wantCode(t, err, connect.CodeAlreadyExists)
	n, err = s.ConfirmNotice(sell, connect.NewRequest(&whv1.ConfirmNoticeRequest{Id: n.Msg.GetId()}))
	if err != nil || n.Msg.GetStatus() != warehouse.NoticeConfirmed {
		t.Fatalf("confirm = %v, %v", n, err)
	}
	got, err := s.GetReservation(sell, connect.NewRequest(&whv1.GetReservationRequest{Id: r1.Msg.GetId()}))
	if err != nil || got.Msg.GetStatus() != warehouse.ReservationShipped || got.Msg.GetNotice() != n.Msg.GetId() || len(got.Msg.GetShipped()) != 2 {
		t.Fatalf("shipped by notice = %v, %v", got, err)
	}
	rel, err := s.Release(sell, connect.NewRequest(&whv1.ReleaseRequest{Id: r2.Msg.GetId(), Note: "customer cancelled"}))
	if err != nil || rel.Msg.GetStatus() != warehouse.ReservationReleased {
		t.Fatalf("release = %v, %v", rel, err)
	}
	_, err = s.Ship(sell, connect.NewRequest(&whv1.ShipRequest{Id: r2.Msg.GetId()}))
	wantCode(t, err, connect.CodeAlreadyExists)
	r3, err := s.Reserve(sell, connect.NewRequest(&whv1.ReserveRequest{Warehouse: "A", Product: "P1", Qty: 1, Ref: "SO-2"}))
	if err != nil {
		t.Fatal(err)
	}
	sh, err := s.Ship(sell, connect.NewRequest(&whv1.ShipRequest{Id: r3.Msg.GetId()}))
	if err != nil || sh.Msg.GetStatus() != warehouse.ReservationShipped || sh.Msg.GetShipped()[0].GetBatch() != "B1" {
		t.Fatalf("ship = %v, %v", sh, err)
	}
	byRef, err := s.ListReservations(sell, connect.NewRequest(&whv1.ListReservationsRequest{Ref: "SO-1"}))
	if err != nil || len(byRef.Msg.GetReservations()) != 2 {
		t.Fatalf("by ref = %v, %v", byRef, err)
	}
	ns, err := s.ListNotices(sell, connect.NewRequest(&whv1.ListNoticesRequest{Warehouse: "A"}))
	if err != nil || len(ns.Msg.GetNotices()) != 1 {
		t.Fatalf("notices = %v, %v", ns, err)
	}
	stk, _ = s.GetStock(sell, connect.NewRequest(&whv1.GetStockRequest{Product: "P1", Warehouse: "A"}))
	if p := stk.Msg.GetStocks()[0]; p.GetOnHand() != 0 || p.GetReserved() != 0 {
		t.Fatalf("P1 after shipping = %v", p)
	}
	// Escrow on: this node sells from its share, which is empty.
	if _, err := s.AddSeller(as("admin"), connect.NewRequest(&whv1.AddSellerRequest{Warehouse: "A", Node: "sh-pudong"})); err != nil {
		t.Fatal(err)
	}
	_, err = s.Reserve(sell, connect.NewRequest(&whv1.ReserveRequest{Warehouse: "A", Product: "P2", Qty: 1, Ref: "SO-3"}))
	wantReason(t, err, "insufficient_share")
	es, err := s.GetEscrow(sell, connect.NewRequest(&whv1.GetEscrowRequest{Warehouse: "A", Product: "P2"}))
	if err != nil || es.Msg.GetFree() != 2 || len(es.Msg.GetShares()) != 1 {
		t.Fatalf("escrow = %v, %v", es, err)
	}
	el, err := s.ListEscrow(sell, connect.NewRequest(&whv1.ListEscrowRequest{Warehouse: "A"}))
	if err != nil || len(el.Msg.GetEscrows()) != 0 {
		t.Fatalf("escrows = %v, %v", el, err)
	}
}

func TestWarehouseStocktakesAndTransfers(t *testing.T) {
	s, _ := newWarehouseService(t)
	ctx := as("clerk")
	if _, err := s.Receive(ctx, receiveReq("A", &whv1.MoveLine{Product: "P2", Bin: "G1", Qty: 10}, &whv1.MoveLine{Product: "P1", Bin: "G1", Batch: "B1", Qty: 3})); err != nil {
		t.Fatal(err)
	}
	sh, err := s.OpenStocktake(ctx, connect.NewRequest(&whv1.OpenStocktakeRequest{Warehouse: "A", Type: warehouse.StocktakeOther, Products: []string{"P2"}}))
	if err != nil || len(sh.Msg.GetLines()) != 1 || sh.Msg.GetLines()[0].GetBook() != 10 {
		t.Fatalf("open = %v, %v", sh, err)
	}
	cancel, err := s.CancelStocktake(ctx, connect.NewRequest(&whv1.CancelStocktakeRequest{Id: sh.Msg.GetId(), Note: "wrong scope"}))
	if err != nil || cancel.Msg.GetStatus() != warehouse.StocktakeCancelled {
		t.Fatalf("cancel = %v, %v", cancel, err)
	}
	list, err := s.ListStocktakes(ctx, connect.NewRequest(&whv1.ListStocktakesRequest{Warehouse: "A"}))
	if err != nil || len(list.Msg.GetStocktakes()) != 1 {
		t.Fatalf("sheets = %v, %v", list, err)
	}
	tr, err := s.ShipTransfer(ctx, connect.NewRequest(&whv1.ShipTransferRequest{From: "A", To: "B", Lines: []*whv1.MoveLine{{Product: "P2", Qty: 6}, {Product: "P1", Qty: 2}}}))
	if err != nil || tr.Msg.GetStatus() != warehouse.TransferInTransit || len(tr.Msg.GetLines()) != 2 {
		t.Fatalf("ship transfer = %v, %v", tr, err)
	}
	stk, _ := s.GetStock(ctx, connect.NewRequest(&whv1.GetStockRequest{Product: "P2", Warehouse: "B"}))
	if stk.Msg.GetStocks()[0].GetInTransit() != 6 {
		t.Fatalf("in transit = %v", stk.Msg)
	}
	_, err = s.ReceiveTransfer(ctx, connect.NewRequest(&whv1.ReceiveTransferRequest{Id: tr.Msg.GetId(), Bin: "Z9"}))
	wantReason(t, err, "unknown_bin")
	rc, err := s.ReceiveTransfer(ctx, connect.NewRequest(&whv1.ReceiveTransferRequest{Id: tr.Msg.GetId(), Bin: "G1", Lines: []*whv1.MoveLine{
		{Product: "P2", Qty: 5}, {Product: "P1", Batch: "B1", Qty: 2, Bin: "D"}}}))
	if err != nil || rc.Msg.GetStatus() != warehouse.TransferReceived || !rc.Msg.GetDiscrepancy() {
		t.Fatalf("receive = %v, %v", rc, err)
	}
	for _, l := range rc.Msg.GetLines() {
		if (l.GetProduct() == "P2" && l.GetDifference() != 1) || (l.GetProduct() == "P1" && l.GetDamaged() != 2) {
			t.Fatalf("line = %v", l)
		}
	}
	trs, err := s.ListTransfers(ctx, connect.NewRequest(&whv1.ListTransfersRequest{Warehouse: "B"}))
	if err != nil || len(trs.Msg.GetTransfers()) != 1 {
		t.Fatalf("transfers = %v, %v", trs, err)
	}
	po, err := s.CreatePurchaseOrder(as("admin"), connect.NewRequest(&whv1.CreatePurchaseOrderRequest{Warehouse: "A", Supplier: "Tea Co.",
		Lines: []*whv1.PurchaseOrderLine{{Product: "P2", Ordered: 5, Price: 100}}}))
	if err != nil || po.Msg.GetStatus() != warehouse.POOpen {
		t.Fatalf("po = %v, %v", po, err)
	}
	if _, err := s.Receive(ctx, connect.NewRequest(&whv1.ReceiveRequest{Warehouse: "A", PurchaseOrder: po.Msg.GetId(), Lines: []*whv1.MoveLine{{Product: "P2", Bin: "G1", Qty: 5}}})); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetPurchaseOrder(ctx, connect.NewRequest(&whv1.GetPurchaseOrderRequest{Id: po.Msg.GetId()}))
	if err != nil || got.Msg.GetStatus() != warehouse.POReceived || got.Msg.GetLines()[0].GetReceived() != 5 {
		t.Fatalf("po after receipt = %v, %v", got, err)
	}
	cl, err := s.ClosePurchaseOrder(as("admin"), connect.NewRequest(&whv1.ClosePurchaseOrderRequest{Id: po.Msg.GetId()}))
	if err != nil || cl.Msg.GetStatus() != warehouse.POClosed {
		t.Fatalf("close = %v, %v", cl, err)
	}
	pos, err := s.ListPurchaseOrders(ctx, connect.NewRequest(&whv1.ListPurchaseOrdersRequest{Warehouse: "A"}))
	if err != nil || len(pos.Msg.GetPurchaseOrders()) != 1 {
		t.Fatalf("pos = %v, %v", pos, err)
	}
}

// TestBlindStocktake: a sheet opened blind over the API says so and shows
// no book quantity or delta until it is posted; then it shows both.
func TestBlindStocktake(t *testing.T) {
	s, _ := newWarehouseService(t)
	ctx := as("clerk")
	if _, err := s.Receive(ctx, receiveReq("A", &whv1.MoveLine{Product: "P2", Bin: "G1", Qty: 5})); err != nil {
		t.Fatal(err)
	}
	open, err := s.OpenStocktake(ctx, connect.NewRequest(&whv1.OpenStocktakeRequest{Warehouse: "A", Type: warehouse.StocktakePeriodic, Blind: true}))
	if err != nil {
		t.Fatal(err)
	}
	if !open.Msg.GetBlind() || len(open.Msg.GetLines()) != 1 || open.Msg.GetLines()[0].GetBook() != 0 {
		t.Fatalf("blind sheet at the open: %v", open.Msg)
	}
	sid := open.Msg.GetId()
	counted, err := s.RecordCount(ctx, connect.NewRequest(&whv1.RecordCountRequest{Id: sid, Lines: []*whv1.MoveLine{{Product: "P2", Bin: "G1", Qty: 4}}}))
	if err != nil || counted.Msg.GetLines()[0].GetBook() != 0 || counted.Msg.GetLines()[0].GetDelta() != 0 || counted.Msg.GetLines()[0].GetCount() != 4 {
		t.Fatalf("blind sheet counted: %v, %v", counted, err)
	}
	posted, err := s.PostStocktake(ctx, connect.NewRequest(&whv1.PostStocktakeRequest{Id: sid}))
	if err != nil || !posted.Msg.GetBlind() || posted.Msg.GetLines()[0].GetBook() != 5 || posted.Msg.GetLines()[0].GetDelta() != -1 {
		t.Fatalf("blind sheet posted: %v, %v", posted, err)
	}
}
