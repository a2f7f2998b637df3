package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"branchline/api"
	"branchline/app"
	"branchline/auth"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
	"branchline/warehouse"
	"branchline/warehouse/warehouseapp"
	"branchline/web"
	"branchline/web/stockui"
)

// TestStockPagesShowHeldWarehouses: the views hold the stock of two
// warehouses, SH1 of this node (br-web) and BJ1 of br-bj, as the hub
// holds them (a node holds a few events of BJ1 at most, from which its
// stock would be wrong). The node's stock pages show SH1's stock, alerts,
// moves and stocktakes only and say where BJ1's are shown; of BJ1, which
// the node sells from, its escrow without the owner's promised and free
// stock; of a purchase order for BJ1, not what was received. The same
// pages holding every warehouse, as at the hub, show both.
func TestStockPagesShowHeldWarehouses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	s := startStockSite(t)
	s.setUp(t)
	sheet, po := s.setUpOther(t)
	hub := startStockHub(t, s)

	// Each want is a pattern a page must show (in) or must not (out).
	type want struct{ in, out []string }
	at := func(node, hub want) map[string]want { return map[string]want{"node": node, "hub": hub} }
	q := regexp.QuoteMeta
	section := func(wh string) string { return q(`class="card stock-section" data-warehouse="` + wh + `"`) }
	alert := func(kind, product, wh string) string {
		return q(`data-kind="` + kind + `" data-product="` + product + `" data-warehouse="` + wh + `"`)
	}
	move := func(wh string) string {
		return `<tr data-move="[^"]+"( data-direction="[^"]+")? data-warehouse="` + wh + `">`
	}
	productWH := func(wh string) string { return q(`class="product-wh" data-warehouse="` + wh + `"`) }
	option := func(wh string) string { return q(`<option value="` + wh + `"`) }
	escrowRow := q(`<tr data-product="` + milk + `">`)
	var (
		elsewhere       = q(`id="stock-elsewhere"`)
		escrowElsewhere = q(`id="escrow-elsewhere"`)
		receivedAtOwner = q(`id="received-elsewhere"`)
		freeHeader      = q(`<th class="num">所属网点自由支配</th>`)
		backingHeader   = q(`<th class="num">承诺中</th>`)
		ownShare        = q(`br-web (本网点): <strong>`)
		sheetRow        = q(`data-sheet="` + sheet + `"`)
	)
	cases := []struct {
		name, path string
		want       map[string]want
	}{
		{"overview", "/stock", at(
			want{in: []string{section(stockWH), alert("below_min", cup, stockWH), elsewhere, option(stockWH)},
				out: []string{section(otherWH), alert("below_min", cup, otherWH), alert("expiring", milk, otherWH), option(otherWH)}},
			want{in: []string{section(stockWH), section(otherWH), alert("below_min", cup, stockWH), alert("below_min", cup, otherWH),
				alert("expiring", milk, otherWH), option(otherWH)}, out: []string{elsewhere}})},
		{"overview of the other warehouse", "/stock?warehouse=" + otherWH, at(
			want{in: []string{section(stockWH)}, out: []string{section(otherWH)}},
			want{in: []string{section(otherWH)}, out: []string{section(stockWH)}})},
		{"product", "/stock/products/" + milk, at(
			want{in: []string{productWH(stockWH), move(stockWH), elsewhere}, out: []string{productWH(otherWH), move(otherWH)}},
			want{in: []string{productWH(stockWH), productWH(otherWH), move(stockWH), move(otherWH)}, out: []string{elsewhere}})},
		{"moves", "/stock/moves", at(
			want{in: []string{move(stockWH), elsewhere}, out: []string{move(otherWH), option(otherWH)}},
			want{in: []string{move(stockWH), move(otherWH), option(otherWH)}, out: []string{elsewhere}})},
		{"moves of the other warehouse", "/stock/moves?warehouse=" + otherWH, at(
			want{in: []string{move(stockWH)}, out: []string{move(otherWH)}},
			want{in: []string{move(otherWH)}, out: []string{move(stockWH)}})},
		{"stocktakes", "/stock/stocktakes?warehouse=" + otherWH, at(
			want{in: []string{elsewhere}, out: []string{sheetRow}},
			want{in: []string{sheetRow}, out: []string{elsewhere}})},
		{"escrow", "/stock/reservations?warehouse=" + otherWH, at(
			want{in: []string{escrowRow, ownShare, escrowElsewhere}, out: []string{freeHeader, backingHeader}},
			want{in: []string{escrowRow, freeHeader, backingHeader}, out: []string{escrowElsewhere}})},
		{"purchase orders", "/stock/purchases?warehouse=" + otherWH, at(
			want{in: []string{q(cup + " —/10"), receivedAtOwner}, out: []string{q(cup + " 4/10")}},
			want{in: []string{q(cup + " 4/10")}, out: []string{receivedAtOwner}})},
		{"purchase order", "/stock/purchases/" + po, at(
			want{in: []string{receivedAtOwner}, out: []string{`"> *4</td>`}},
			want{in: []string{`"> *4</td>`}, out: []string{receivedAtOwner}})},
	}
	clients := map[string]*webClient{"node": signIn(t, s.base, "admin"), "hub": signIn(t, hub, "admin")}
	for _, c := range cases {
		for _, site := range []string{"node", "hub"} {
			t.Run(c.name+" at the "+site, func(t *testing.T) {
				status, page := clients[site].get(t, c.path)
				if status != http.StatusOK {
					t.Fatalf("status %d", status)
				}
				for _, in := range c.want[site].in {
					if !regexp.MustCompile(in).MatchString(page) {
						t.Errorf("lacks %s", in)
					}
				}
				for _, out := range c.want[site].out {
					if m := regexp.MustCompile(out).FindString(page); m != "" {
						t.Errorf("shows %s", m)
					}
				}
			})
		}
	}

	// The note speaks the page's language.
	_, page := pageClient(t, s.base)("/stock", "en")
	if !strings.Contains(page, "shown at the branch that owns them and at head office") || strings.Contains(page, "其他仓库") {
		t.Error("the English overview lacks the note in English")
	}
}

// setUpOther gives BJ1, br-bj's warehouse, the records its owner makes —
// a receipt of milk that expires in three days and of two cups, below the
// cup's minimum of five, its free stock released into the escrow this
// node sells from, an open stocktake, four cups received against a
// purchase order of ten this node placed — recorded here as a service
// running as br-bj would. It returns the stocktake's and the order's ids.
func (s *stockSite) setUpOther(t *testing.T) (sheet, po string) {
	t.Helper()
	ctx, ok := s.admin, noErr(t)
	bj := &api.WarehouseService{App: &warehouseapp.Stock{Store: s.n.Store(), IDs: replication.NewIDs(), Node: "br-bj"},
		Grants: app.AccessGrants(s.n.Store(), nil)}
	order, err := s.stock.CreatePurchaseOrder(ctx, connect.NewRequest(&whv1.CreatePurchaseOrderRequest{Warehouse: otherWH, Supplier: "北京供货商",
		Lines: []*whv1.PurchaseOrderLine{{Product: cup, Ordered: 10, Price: 3000}}}))
	if err != nil {
		t.Fatal(err)
	}
	ok(bj.Receive(ctx, connect.NewRequest(&whv1.ReceiveRequest{Warehouse: otherWH, Type: "purchase", PurchaseOrder: order.Msg.GetId(),
		Lines: []*whv1.MoveLine{{Product: cup, Bin: "A01", Qty: 4}}})))
	ok(bj.Receive(ctx, connect.NewRequest(&whv1.ReceiveRequest{Warehouse: otherWH, Type: "purchase", Lines: []*whv1.MoveLine{
		{Product: milk, Bin: "A01", Batch: "B0601", Qty: 12, ProduceTime: dayFromNow(-12), ExpireTime: dayFromNow(3)}}})))
	ok(bj.Issue(ctx, connect.NewRequest(&whv1.IssueRequest{Warehouse: otherWH, Type: "order", Lines: []*whv1.MoveLine{{Product: cup, Bin: "A01", Qty: 2}}})))
	min := int64(5)
	ok(s.stock.SetLimit(ctx, connect.NewRequest(&whv1.SetLimitRequest{Warehouse: otherWH, Product: cup, Min: &min})))
	ok(s.stock.AddSeller(ctx, connect.NewRequest(&whv1.AddSellerRequest{Warehouse: otherWH, Node: "br-web"})))
	if _, err := s.n.Store().Exec(ctx, "admin", func(views replication.Tx) ([]replication.Draft, error) {
		return warehouse.Offer(views, "br-bj")
	}); err != nil {
		t.Fatal(err)
	}
	st, err := bj.OpenStocktake(ctx, connect.NewRequest(&whv1.OpenStocktakeRequest{Warehouse: otherWH, Type: "periodic", Products: []string{milk}}))
	if err != nil {
		t.Fatal(err)
	}
	return st.Msg.GetId(), order.Msg.GetId()
}

// startStockHub serves the warehouse pages over the stock site's store as
// a hub would, holding every warehouse, and returns their base URL.
func startStockHub(t *testing.T, s *stockSite) string {
	t.Helper()
	login := func(_ context.Context, user, pw string) (*auth.Principal, error) {
		if user == "admin" && pw == webPassword {
			return &auth.Principal{User: "admin", Roles: []string{auth.RoleAdmin}}, nil
		}
		return nil, auth.ErrBadCredentials
	}
	stock := &warehouseapp.Stock{Store: s.n.Store(), IDs: replication.NewIDs(), Node: replication.HubOrigin}
	ui, err := web.New(web.Config{Site: "hub1", Hub: true, Home: "/stock", Login: login, Sessions: web.NewMemorySessions(), Grants: app.AdminGrants,
		Pages: []web.Pages{stockui.NewHolding(stock, stockui.HoldsAll)}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ui)
	t.Cleanup(srv.Close)
	return srv.URL
}
