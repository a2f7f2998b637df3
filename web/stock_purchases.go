package web

import (
	"net/http"

	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
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
	Warehouses []option
	All        []option
	Lines      []purchaseLineInput
	Products   []option
	Orders     []*whv1.PurchaseOrder
	Next       string
}

func (s *Server) purchaseList(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/purchases", "stock.purchases.title")
	s.renderPurchases(w, r, p, nav, http.StatusOK)
}

func (s *Server) renderPurchases(w http.ResponseWriter, r *http.Request, p *Page, nav stockPageData, status int) {
	q := r.URL.Query()
	ws := s.warehouses(r)
	wh := s.listedWarehouse(r, p, ws)
	d := &purchaseListData{stockPageData: nav, Warehouse: wh, Warehouses: warehouseOptions(ws, wh, ""), All: warehouseOptions(ws, wh, ""),
		Products: s.productOptions(r)}
	p.Data = d
	for i := range purchaseRows {
		d.Lines = append(d.Lines, purchaseLineInput{Product: at0(p.Form["pp"], i), Qty: at0(p.Form["pq"], i), Price: at0(p.Form["pc"], i)})
	}
	if wh != "" {
		resp, err := stockCall(r, s.cfg.Warehouse.ListPurchaseOrders, &whv1.ListPurchaseOrdersRequest{Warehouse: wh, PageSize: 50, PageToken: q.Get("after")})
		if err != nil {
			s.render(w, r, "stock_purchases", s.stockFailed(p, err, nil), p)
			return
		}
		d.Orders = resp.GetPurchaseOrders()
		if t := resp.GetNextPageToken(); t != "" {
			d.Next = linkWith("/stock/purchases", "warehouse", wh, "after", t)
		}
	}
	s.render(w, r, "stock_purchases", status, p)
}

// purchaseCreate records a purchase order.
func (s *Server) purchaseCreate(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/purchases", "stock.purchases.title")
	if !readAdminForm(w, r, p, 16<<10) {
		s.renderPurchases(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	fail := func(err error) {
		rename := map[string]string{"product": "lines", "quantity": "lines", "price": "lines"}
		s.renderPurchases(w, r, p, nav, s.stockFailed(p, err, rename, "warehouse", "supplier", "note", "lines"))
	}
	req := &whv1.CreatePurchaseOrderRequest{Warehouse: p.Value("warehouse"), Supplier: p.Value("supplier"), Note: p.Value("note")}
	f := p.Form
	for i, prod := range f["pp"] {
		if prod == "" && at0(f["pq"], i) == "" {
			continue
		}
		n, err := parseQty("lines", at0(f["pq"], i))
		if err != nil {
			fail(err)
			return
		}
		price, err := yuanToFen("lines", at0(f["pc"], i))
		if err != nil {
			fail(err)
			return
		}
		req.Lines = append(req.Lines, &whv1.PurchaseOrderLine{Product: prod, Ordered: n, Price: price})
	}
	if len(req.Lines) == 0 {
		fail(fault.Invalidf("lines", "required", "no line"))
		return
	}
	po, err := stockCall(r, s.cfg.Warehouse.CreatePurchaseOrder, req)
	if err != nil {
		fail(err)
		return
	}
	redirect(w, r, "/stock/purchases/"+po.GetId(), p.T("stock.purchase.created"))
}

type purchaseData struct {
	stockPageData
	PO        *whv1.PurchaseOrder
	Warehouse string
	Names     map[string]string
	// Receive links to the move form receiving against the order, at the
	// warehouse's node.
	Receive string
	Total   int64
}

func (s *Server) purchasePage(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/purchases", "stock.purchase.title")
	s.renderPurchase(w, r, p, nav, http.StatusOK)
}

func (s *Server) renderPurchase(w http.ResponseWriter, r *http.Request, p *Page, nav stockPageData, status int) {
	po, err := stockCall(r, s.cfg.Warehouse.GetPurchaseOrder, &whv1.GetPurchaseOrderRequest{Id: r.PathValue("id")})
	if err != nil {
		s.render(w, r, "error", s.stockFailed(p, err, nil), p)
		return
	}
	d := &purchaseData{stockPageData: nav, PO: po, Warehouse: po.GetWarehouse()}
	p.Data = d
	if wh := findWarehouse(s.warehouses(r), po.GetWarehouse()); wh != nil {
		d.Warehouse = warehouseLabel(wh)
		if wh.GetOwner() == s.cfg.Site && po.GetStatus() == "open" && p.Can("stock.move") {
			d.Receive = linkWith("/stock/moves/new", "warehouse", wh.GetId(), "type", "receipt.purchase", "purchase_order", po.GetId())
		}
	}
	var ids []string
	for _, l := range po.GetLines() {
		ids = append(ids, l.GetProduct())
		d.Total += l.GetOrdered() * l.GetPrice()
	}
	d.Names = s.productNames(r, ids...)
	s.render(w, r, "stock_purchase", status, p)
}

// purchaseClose closes an order (nothing more will be received).
func (s *Server) purchaseClose(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/purchases", "stock.purchase.title")
	id := r.PathValue("id")
	if !readAdminForm(w, r, p, 4<<10) {
		s.renderPurchase(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	if _, err := stockCall(r, s.cfg.Warehouse.ClosePurchaseOrder, &whv1.ClosePurchaseOrderRequest{Id: id, Note: p.Value("note")}); err != nil {
		s.renderPurchase(w, r, p, nav, s.stockFailed(p, err, nil))
		return
	}
	redirect(w, r, "/stock/purchases/"+id, p.T("stock.purchase.closed"))
}
