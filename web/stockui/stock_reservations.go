package stockui

import (
	"net/http"
	"slices"

	"branchline/warehouse"
	"branchline/web"
)

// Reservations (sold, not shipped) lower the available stock (虚拟库存);
// a node that sells a warehouse's stock offline reserves against its
// escrow share, which the page shows with the hub's pool and each node's
// target. Shipping notices hand reservations to the warehouse's owner,
// which confirms them to ship. The page lists the warehouses this
// replica holds and those this node sells from; of the latter a node
// holds the escrow exactly but not what it still promises or the
// owner's free stock, which the page leaves out (Partial).

// reservationRow is a reservation with what this node may do with it.
type reservationRow struct {
	R    *warehouse.Reservation
	Name string
	// Held says this node holds it (may release it, or put it on a
	// notice); Shippable that it also owns the warehouse.
	Held, Shippable bool
}

// noticeRow is a shipping notice with what this node may do with it.
type noticeRow struct {
	N           *warehouse.Notice
	Confirmable bool
}

type reservationListData struct {
	stockPageData
	Warehouse  string
	Ref        string
	Warehouses []web.Option
	All        []web.Option
	Products   []web.Option
	Rows       []reservationRow
	Next       string
	Escrows    []*warehouse.Escrow
	Names      map[string]string
	Notices    []noticeRow
	// Noticeable says some reservation may go on a notice.
	Noticeable bool
	// Partial says the warehouse is one this node sells from but does
	// not hold: the escrow's backing and the owner's free stock are not
	// shown.
	Partial bool
}

// reservationList shows a warehouse's reservations (or an order's, with
// ?ref=), the escrow of its products and its shipping notices.
func (s *Pages) reservationList(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/reservations", "stock.reservations.title")
	s.renderReservations(w, r, p, nav, http.StatusOK)
}

func (s *Pages) renderReservations(w http.ResponseWriter, r *http.Request, p *web.Page, nav stockPageData, status int) {
	q := r.URL.Query()
	all := s.warehouses(r)
	// The warehouses a replica holds, and those this node sells from:
	// the ones it reserves from.
	ws := slices.DeleteFunc(slices.Clone(all), func(w *warehouse.Warehouse) bool { return !s.holds(w) && !s.sells(w) })
	wh := s.listedWarehouse(r, p, ws)
	d := &reservationListData{stockPageData: nav, Warehouse: wh, Ref: q.Get("ref"), Warehouses: warehouseOptions(ws, wh, ""),
		Products: s.productOptions(r), Partial: s.sells(findWarehouse(ws, wh))}
	p.Data = d
	target := p.Value("warehouse")
	if target == "" {
		target = wh
	}
	d.All = warehouseOptions(ws, target, "")
	if wh == "" {
		s.Render(w, r, "stock_reservations", status, p)
		return
	}
	ctx, c := r.Context(), web.CallerOf(r)
	// An order's reservations are listed whatever their warehouse.
	listed := wh
	if d.Ref != "" {
		listed = ""
	}
	resp, err := s.stock.Reservations(ctx, c, listed, d.Ref, 50, q.Get("after"))
	if err != nil {
		s.Render(w, r, "stock_reservations", s.stockFailed(p, err, nil), p)
		return
	}
	escrows, err := s.stock.Escrows(ctx, c, wh, 100, "")
	if err != nil {
		s.Render(w, r, "stock_reservations", s.stockFailed(p, err, nil), p)
		return
	}
	notices, err := s.stock.Notices(ctx, c, wh, 20, "")
	if err != nil {
		s.Render(w, r, "stock_reservations", s.stockFailed(p, err, nil), p)
		return
	}
	d.Escrows = escrows.Items
	var ids []string
	for _, x := range resp.Items {
		ids = append(ids, x.Product)
	}
	for _, e := range d.Escrows {
		ids = append(ids, e.Product)
	}
	d.Names = s.productNames(r, ids...)
	for _, x := range resp.Items {
		owner := ""
		if wx := findWarehouse(all, x.Warehouse); wx != nil {
			owner = wx.Owner
		}
		holder := x.Node
		if x.Notice != "" {
			holder = owner
		}
		row := reservationRow{R: x, Name: d.Names[x.Product]}
		row.Held = x.Status == "active" && holder == s.Site() && p.Can("stock.reserve")
		row.Shippable = row.Held && owner == s.Site()
		d.Noticeable = d.Noticeable || (row.Held && x.Notice == "")
		d.Rows = append(d.Rows, row)
	}
	own := findWarehouse(ws, wh).Owner == s.Site()
	for _, n := range notices.Items {
		d.Notices = append(d.Notices, noticeRow{N: n, Confirmable: own && n.Status == "pending" && p.Can("stock.reserve")})
	}
	if t := resp.Next; t != "" {
		d.Next = web.LinkWith("/stock/reservations", "warehouse", wh, "ref", d.Ref, "after", t)
	}
	s.Render(w, r, "stock_reservations", status, p)
}

// reservationMake reserves stock for an order.
func (s *Pages) reservationMake(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/reservations", "stock.reservations.title")
	if !web.ReadForm(w, r, p, 8<<10) {
		s.renderReservations(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	qty, err := parseQty("quantity", p.Value("quantity"))
	if err == nil {
		var res *warehouse.Reservation
		res, err = s.stock.Reserve(r.Context(), web.CallerOf(r), warehouse.ReserveSpec{Warehouse: p.Value("warehouse"), Product: p.Value("product"),
			Qty: qty, Ref: p.Value("ref"), Note: p.Value("note")})
		if err == nil {
			name := s.productNames(r, res.Product)[res.Product]
			web.Redirect(w, r, web.LinkWith("/stock/reservations", "warehouse", res.Warehouse),
				p.T("stock.reservation.made", res.Qty, CodeLabel(res.Product, name), res.Ref))
			return
		}
	}
	status := s.stockFailed(p, err, nil, "warehouse", "product", "quantity", "ref", "note")
	s.renderReservations(w, r, p, nav, status)
}

// reservationAction runs a release or a shipment and goes back to the
// warehouse's reservations.
func (s *Pages) reservationAction(w http.ResponseWriter, r *http.Request, msgKey string,
	call func(p *web.Page, id string) (*warehouse.Reservation, error)) {
	p, nav := s.stockPage(r, "/stock/reservations", "stock.reservations.title")
	if !web.ReadForm(w, r, p, 4<<10) {
		s.renderReservations(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	res, err := call(p, r.PathValue("id"))
	if err != nil {
		s.renderReservations(w, r, p, nav, s.stockFailed(p, err, nil))
		return
	}
	web.Redirect(w, r, web.LinkWith("/stock/reservations", "warehouse", res.Warehouse), p.T(msgKey, res.Ref))
}

func (s *Pages) reservationRelease(w http.ResponseWriter, r *http.Request) {
	s.reservationAction(w, r, "stock.reservation.released", func(p *web.Page, id string) (*warehouse.Reservation, error) {
		return s.stock.Release(r.Context(), web.CallerOf(r), id, p.Value("note"))
	})
}

func (s *Pages) reservationShip(w http.ResponseWriter, r *http.Request) {
	s.reservationAction(w, r, "stock.reservation.shipped", func(_ *web.Page, id string) (*warehouse.Reservation, error) {
		return s.stock.Ship(r.Context(), web.CallerOf(r), id)
	})
}

// noticeCreate puts the reservations ticked on the page on a shipping
// notice for the warehouse's owner.
func (s *Pages) noticeCreate(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/reservations", "stock.reservations.title")
	if !web.ReadForm(w, r, p, 16<<10) {
		s.renderReservations(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	n, err := s.stock.CreateNotice(r.Context(), web.CallerOf(r), warehouse.NoticeSpec{Warehouse: p.Value("warehouse"),
		Ref: p.Value("notice_ref"), Reservations: p.Form["res"], Note: p.Value("notice_note")})
	if err != nil {
		status := s.stockFailed(p, err, map[string]string{"ref": "notice_ref", "note": "notice_note"}, "notice_ref", "notice_note", "reservations")
		s.renderReservations(w, r, p, nav, status)
		return
	}
	web.Redirect(w, r, web.LinkWith("/stock/reservations", "warehouse", n.Warehouse), p.N("stock.notice.created", len(n.Reservations)))
}

// noticeConfirm ships a notice's reservations at the warehouse's owner.
func (s *Pages) noticeConfirm(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/reservations", "stock.reservations.title")
	if !web.ReadForm(w, r, p, 4<<10) {
		s.renderReservations(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	n, err := s.stock.ConfirmNotice(r.Context(), web.CallerOf(r), r.PathValue("id"))
	if err != nil {
		s.renderReservations(w, r, p, nav, s.stockFailed(p, err, nil))
		return
	}
	web.Redirect(w, r, web.LinkWith("/stock/reservations", "warehouse", n.Warehouse), p.N("stock.notice.confirmed", len(n.Reservations)))
}
