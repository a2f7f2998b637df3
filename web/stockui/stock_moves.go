package stockui

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"branchline/fault"
	"branchline/warehouse"
	"branchline/warehouse/warehouseapp"
	"branchline/web"
)

// The move entry (出入库录入) is made for a barcode scanner, which types
// the code and Enter. The form posts on Enter; a post whose barcode is not
// the one last looked up ("scanned") is a scan: the page comes back with
// the product, its stock in the warehouse and the focus on the quantity.
// A post with a quantity records the move and the form comes back ready
// for the next scan, keeping the warehouse, type and bins, with a line
// saying what was recorded — for an issue, which batches were taken.
// Without script the form works the same; the script only narrows the
// bins to the chosen warehouse and shows the inputs of the chosen type.

// moveKind is a direction of moves and its types.
type moveKind struct {
	direction string
	types     []string
}

// moveKinds are the types the form offers, as "<direction>.<type>".
var moveKinds = []moveKind{
	{"receipt", []string{"purchase", "offset", "customer_return", "exchange", "repaired", "other"}},
	{"issue", []string{"order", "offset", "supplier_return", "exchange", "requisition", "damaged", "other"}},
	{"bin_move", []string{"bin_move"}},
}

// defaultMoveKind is what a fresh form records.
const defaultMoveKind = "receipt.purchase"

// moveFields are the move form's inputs; moveRename maps the API's field
// names to them.
var (
	moveFields = []string{"barcode", "product", "quantity", "type", "warehouse", "bin", "to_bin", "batch", "produced",
		"expires", "ref", "note", "purchase_order"}
	moveRename = map[string]string{"from": "bin", "to": "to_bin", "lines": "quantity"}
)

// optGroup is a labelled group of a select's options.
type optGroup struct {
	Label   string
	Options []web.Option
}

// moveDone is the move just recorded, for the success line.
type moveDone struct {
	ID, Direction, Text string
	Lines               []moveLineView
}

// moveLineView is one line of a move with its batch's dates.
type moveLineView struct {
	Product, Name, Bin, Batch, Bundle string
	Qty                               int64
	Received, Expires                 string
	// Left is what the bin and batch hold now, shown after a move.
	Left    int64
	HasLeft bool
}

type moveFormData struct {
	stockPageData
	// Warehouses are this node's: moves are recorded at the owner.
	Warehouses []web.Option
	Kinds      []optGroup
	Bins       []binGroup
	ToBins     []binGroup
	Products   []web.Option
	// Product is the product scanned or typed, with its stock in the
	// chosen warehouse.
	Product *warehouse.Product
	Stock   *warehouse.Stock
	// Focus names the input the page focuses: the barcode, or the
	// quantity after a scan.
	Focus     string
	Direction string
	Done      *moveDone
}

// moveForm fills the form's choices from p.Form.
func (s *Pages) moveForm(r *http.Request, p *web.Page, nav stockPageData) *moveFormData {
	ws := s.own(s.warehouses(r))
	wh := s.pickWarehouse(ws, p.Value("warehouse"))
	p.Form.Set("warehouse", wh)
	kind := p.Value("type")
	if !validMoveKind(kind) {
		kind = defaultMoveKind
		p.Form.Set("type", kind)
	}
	d := &moveFormData{stockPageData: nav, Warehouses: warehouseOptions(ws, wh, ""), Products: s.productOptions(r), Focus: "barcode"}
	d.Direction, _, _ = strings.Cut(kind, ".")
	for _, k := range moveKinds {
		g := optGroup{Label: p.T("stock.dir." + k.direction)}
		for _, t := range k.types {
			v := k.direction + "." + t
			g.Options = append(g.Options, web.Option{Value: v, Label: moveTypeText(p, k.direction, t), On: v == kind})
		}
		d.Kinds = append(d.Kinds, g)
	}
	d.Bins = binGroups(p, ws, wh, p.Value("bin"), true)
	d.ToBins = binGroups(p, ws, wh, p.Value("to_bin"), false)
	if id := p.Value("product"); id != "" {
		if pr, err := s.stock.Product(r.Context(), web.CallerOf(r), id); err == nil {
			d.Product = pr
			if wh != "" {
				if st, err := s.stock.ProductStock(r.Context(), web.CallerOf(r), wh, id); err == nil && len(st) > 0 {
					d.Stock = st[0]
				}
			}
		}
	}
	return d
}

func validMoveKind(v string) bool {
	dir, typ, _ := strings.Cut(v, ".")
	for _, k := range moveKinds {
		if k.direction == dir {
			for _, t := range k.types {
				if t == typ {
					return true
				}
			}
		}
	}
	return false
}

// moveKept are the inputs of the move form a redirect after a post keeps
// (moveNew reads them back): all but the quantity, which is asked anew.
var moveKept = []string{"warehouse", "type", "bin", "to_bin", "purchase_order", "product", "barcode", "scanned",
	"batch", "produced", "expires", "ref", "note"}

// moveNew shows the form: fresh; after a scan or a product typed
// (?product=…) with the product and the focus on the quantity; or after a
// save (?done=<move id>) with the warehouse, type and bins kept and what
// was recorded.
func (s *Pages) moveNew(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/moves/new", "stock.move.title")
	q := r.URL.Query()
	for _, k := range moveKept {
		p.Form.Set(k, q.Get(k))
	}
	d := s.moveForm(r, p, nav)
	if d.Product != nil {
		d.Focus = "quantity"
	}
	if id := q.Get("done"); id != "" {
		if m, err := s.stock.Move(r.Context(), web.CallerOf(r), id); err == nil {
			d.Done = s.viewDone(r, p, m)
		}
	}
	p.Data = d
	s.Render(w, r, "stock_move_form", http.StatusOK, p)
}

// viewDone describes a move just recorded: "采购入库 12 件 …", each line
// with its bin and batch and the batch's receipt date, which shows the
// issue took the oldest batch.
func (s *Pages) viewDone(r *http.Request, p *web.Page, m *warehouse.Move) *moveDone {
	lines := s.viewMoveLines(r, m)
	d := &moveDone{ID: m.ID, Direction: m.Direction, Lines: lines}
	var total int64
	names := []string{}
	for _, l := range lines {
		if m.Direction == "bin_move" && l.Qty < 0 {
			continue
		}
		total += abs(l.Qty)
		label := l.Product
		if l.Name != "" {
			label = l.Name + " (" + l.Product + ")"
		}
		if len(names) == 0 || names[len(names)-1] != label {
			names = append(names, label)
		}
	}
	d.Text = p.T("stock.move.done", moveTypeText(p, m.Direction, m.Type), total, strings.Join(names, ", "))
	return d
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// viewMoveLines shows a move's lines with product names and the dates of
// their batches (read from the product's stock in the move's warehouse).
func (s *Pages) viewMoveLines(r *http.Request, m *warehouse.Move) []moveLineView {
	var ids []string
	for _, l := range m.Lines {
		ids = append(ids, l.Product)
	}
	names := s.productNames(r, ids...)
	// The stock lines by product, bin and batch; the batch's dates are
	// the same in every bin.
	lines := map[string]warehouse.StockLine{}
	for id := range names {
		st, err := s.stock.ProductStock(r.Context(), web.CallerOf(r), m.Warehouse, id)
		if err != nil || len(st) == 0 {
			continue
		}
		for _, l := range st[0].Lines {
			lines[id+"\x00"+l.Bin+"\x00"+l.Batch] = l
			lines[id+"\x00\x00"+l.Batch] = l
		}
	}
	out := make([]moveLineView, 0, len(m.Lines))
	for _, l := range m.Lines {
		v := moveLineView{Product: l.Product, Name: names[l.Product], Bin: l.Bin, Batch: l.Batch, Bundle: l.Bundle, Qty: l.Qty}
		if b, ok := lines[l.Product+"\x00\x00"+l.Batch]; ok && l.Batch != "" {
			v.Received, v.Expires = s.DateText(b.Received), s.DateText(b.Expires)
		}
		if b, ok := lines[l.Product+"\x00"+l.Bin+"\x00"+l.Batch]; ok {
			v.Left, v.HasLeft = b.Qty, true
		}
		out = append(out, v)
	}
	return out
}

// moveCreate is the form's post: a scan, a product typed without a
// quantity (both show the product and ask for the quantity), or a move
// to record.
func (s *Pages) moveCreate(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/moves/new", "stock.move.title")
	if !web.ReadForm(w, r, p, 32<<10) {
		p.Data = s.moveForm(r, p, nav)
		s.Render(w, r, "stock_move_form", http.StatusRequestEntityTooLarge, p)
		return
	}
	show := func(status int, focus string) {
		d := s.moveForm(r, p, nav)
		d.Focus = focus
		p.Data = d
		s.Render(w, r, "stock_move_form", status, p)
	}
	// A scan: a barcode other than the one last looked up.
	if code := p.Value("barcode"); code != "" && code != p.Value("scanned") {
		pr, err := s.stock.LookupBarcode(r.Context(), web.CallerOf(r), code)
		if err != nil {
			// Enter again looks the code up again.
			p.Form.Del("scanned")
			p.Form.Del("product")
			status := http.StatusUnprocessableEntity
			if errors.Is(err, fault.ErrNotFound) {
				p.Errors["barcode"] = p.T("stock.move.unknown_barcode", code)
				p.Errors[""] = p.T("form.fix_errors")
			} else {
				status = s.stockFailed(p, err, nil, "barcode")
			}
			show(status, "barcode")
			return
		}
		p.Form.Set("scanned", code)
		p.Form.Set("product", pr.ID)
		s.askQuantity(w, r, p)
		return
	}
	// No quantity yet: show the product typed and ask for it.
	if p.Value("quantity") == "" {
		if p.Value("product") == "" {
			p.Errors["barcode"] = p.T("stock.move.need_product")
			show(http.StatusUnprocessableEntity, "barcode")
			return
		}
		if _, err := s.stock.Product(r.Context(), web.CallerOf(r), p.Value("product")); err != nil {
			if errors.Is(err, fault.ErrNotFound) {
				p.Errors["product"] = p.T("stock.invalid.unknown_product")
				show(http.StatusUnprocessableEntity, "product")
				return
			}
			show(s.stockFailed(p, err, nil), "product")
			return
		}
		s.askQuantity(w, r, p)
		return
	}
	m, err := s.recordMove(r, p)
	if err != nil {
		status := s.stockFailed(p, err, moveRename, moveFields...)
		if inv, ok := fault.AsInvalid(err); ok && inv.Code == "insufficient_stock" {
			p.Errors["quantity"] = s.shortText(r, p)
		}
		if p.Errors[""] == "" {
			p.Errors[""] = p.T("form.fix_errors")
		}
		focus := "quantity"
		for _, f := range moveFields {
			if p.Errors[f] != "" {
				focus = f
				break
			}
		}
		show(status, focus)
		return
	}
	web.Redirect(w, r, web.LinkWith("/stock/moves/new", "warehouse", p.Value("warehouse"), "type", p.Value("type"), "bin", p.Value("bin"),
		"to_bin", p.Value("to_bin"), "purchase_order", p.Value("purchase_order"), "done", m.ID), "")
}

// askQuantity answers a scan or a product typed with a redirect to the
// form showing the product and asking for the quantity: a reload of that
// page reads it again rather than posting the form once more
// (POST-redirect-GET).
func (s *Pages) askQuantity(w http.ResponseWriter, r *http.Request, p *web.Page) {
	kv := make([]string, 0, 2*len(moveKept))
	for _, k := range moveKept {
		kv = append(kv, k, p.Value(k))
	}
	web.Redirect(w, r, web.LinkWith("/stock/moves/new", kv...), "")
}

// shortText says how much the bin (and batch) holds when an issue asks
// for more.
func (s *Pages) shortText(r *http.Request, p *web.Page) string {
	st, err := s.stock.ProductStock(r.Context(), web.CallerOf(r), p.Value("warehouse"), p.Value("product"))
	if err != nil || len(st) == 0 {
		return p.T("stock.invalid.insufficient_stock")
	}
	var have int64
	for _, l := range st[0].Lines {
		if l.Bin == p.Value("bin") && (p.Value("batch") == "" || l.Batch == p.Value("batch")) {
			have += l.Qty
		}
	}
	return p.T("stock.move.short", have)
}

// recordMove records the form's move through the use cases.
func (s *Pages) recordMove(r *http.Request, p *web.Page) (*warehouse.Move, error) {
	qty, err := parseQty("quantity", p.Value("quantity"))
	if err != nil {
		return nil, err
	}
	dir, typ, _ := strings.Cut(p.Value("type"), ".")
	product, bin, batch := p.Value("product"), p.Value("bin"), p.Value("batch")
	wh := p.Value("warehouse")
	if wh == "" {
		return nil, fault.Invalidf("warehouse", "no_warehouse", "this node owns no warehouse")
	}
	ctx, c := r.Context(), web.CallerOf(r)
	switch dir {
	case "receipt":
		line := warehouse.ReceiptLine{Product: product, Bin: bin, Batch: batch, Qty: qty}
		if line.Produced, err = s.ParseDay("produced", p.Value("produced")); err != nil {
			return nil, err
		}
		if line.Expires, err = s.ParseDay("expires", p.Value("expires")); err != nil {
			return nil, err
		}
		return s.stock.Receive(ctx, c, warehouse.Receipt{Warehouse: wh, Type: typ, Lines: []warehouse.ReceiptLine{line},
			PurchaseOrder: p.Value("purchase_order"), Ref: p.Value("ref"), Note: p.Value("note")})
	case "issue":
		return s.stock.Issue(ctx, c, warehouse.Issue{Warehouse: wh, Type: typ,
			Lines: []warehouse.IssueLine{{Product: product, Bin: bin, Batch: batch, Qty: qty}}, Ref: p.Value("ref"), Note: p.Value("note")})
	default:
		return s.stock.MoveBin(ctx, c, warehouse.BinMove{Warehouse: wh, Note: p.Value("note"),
			Lines: []warehouse.BinMoveLine{{Product: product, From: bin, To: p.Value("to_bin"), Batch: batch, Qty: qty}}})
	}
}

// moveRow is one entry of the move history.
type moveRow struct {
	M     *warehouse.Move
	Type  string
	Link  string
	Lines []moveLineView
}

type moveListData struct {
	stockPageData
	Warehouses []web.Option
	Kinds      []optGroup
	Product    string
	From, To   string
	Rows       []moveRow
	// List is the list's state from the URL; Pager its total and pages.
	List  web.List
	Pager web.Pager
	// Window is the window of days listed.
	Window string
	// Elsewhere says some warehouses' moves are not this replica's to
	// show.
	Elsewhere bool
}

// moveListSpec is what the move list sorts and filters by.
var moveListSpec = web.ListSpec{Sorts: warehouseapp.MoveColumns, DefaultDesc: true,
	Filters: []string{"warehouse", "product", "type", "from", "to"}}

// moveList shows the move history of the warehouses this replica holds
// (Holding) in a window of days (the last 30 unless from and to say
// otherwise), newest first or sorted by type or warehouse, filtered by
// warehouse, product and type, searched by move, reference or product,
// with the total, a page at a time.
func (s *Pages) moveList(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/moves", "stock.moves.title")
	l := web.ParseList("/stock/moves", r.URL.Query(), moveListSpec)
	kind := l.Filter("type")
	d := &moveListData{stockPageData: nav, Product: l.Filter("product"), From: l.Filter("from"), To: l.Filter("to"), List: l}
	p.Data = d
	p.Form.Set("q", l.Text)
	ws := s.warehouses(r)
	d.Elsewhere = !s.holdsAll(ws)
	wh := l.Filter("warehouse")
	if wh != "" && !s.holds(findWarehouse(ws, wh)) {
		wh = ""
	}
	d.Warehouses = warehouseOptions(s.held(ws), wh, p.T("stock.all_warehouses"))
	d.Kinds = []optGroup{{Options: []web.Option{{Value: "", Label: p.T("stock.all_types"), On: kind == ""}}}}
	for _, dir := range []string{"receipt", "issue", "bin_move", "stocktake", "transfer_out", "transfer_in"} {
		g := optGroup{Label: p.T("stock.dir." + dir)}
		g.Options = append(g.Options, web.Option{Value: dir, Label: p.T("stock.all_of", p.T("stock.dir."+dir)), On: kind == dir})
		for _, k := range moveKinds {
			if k.direction != dir || dir == "bin_move" {
				continue
			}
			for _, t := range k.types {
				v := dir + "." + t
				g.Options = append(g.Options, web.Option{Value: v, Label: moveTypeText(p, dir, t), On: kind == v})
			}
		}
		d.Kinds = append(d.Kinds, g)
	}
	dir, typ, _ := strings.Cut(kind, ".")
	q := warehouseapp.MoveList{MoveFilter: warehouse.MoveFilter{Warehouse: wh, Warehouses: s.heldIDs(ws), Product: d.Product,
		Direction: dir, Type: typ}, Text: l.Text, Order: l.Order}
	if d.From != "" {
		from, _, ok := s.DayBounds(d.From)
		if !ok {
			p.Errors["from"] = p.T("stock.invalid.bad_date")
		} else {
			q.From = from
		}
	}
	if d.To != "" {
		_, to, ok := s.DayBounds(d.To)
		if !ok {
			p.Errors["to"] = p.T("stock.invalid.bad_date")
		} else {
			// The bound is inclusive: up to the day's last millisecond.
			q.To = to.Add(-time.Millisecond)
		}
	}
	if len(p.Errors) > 0 {
		s.Render(w, r, "stock_moves", http.StatusUnprocessableEntity, p)
		return
	}
	page, err := s.stock.SortedMoves(r.Context(), web.CallerOf(r), q)
	if inv, ok := fault.AsInvalid(err); ok && inv.Field == "page_token" {
		// A page that is no longer there: the first page, saying so.
		q.Cursor, q.Back, q.Last = "", false, false
		p.Errors[""] = p.T("stock.invalid.bad_token")
		page, err = s.stock.SortedMoves(r.Context(), web.CallerOf(r), q)
	}
	if err != nil {
		s.Render(w, r, "stock_moves", s.stockFailed(p, err, nil, "product", "warehouse", "from", "to", "q"), p)
		return
	}
	d.Window = p.DateText(page.From) + " – " + p.DateText(page.To)
	var ids []string
	for _, m := range page.Moves {
		for _, l := range m.Lines {
			ids = append(ids, l.Product)
		}
	}
	names := s.productNames(r, ids...)
	for _, m := range page.Moves {
		row := moveRow{M: m, Type: moveTypeText(p, m.Direction, m.Type), Link: recordLink(m.ID)}
		for _, l := range m.Lines {
			row.Lines = append(row.Lines, moveLineView{Product: l.Product, Name: names[l.Product], Bin: l.Bin,
				Batch: l.Batch, Bundle: l.Bundle, Qty: l.Qty})
		}
		d.Rows = append(d.Rows, row)
	}
	d.Pager = l.Pager(page.Total, page.Prev, page.Next)
	s.Render(w, r, "stock_moves", http.StatusOK, p)
}
