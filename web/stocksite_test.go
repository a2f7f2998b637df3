package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/api"
	"branchline/app"
	"branchline/auth"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
	"branchline/warehouse/warehouseapp"
	"branchline/wiring"
)

// stockSite is a real node (whose web UI serves the warehouse pages) and
// a WarehouseService over its store with a clock the test sets, so that
// the setup can receive batches on days in the past: the receipt date
// decides which batch an issue takes first.
type stockSite struct {
	n     *wiring.Node
	base  string
	at    time.Time // the setup service's clock
	stock *api.WarehouseService
	admin context.Context
}

// The stock tests' warehouse, products and batches.
const (
	stockWH      = "SH1"
	otherWH      = "BJ1"
	milk         = "MILK-1L"
	milkBarcode  = "6901234567892"
	cup          = "CUP-01"
	cupBarcode   = "6920000000017"
	oldBatch     = "B0501" // received 20 days ago
	newBatch     = "B0516" // received 5 days ago
	scannedBatch = "B0520" // received in the browser
)

func startStockSite(t *testing.T) *stockSite {
	t.Helper()
	n := startNode(t)
	s := &stockSite{n: n, base: n.URL(), at: time.Now(),
		admin: auth.WithPrincipal(context.Background(), &auth.Principal{User: "admin", Roles: []string{auth.RoleAdmin}})}
	s.stock = &api.WarehouseService{App: &warehouseapp.Stock{Store: n.Store(), IDs: replication.NewIDs(), Node: "br-web",
		Now: func() time.Time { return s.at }}, Grants: app.AccessGrants(n.Store(), nil)}
	return s
}

// noErr returns a function failing the test when a service call's error
// is not nil: noErr(t)(svc.Call(ctx, req)).
func noErr(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// dayFromNow is the time d days from now (negative: ago).
func dayFromNow(d int) *timestamppb.Timestamp { return timestamppb.New(time.Now().AddDate(0, 0, d)) }

// setUp creates warehouse SH1 of this node with two good bins and a
// defective one, warehouse BJ1 of another node, a batch-tracked milk with
// a barcode received in two batches (20 and 5 days ago), a cup below its
// minimum and a gift box bundling both.
func (s *stockSite) setUp(t *testing.T) {
	t.Helper()
	ctx, st, ok := s.admin, s.stock, noErr(t)
	ok(st.SetWarehouse(ctx, connect.NewRequest(&whv1.SetWarehouseRequest{Warehouse: &whv1.Warehouse{
		Id: stockWH, Name: "上海一号仓", Owner: "br-web", Address: "上海市浦东新区张江路 88 号"}})))
	for _, b := range []*whv1.Bin{{Id: "A01", Name: "拣货区", Kind: "good"}, {Id: "A02", Name: "存储区", Kind: "good"}, {Id: "D01", Name: "次品区", Kind: "defective"}} {
		ok(st.SetBin(ctx, connect.NewRequest(&whv1.SetBinRequest{Warehouse: stockWH, Bin: b})))
	}
	ok(st.SetWarehouse(ctx, connect.NewRequest(&whv1.SetWarehouseRequest{Warehouse: &whv1.Warehouse{
		Id: otherWH, Name: "北京仓", Owner: "br-bj"}})))
	ok(st.SetBin(ctx, connect.NewRequest(&whv1.SetBinRequest{Warehouse: otherWH, Bin: &whv1.Bin{Id: "A01", Kind: "good"}})))
	for _, p := range []*whv1.Product{
		{Id: milk, Name: "光明鲜牛奶 1L", Category: "乳品", Class: "sale", RetailPrice: 1280, CostPrice: 900, Barcode: milkBarcode,
			BatchTracked: true, ExpiryDays: 15, WeightGrams: 1050},
		{Id: cup, Name: "不锈钢保温杯", Category: "日用品", Class: "sale", RetailPrice: 5900, CostPrice: 3100, Barcode: cupBarcode},
	} {
		ok(st.SetProduct(ctx, connect.NewRequest(&whv1.SetProductRequest{Product: p})))
	}
	ok(st.SetProduct(ctx, connect.NewRequest(&whv1.SetProductRequest{Product: &whv1.Product{Id: "GIFT-BOX", Name: "早餐礼盒",
		Category: "礼盒", Class: "gift", RetailPrice: 8800, Components: []*whv1.Component{{Product: milk, Qty: 2}, {Product: cup, Qty: 1}}}})))
	min, safety := int64(20), int64(10)
	ok(st.SetLimit(ctx, connect.NewRequest(&whv1.SetLimitRequest{Warehouse: stockWH, Product: milk, Safety: &safety})))
	ok(st.SetLimit(ctx, connect.NewRequest(&whv1.SetLimitRequest{Warehouse: stockWH, Product: cup, Min: &min})))

	receive := func(ago int, lines ...*whv1.MoveLine) {
		s.at = time.Now().AddDate(0, 0, -ago)
		ok(st.Receive(ctx, connect.NewRequest(&whv1.ReceiveRequest{Warehouse: stockWH, Type: "purchase", Lines: lines, Ref: fmt.Sprintf("CG-%03d", ago)})))
	}
	receive(20, &whv1.MoveLine{Product: milk, Bin: "A01", Batch: oldBatch, Qty: 40, ProduceTime: dayFromNow(-22), ExpireTime: dayFromNow(10)})
	receive(5, &whv1.MoveLine{Product: milk, Bin: "A01", Batch: newBatch, Qty: 30, ProduceTime: dayFromNow(-6), ExpireTime: dayFromNow(60)},
		&whv1.MoveLine{Product: cup, Bin: "A02", Qty: 8})
	s.at = time.Now()
}

// batches reads the milk's stock in SH1 by batch.
func (s *stockSite) batches(t *testing.T) (map[string]int64, int64) {
	t.Helper()
	resp, err := s.stock.GetStock(s.admin, connect.NewRequest(&whv1.GetStockRequest{Product: milk, Warehouse: stockWH}))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	st := resp.Msg.GetStocks()[0]
	for _, l := range st.GetLines() {
		out[l.GetBatch()] += l.GetQty()
	}
	return out, st.GetOnHand()
}

// moves counts SH1's moves.
func (s *stockSite) moves(t *testing.T) int {
	t.Helper()
	resp, err := s.stock.ListMoves(s.admin, connect.NewRequest(&whv1.ListMovesRequest{Warehouse: stockWH, PageSize: 500}))
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.Msg.GetMoves())
}
