package stockui

import (
	"net/http"

	"branchline/fault"
	"branchline/warehouse"
	"branchline/web"
)

// Purchase orders (采购单): administrators order from a supplier for a
// warehouse; receipts of type "purchase" naming the order fill it (the
// order's page links to the move form with the order filled in).

// purchaseRows is how many product lines the order form offers.
const purchaseRows = 5

type purchaseLineInput struct {
	Product, Qty, Price string
}

type purchaseListData struct {
	stockPageData
	Warehouse  string
	Warehouses []web.Option
	All        []web.Option
	Lines      []purchaseLineInput
	Products   []web.Option
	Orders     []*warehouse.PurchaseOrder
	Next       string
	// Partial says the warehouse is not this replica's: its receipts, and
	// so what the orders received, are recorded and shown at its owner.
	Partial bool
}

func (s *Pages) purchaseList(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/purchases", "stock.purchases.title")
	s.renderPurchases(w, r, p, nav, http.StatusOK)
}

func (s *Pages) renderPurchases(w http.ResponseWriter, r *http.Request, p *web.Page, nav stockPageData, status int) {
	q := r.URL.Query()
	ws := s.warehouses(r)
	wh := s.listedWarehouse(r, p, ws)
	d := &purchaseListData{stockPageData: nav, Warehouse: wh, Warehouses: warehouseOptions(ws, wh, ""), All: warehouseOptions(ws, wh, ""),
		Products: s.productOptions(r), Partial: wh != "" && !s.holds(findWarehouse(ws, wh))}
	p.Data = d
	for i := range purchaseRows {
		d.Lines = append(d.Lines, purchaseLineInput{Product: web.Nth(p.Form["pp"], i), Qty: web.Nth(p.Form["pq"], i), Price: web.Nth(p.Form["pc"], i)})
	}
	if wh != "" {
		list, err := s.stock.PurchaseOrders(r.Context(), web.CallerOf(r), wh, 50, q.Get("after"))
		if err != nil {
			s.Render(w, r, "stock_purchases", s.stockFailed(p, err, nil), p)
			return
		}
		d.Orders = list.Items
		if t := list.Next; t != "" {
			d.Next = web.LinkWith("/stock/purchases", "warehouse", wh, "after", t)
		}
	}
	s.Render(w, r, "stock_purchases", status, p)
}

// purchaseCreate records a purchase order.
func (s *Pages) purchaseCreate(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/purchases", "stock.purchases.title")
	if !web.ReadForm(w, r, p, 16<<10) {
		s.renderPurchases(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	fail := func(err error) {
		rename := map[string]string{"product": "lines", "quantity": "lines", "price": "lines"}
		s.renderPurchases(w, r, p, nav, s.stockFailed(p, err, rename, "warehouse", "supplier", "note", "lines"))
	}
	spec := warehouse.PurchaseSpec{Warehouse: p.Value("warehouse"), Supplier: p.Value("supplier"), Note: p.Value("note")}
	f := p.Form
	for i, prod := range f["pp"] {
		if prod == "" && web.Nth(f["pq"], i) == "" {
			continue
		}
		n, err := parseQty("lines", web.Nth(f["pq"], i))
		if err != nil {
			fail(err)
			return
		}
		price, err := web.YuanToFen("lines", web.Nth(f["pc"], i))
		if err != nil {
			fail(err)
			return
		}
		spec.Lines = append(spec.Lines, warehouse.POLine{Product: prod, Ordered: n, Price: price})
	}
	if len(spec.Lines) == 0 {
		fail(fault.Invalidf("lines", "required", "no line"))
		return
	}
	po, err := s.stock.CreatePurchaseOrder(r.Context(), web.CallerOf(r), spec)
	if err != nil {
		fail(err)
		return
	}
	web.Redirect(w, r, "/stock/purchases/"+po.ID, p.T("stock.purchase.created"))
}

type purchaseData struct {
	stockPageData
	PO        *warehouse.PurchaseOrder
	Warehouse string
	Names     map[string]string
	// Receive links to the move form receiving against the order, at the
	// warehouse's node.
	Receive string
	Total   int64
	// Partial: as purchaseListData's.
	Partial bool
}

func (s *Pages) purchasePage(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/purchases", "stock.purchase.title")
	s.renderPurchase(w, r, p, nav, http.StatusOK)
}

func (s *Pages) renderPurchase(w http.ResponseWriter, r *http.Request, p *web.Page, nav stockPageData, status int) {
	po, err := s.stock.PurchaseOrder(r.Context(), web.CallerOf(r), r.PathValue("id"))
	if err != nil {
		s.Render(w, r, "error", s.stockFailed(p, err, nil), p)
		return
	}
	wh := findWarehouse(s.warehouses(r), po.Warehouse)
	d := &purchaseData{stockPageData: nav, PO: po, Warehouse: po.Warehouse, Partial: !s.holds(wh)}
	p.Data = d
	if wh != nil {
		d.Warehouse = warehouseLabel(wh)
		if wh.Owner == s.Site() && po.Status == "open" && p.Can("stock.move") {
			d.Receive = web.LinkWith("/stock/moves/new", "warehouse", wh.ID, "type", "receipt.purchase", "purchase_order", po.ID)
		}
	}
	var ids []string
	for _, l := range po.Lines {
		ids = append(ids, l.Product)
		d.Total += l.Ordered * l.Price
	}
	d.Names = s.productNames(r, ids...)
	s.Render(w, r, "stock_purchase", status, p)
}

// purchaseClose closes an order (nothing more will be received).
func (s *Pages) purchaseClose(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/purchases", "stock.purchase.title")
	id := r.PathValue("id")
	if !web.ReadForm(w, r, p, 4<<10) {
		s.renderPurchase(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	if _, err := s.stock.ClosePurchaseOrder(r.Context(), web.CallerOf(r), id, p.Value("note")); err != nil {
		s.renderPurchase(w, r, p, nav, s.stockFailed(p, err, nil))
		return
	}
	web.Redirect(w, r, "/stock/purchases/"+id, p.T("stock.purchase.closed"))
}
