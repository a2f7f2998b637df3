package stockui

import (
	"net/http"
	"strconv"

	"branchline/fault"
	"branchline/warehouse"
	"branchline/web"
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
	Warehouses []web.Option
	// From are this node's warehouses, To all of them.
	From, To  []web.Option
	Bins      []binGroup
	Lines     []transferLineInput
	Products  []web.Option
	Transfers []*warehouse.Transfer
	Next      string
	Labels    map[string]string
}

// transferList lists the transfers from or to a warehouse, newest first,
// with the form shipping a new one.
func (s *Pages) transferList(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/transfers", "stock.transfers.title")
	s.renderTransfers(w, r, p, nav, http.StatusOK)
}

func (s *Pages) renderTransfers(w http.ResponseWriter, r *http.Request, p *web.Page, nav stockPageData, status int) {
	q := r.URL.Query()
	ws := s.warehouses(r)
	// The transfers listed are those of a warehouse this replica holds:
	// it holds both halves of each (the other end's owner holds them too).
	own, held := s.own(ws), s.held(ws)
	wh := s.listedWarehouse(r, p, held)
	d := &transferListData{stockPageData: nav, Warehouse: wh, Warehouses: warehouseOptions(held, wh, ""), Products: s.productOptions(r),
		Labels: map[string]string{}}
	p.Data = d
	for _, x := range ws {
		d.Labels[x.ID] = warehouseLabel(x)
	}
	from := s.pickWarehouse(own, p.Value("from"))
	d.From = warehouseOptions(own, from, "")
	d.To = warehouseOptions(ws, p.Value("to"), p.T("stock.transfer.choose_to"))
	d.Bins = binGroups(p, own, from, p.Value("bin"), false)
	for i := range transferRows {
		d.Lines = append(d.Lines, transferLineInput{Product: web.Nth(p.Form["tp"], i), Qty: web.Nth(p.Form["tq"], i), Batch: web.Nth(p.Form["tb"], i)})
	}
	if wh != "" {
		list, err := s.stock.Transfers(r.Context(), web.CallerOf(r), wh, 50, q.Get("after"))
		if err != nil {
			s.Render(w, r, "stock_transfers", s.stockFailed(p, err, nil), p)
			return
		}
		d.Transfers = list.Items
		if t := list.Next; t != "" {
			d.Next = web.LinkWith("/stock/transfers", "warehouse", wh, "after", t)
		}
	}
	s.Render(w, r, "stock_transfers", status, p)
}

// transferShip ships a transfer from this node's warehouse.
func (s *Pages) transferShip(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/transfers", "stock.transfers.title")
	if !web.ReadForm(w, r, p, 16<<10) {
		s.renderTransfers(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	fail := func(err error) {
		status := s.stockFailed(p, err, map[string]string{"quantity": "lines", "product": "lines", "batch": "lines"}, "from", "to", "bin", "note", "lines")
		s.renderTransfers(w, r, p, nav, status)
	}
	spec := warehouse.TransferSpec{From: p.Value("from"), To: p.Value("to"), Bin: p.Value("bin"), Note: p.Value("note")}
	f := p.Form
	for i, prod := range f["tp"] {
		if prod == "" && web.Nth(f["tq"], i) == "" {
			continue
		}
		n, err := parseQty("quantity", web.Nth(f["tq"], i))
		if err != nil {
			fail(err)
			return
		}
		spec.Lines = append(spec.Lines, warehouse.IssueLine{Product: prod, Qty: n, Batch: web.Nth(f["tb"], i)})
	}
	if len(spec.Lines) == 0 {
		fail(fault.Invalidf("lines", "required", "no line"))
		return
	}
	t, err := s.stock.ShipTransfer(r.Context(), web.CallerOf(r), spec)
	if err != nil {
		fail(err)
		return
	}
	web.Redirect(w, r, "/stock/transfers/"+t.ID, p.T("stock.transfer.shipped_msg"))
}

// receiveLine is a line of the receive form: what was shipped of a
// product and batch, what arrived and into which bin.
type receiveLine struct {
	L    warehouse.TransferLine
	Name string
	Qty  string
	Bins []web.Option
}

type transferData struct {
	stockPageData
	T          *warehouse.Transfer
	From, To   string
	Names      map[string]string
	Receivable bool
	Receive    []receiveLine
}

// transferPage shows a transfer: by product and batch what was shipped,
// received, damaged and still in transit or missing, and at the
// receiving node the form receiving it.
func (s *Pages) transferPage(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/transfers", "stock.transfer.title")
	s.renderTransfer(w, r, p, nav, http.StatusOK)
}

func (s *Pages) renderTransfer(w http.ResponseWriter, r *http.Request, p *web.Page, nav stockPageData, status int) {
	t, err := s.stock.Transfer(r.Context(), web.CallerOf(r), r.PathValue("id"))
	if err != nil {
		s.Render(w, r, "error", s.stockFailed(p, err, nil), p)
		return
	}
	ws := s.warehouses(r)
	d := &transferData{stockPageData: nav, T: t, From: t.From, To: t.To}
	p.Data = d
	if x := findWarehouse(ws, t.From); x != nil {
		d.From = warehouseLabel(x)
	}
	to := findWarehouse(ws, t.To)
	if to != nil {
		d.To = warehouseLabel(to)
	}
	var ids []string
	for _, l := range t.Lines {
		ids = append(ids, l.Product)
	}
	d.Names = s.productNames(r, ids...)
	d.Receivable = t.Status == "in_transit" && to != nil && to.Owner == s.Site() && p.Can("stock.move")
	if d.Receivable {
		f := p.Form
		for i, l := range t.Lines {
			qty := strconv.FormatInt(l.Shipped, 10)
			bin := firstGoodBin(to)
			if len(f["rq"]) > i {
				qty, bin = f["rq"][i], web.Nth(f["rb"], i)
			}
			v := receiveLine{L: l, Name: d.Names[l.Product], Qty: qty}
			for _, b := range to.Bins {
				v.Bins = append(v.Bins, web.Option{Value: b.ID, Label: binLabel(p, b), On: b.ID == bin})
			}
			d.Receive = append(d.Receive, v)
		}
	}
	s.Render(w, r, "stock_transfer", status, p)
}

// transferReceive receives a transfer: each line's quantity into its
// bin; a line received short (or not at all) stays on the transfer as a
// discrepancy.
func (s *Pages) transferReceive(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/transfers", "stock.transfer.title")
	id := r.PathValue("id")
	if !web.ReadForm(w, r, p, 64<<10) {
		s.renderTransfer(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	fail := func(err error) {
		s.renderTransfer(w, r, p, nav, s.stockFailed(p, err, nil, "note"))
	}
	f := p.Form
	rc := warehouse.TransferReceipt{Note: p.Value("note")}
	for i, prod := range f["rp"] {
		n, err := parseQty("quantity", web.Nth(f["rq"], i))
		if err != nil {
			fail(err)
			return
		}
		if n == 0 {
			continue
		}
		rc.Lines = append(rc.Lines, warehouse.ReceiptLine{Product: prod, Batch: web.Nth(f["rt"], i), Bin: web.Nth(f["rb"], i), Qty: n})
	}
	if len(rc.Lines) == 0 {
		// No line would mean "everything shipped" to the use case.
		fail(fault.Invalidf("lines", "nothing_received", "nothing received"))
		return
	}
	t, err := s.stock.ReceiveTransfer(r.Context(), web.CallerOf(r), id, rc)
	if err != nil {
		fail(err)
		return
	}
	msg := p.T("stock.transfer.received_msg")
	if t.Discrepancy {
		web.RedirectWarn(w, r, "/stock/transfers/"+id, msg, p.T("stock.transfer.discrepancy_warn"))
		return
	}
	web.Redirect(w, r, "/stock/transfers/"+id, msg)
}
