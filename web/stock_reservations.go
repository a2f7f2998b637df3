package web

import (
	"net/http"

	whv1 "branchline/gen/branchline/warehouse/v1"
)

// Reservations (sold, not shipped) lower the available stock (虚拟库存);
// a node that sells a warehouse's stock offline reserves against its
// escrow share, which the page shows with the hub's pool and each node's
// target. Shipping notices hand reservations to the warehouse's owner,
// which confirms them to ship.

// reservationRow is a reservation with what this node may do with it.
type reservationRow struct {
	R    *whv1.Reservation
	Name string
	// Held says this node holds it (may release it, or put it on a
	// notice); Shippable that it also owns the warehouse.
	Held, Shippable bool
}

// noticeRow is a shipping notice with what this node may do with it.
type noticeRow struct {
	N           *whv1.Notice
	Confirmable bool
}

type reservationListData struct {
	stockPageData
	Warehouse  string
	Ref        string
	Warehouses []option
	All        []option
	Products   []option
	Rows       []reservationRow
	Next       string
	Escrows    []*whv1.Escrow
	Names      map[string]string
	Notices    []noticeRow
	// Noticeable says some reservation may go on a notice.
	Noticeable bool
}

// reservationList shows a warehouse's reservations (or an order's, with
// ?ref=), the escrow of its products and its shipping notices.
func (s *Server) reservationList(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/reservations", "stock.reservations.title")
	s.renderReservations(w, r, p, nav, http.StatusOK)
}

func (s *Server) renderReservations(w http.ResponseWriter, r *http.Request, p *Page, nav stockPageData, status int) {
	q := r.URL.Query()
	ws := s.warehouses(r)
	wh := s.listedWarehouse(r, p, ws)
	d := &reservationListData{stockPageData: nav, Warehouse: wh, Ref: q.Get("ref"), Warehouses: warehouseOptions(ws, wh, ""),
		Products: s.productOptions(r)}
	p.Data = d
	target := p.Value("warehouse")
	if target == "" {
		target = wh
	}
	d.All = warehouseOptions(ws, target, "")
	if wh == "" {
		s.render(w, r, "stock_reservations", status, p)
		return
	}
	req := &whv1.ListReservationsRequest{Warehouse: wh, PageSize: 50, PageToken: q.Get("after")}
	if d.Ref != "" {
		req.Warehouse = ""
		req.Ref = d.Ref
	}
	resp, err := stockCall(r, s.cfg.Warehouse.ListReservations, req)
	if err != nil {
		s.render(w, r, "stock_reservations", s.stockFailed(p, err, nil), p)
		return
	}
	escrows, err := stockCall(r, s.cfg.Warehouse.ListEscrow, &whv1.ListEscrowRequest{Warehouse: wh, PageSize: 100})
	if err != nil {
		s.render(w, r, "stock_reservations", s.stockFailed(p, err, nil), p)
		return
	}
	notices, err := stockCall(r, s.cfg.Warehouse.ListNotices, &whv1.ListNoticesRequest{Warehouse: wh, PageSize: 20})
	if err != nil {
		s.render(w, r, "stock_reservations", s.stockFailed(p, err, nil), p)
		return
	}
	d.Escrows = escrows.GetEscrows()
	var ids []string
	for _, x := range resp.GetReservations() {
		ids = append(ids, x.GetProduct())
	}
	for _, e := range d.Escrows {
		ids = append(ids, e.GetProduct())
	}
	d.Names = s.productNames(r, ids...)
	for _, x := range resp.GetReservations() {
		owner := ""
		if wx := findWarehouse(ws, x.GetWarehouse()); wx != nil {
			owner = wx.GetOwner()
		}
		holder := x.GetNode()
		if x.GetNotice() != "" {
			holder = owner
		}
		row := reservationRow{R: x, Name: d.Names[x.GetProduct()]}
		row.Held = x.GetStatus() == "active" && holder == s.cfg.Site && p.Can("stock.reserve")
		row.Shippable = row.Held && owner == s.cfg.Site
		d.Noticeable = d.Noticeable || (row.Held && x.GetNotice() == "")
		d.Rows = append(d.Rows, row)
	}
	own := findWarehouse(ws, wh).GetOwner() == s.cfg.Site
	for _, n := range notices.GetNotices() {
		d.Notices = append(d.Notices, noticeRow{N: n, Confirmable: own && n.GetStatus() == "pending" && p.Can("stock.reserve")})
	}
	if t := resp.GetNextPageToken(); t != "" {
		d.Next = linkWith("/stock/reservations", "warehouse", wh, "ref", d.Ref, "after", t)
	}
	s.render(w, r, "stock_reservations", status, p)
}

// reservationMake reserves stock for an order.
func (s *Server) reservationMake(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/reservations", "stock.reservations.title")
	if !readAdminForm(w, r, p, 8<<10) {
		s.renderReservations(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	qty, err := parseQty("quantity", p.Value("quantity"))
	if err == nil {
		var res *whv1.Reservation
		res, err = stockCall(r, s.cfg.Warehouse.Reserve, &whv1.ReserveRequest{Warehouse: p.Value("warehouse"), Product: p.Value("product"),
			Qty: qty, Ref: p.Value("ref"), Note: p.Value("note")})
		if err == nil {
			name := s.productNames(r, res.GetProduct())[res.GetProduct()]
			redirect(w, r, linkWith("/stock/reservations", "warehouse", res.GetWarehouse()),
				p.T("stock.reservation.made", res.GetQty(), codeLabel(res.GetProduct(), name), res.GetRef()))
			return
		}
	}
	status := s.stockFailed(p, err, nil, "warehouse", "product", "quantity", "ref", "note")
	s.renderReservations(w, r, p, nav, status)
}

// reservationAction runs a release or a shipment and goes back to the
// warehouse's reservations.
func (s *Server) reservationAction(w http.ResponseWriter, r *http.Request, msgKey string,
	call func(p *Page, id string) (*whv1.Reservation, error)) {
	p, nav := s.stockPage(r, "/stock/reservations", "stock.reservations.title")
	if !readAdminForm(w, r, p, 4<<10) {
		s.renderReservations(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	res, err := call(p, r.PathValue("id"))
	if err != nil {
		s.renderReservations(w, r, p, nav, s.stockFailed(p, err, nil))
		return
	}
	redirect(w, r, linkWith("/stock/reservations", "warehouse", res.GetWarehouse()), p.T(msgKey, res.GetRef()))
}

func (s *Server) reservationRelease(w http.ResponseWriter, r *http.Request) {
	s.reservationAction(w, r, "stock.reservation.released", func(p *Page, id string) (*whv1.Reservation, error) {
		return stockCall(r, s.cfg.Warehouse.Release, &whv1.ReleaseRequest{Id: id, Note: p.Value("note")})
	})
}

func (s *Server) reservationShip(w http.ResponseWriter, r *http.Request) {
	s.reservationAction(w, r, "stock.reservation.shipped", func(_ *Page, id string) (*whv1.Reservation, error) {
		return stockCall(r, s.cfg.Warehouse.Ship, &whv1.ShipRequest{Id: id})
	})
}

// noticeCreate puts the reservations ticked on the page on a shipping
// notice for the warehouse's owner.
func (s *Server) noticeCreate(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/reservations", "stock.reservations.title")
	if !readAdminForm(w, r, p, 16<<10) {
		s.renderReservations(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	n, err := stockCall(r, s.cfg.Warehouse.CreateNotice, &whv1.CreateNoticeRequest{Warehouse: p.Value("warehouse"),
		Ref: p.Value("notice_ref"), Reservations: p.Form["res"], Note: p.Value("notice_note")})
	if err != nil {
		status := s.stockFailed(p, err, map[string]string{"ref": "notice_ref", "note": "notice_note"}, "notice_ref", "notice_note", "reservations")
		s.renderReservations(w, r, p, nav, status)
		return
	}
	redirect(w, r, linkWith("/stock/reservations", "warehouse", n.GetWarehouse()), p.T("stock.notice.created", len(n.GetReservations())))
}

// noticeConfirm ships a notice's reservations at the warehouse's owner.
func (s *Server) noticeConfirm(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/reservations", "stock.reservations.title")
	if !readAdminForm(w, r, p, 4<<10) {
		s.renderReservations(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	n, err := stockCall(r, s.cfg.Warehouse.ConfirmNotice, &whv1.ConfirmNoticeRequest{Id: r.PathValue("id")})
	if err != nil {
		s.renderReservations(w, r, p, nav, s.stockFailed(p, err, nil))
		return
	}
	redirect(w, r, linkWith("/stock/reservations", "warehouse", n.GetWarehouse()), p.T("stock.notice.confirmed", len(n.GetReservations())))
}
