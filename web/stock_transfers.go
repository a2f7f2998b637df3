package web

import (
	"net/http"
	"strconv"

	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
)

// Transfers (调拨): the owner of warehouse A ships lines out of A's bins
// into transit; the owner of B receives what arrived, line by line, and
// what differs stays on the transfer as its discrepancy.

// transferRows is how many product lines the ship form offers.
const transferRows = 5

type transferLineInput struct {
	Product, Qty, Batch string
}

type transferListData struct {
	stockPageData
	Warehouse  string
	Warehouses []option
	// From are this node's warehouses, To all of them.
	From, To  []option
	Bins      []binGroup
	Lines     []transferLineInput
	Products  []option
	Transfers []*whv1.Transfer
	Next      string
	Labels    map[string]string
}

// transferList lists the transfers from or to a warehouse, newest first,
// with the form shipping a new one.
func (s *Server) transferList(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/transfers", "stock.transfers.title")
	s.renderTransfers(w, r, p, nav, http.StatusOK)
}

func (s *Server) renderTransfers(w http.ResponseWriter, r *http.Request, p *Page, nav stockPageData, status int) {
	q := r.URL.Query()
	ws := s.warehouses(r)
	own := s.own(ws)
	wh := s.listedWarehouse(r, p, ws)
	d := &transferListData{stockPageData: nav, Warehouse: wh, Warehouses: warehouseOptions(ws, wh, ""), Products: s.productOptions(r),
		Labels: map[string]string{}}
	p.Data = d
	for _, x := range ws {
		d.Labels[x.GetId()] = warehouseLabel(x)
	}
	from := s.pickWarehouse(own, p.Value("from"))
	d.From = warehouseOptions(own, from, "")
	d.To = warehouseOptions(ws, p.Value("to"), p.T("stock.transfer.choose_to"))
	d.Bins = binGroups(p, own, from, p.Value("bin"), false)
	for i := range transferRows {
		d.Lines = append(d.Lines, transferLineInput{Product: at0(p.Form["tp"], i), Qty: at0(p.Form["tq"], i), Batch: at0(p.Form["tb"], i)})
	}
	if wh != "" {
		resp, err := stockCall(r, s.cfg.Warehouse.ListTransfers, &whv1.ListTransfersRequest{Warehouse: wh, PageSize: 50, PageToken: q.Get("after")})
		if err != nil {
			s.render(w, r, "stock_transfers", s.stockFailed(p, err, nil), p)
			return
		}
		d.Transfers = resp.GetTransfers()
		if t := resp.GetNextPageToken(); t != "" {
			d.Next = linkWith("/stock/transfers", "warehouse", wh, "after", t)
		}
	}
	s.render(w, r, "stock_transfers", status, p)
}

// transferShip ships a transfer from this node's warehouse.
func (s *Server) transferShip(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/transfers", "stock.transfers.title")
	if !readAdminForm(w, r, p, 16<<10) {
		s.renderTransfers(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	fail := func(err error) {
		status := s.stockFailed(p, err, map[string]string{"quantity": "lines", "product": "lines", "batch": "lines"}, "from", "to", "bin", "note", "lines")
		s.renderTransfers(w, r, p, nav, status)
	}
	req := &whv1.ShipTransferRequest{From: p.Value("from"), To: p.Value("to"), Bin: p.Value("bin"), Note: p.Value("note")}
	f := p.Form
	for i, prod := range f["tp"] {
		if prod == "" && at0(f["tq"], i) == "" {
			continue
		}
		n, err := parseQty("quantity", at0(f["tq"], i))
		if err != nil {
			fail(err)
			return
		}
		req.Lines = append(req.Lines, &whv1.MoveLine{Product: prod, Qty: n, Batch: at0(f["tb"], i)})
	}
	if len(req.Lines) == 0 {
		fail(fault.Invalidf("lines", "required", "no line"))
		return
	}
	t, err := stockCall(r, s.cfg.Warehouse.ShipTransfer, req)
	if err != nil {
		fail(err)
		return
	}
	redirect(w, r, "/stock/transfers/"+t.GetId(), p.T("stock.transfer.shipped_msg"))
}

// receiveLine is a line of the receive form: what was shipped of a
// product and batch, what arrived and into which bin.
type receiveLine struct {
	L    *whv1.TransferLine
	Name string
	Qty  string
	Bins []option
}

type transferData struct {
	stockPageData
	T          *whv1.Transfer
	From, To   string
	Names      map[string]string
	Receivable bool
	Receive    []receiveLine
}

// transferPage shows a transfer: by product and batch what was shipped,
// received, damaged and still in transit or missing, and at the
// receiving node the form receiving it.
func (s *Server) transferPage(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/transfers", "stock.transfer.title")
	s.renderTransfer(w, r, p, nav, http.StatusOK)
}

func (s *Server) renderTransfer(w http.ResponseWriter, r *http.Request, p *Page, nav stockPageData, status int) {
	t, err := stockCall(r, s.cfg.Warehouse.GetTransfer, &whv1.GetTransferRequest{Id: r.PathValue("id")})
	if err != nil {
		s.render(w, r, "error", s.stockFailed(p, err, nil), p)
		return
	}
	ws := s.warehouses(r)
	d := &transferData{stockPageData: nav, T: t, From: t.GetFrom(), To: t.GetTo()}
	p.Data = d
	if x := findWarehouse(ws, t.GetFrom()); x != nil {
		d.From = warehouseLabel(x)
	}
	to := findWarehouse(ws, t.GetTo())
	if to != nil {
		d.To = warehouseLabel(to)
	}
	var ids []string
	for _, l := range t.GetLines() {
		ids = append(ids, l.GetProduct())
	}
	d.Names = s.productNames(r, ids...)
	d.Receivable = t.GetStatus() == "in_transit" && to != nil && to.GetOwner() == s.cfg.Site && p.Can("stock.move")
	if d.Receivable {
		f := p.Form
		for i, l := range t.GetLines() {
			qty := strconv.FormatInt(l.GetShipped(), 10)
			bin := firstGoodBin(to)
			if len(f["rq"]) > i {
				qty, bin = f["rq"][i], at0(f["rb"], i)
			}
			v := receiveLine{L: l, Name: d.Names[l.GetProduct()], Qty: qty}
			for _, b := range to.GetBins() {
				v.Bins = append(v.Bins, option{Value: b.GetId(), Label: binLabel(p, b), On: b.GetId() == bin})
			}
			d.Receive = append(d.Receive, v)
		}
	}
	s.render(w, r, "stock_transfer", status, p)
}

// transferReceive receives a transfer: each line's quantity into its
// bin; a line received short (or not at all) stays on the transfer as a
// discrepancy.
func (s *Server) transferReceive(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/transfers", "stock.transfer.title")
	id := r.PathValue("id")
	if !readAdminForm(w, r, p, 64<<10) {
		s.renderTransfer(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	fail := func(err error) {
		s.renderTransfer(w, r, p, nav, s.stockFailed(p, err, nil, "note"))
	}
	f := p.Form
	req := &whv1.ReceiveTransferRequest{Id: id, Note: p.Value("note")}
	for i, prod := range f["rp"] {
		n, err := parseQty("quantity", at0(f["rq"], i))
		if err != nil {
			fail(err)
			return
		}
		if n == 0 {
			continue
		}
		req.Lines = append(req.Lines, &whv1.MoveLine{Product: prod, Batch: at0(f["rt"], i), Bin: at0(f["rb"], i), Qty: n})
	}
	if len(req.Lines) == 0 {
		// No line would mean "everything shipped" to the API.
		fail(fault.Invalidf("lines", "nothing_received", "nothing received"))
		return
	}
	t, err := stockCall(r, s.cfg.Warehouse.ReceiveTransfer, req)
	if err != nil {
		fail(err)
		return
	}
	msg := p.T("stock.transfer.received_msg")
	if t.GetDiscrepancy() {
		redirectWarn(w, r, "/stock/transfers/"+id, msg, p.T("stock.transfer.discrepancy_warn"))
		return
	}
	redirect(w, r, "/stock/transfers/"+id, msg)
}
