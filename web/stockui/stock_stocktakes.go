package stockui

import (
	"net/http"
	"strconv"
	"strings"

	"branchline/warehouse"
	"branchline/web"
)

// Stocktakes (盘点): a count sheet records the book quantity of every line
// when it is opened; the counts entered on it are saved as they come, and
// posting adds counted − book to the stock, on top of the moves made
// since the opening.

// stocktakeTypes are the kinds of count sheets.
var stocktakeTypes = []string{"periodic", "offset", "initial", "other"}

type stocktakeListData struct {
	stockPageData
	Warehouse  string
	Warehouses []web.Option
	// Own are this node's warehouses, where sheets are opened.
	Own    []web.Option
	Types  []web.Option
	Bins   []binGroup
	Sheets []*warehouse.Stocktake
	Next   string
	// Elsewhere says some warehouses' sheets are not this replica's to
	// show.
	Elsewhere bool
}

// stocktakeList lists the count sheets of a warehouse this replica holds
// (Holding), newest first, with the form opening a new one.
func (s *Pages) stocktakeList(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/stocktakes", "stock.stocktakes.title")
	s.renderStocktakes(w, r, p, nav, http.StatusOK)
}

func (s *Pages) renderStocktakes(w http.ResponseWriter, r *http.Request, p *web.Page, nav stockPageData, status int) {
	q := r.URL.Query()
	ws := s.warehouses(r)
	own, held := s.own(ws), s.held(ws)
	wh := s.listedWarehouse(r, p, held)
	d := &stocktakeListData{stockPageData: nav, Warehouse: wh, Warehouses: warehouseOptions(held, wh, ""), Elsewhere: !s.holdsAll(ws)}
	p.Data = d
	target := s.pickWarehouse(own, p.Value("warehouse"))
	d.Own = warehouseOptions(own, target, "")
	typ := p.Value("type")
	for _, t := range stocktakeTypes {
		d.Types = append(d.Types, web.Option{Value: t, Label: p.T("stock.stocktake.type." + t), On: t == typ})
	}
	d.Bins = binGroups(p, own, target, p.Value("bin"), false)
	if wh != "" {
		list, err := s.stock.Stocktakes(r.Context(), web.CallerOf(r), wh, 50, q.Get("after"))
		if err != nil {
			s.Render(w, r, "stock_stocktakes", s.stockFailed(p, err, nil), p)
			return
		}
		d.Sheets = list.Items
		if t := list.Next; t != "" {
			d.Next = web.LinkWith("/stock/stocktakes", "warehouse", wh, "after", t)
		}
	}
	s.Render(w, r, "stock_stocktakes", status, p)
}

// codes splits a list of product codes typed with spaces or commas.
func codes(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '，' || r == '、' || r == ' ' || r == '\n' })
}

// stocktakeOpen opens a count sheet and shows it.
func (s *Pages) stocktakeOpen(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/stocktakes", "stock.stocktakes.title")
	if !web.ReadForm(w, r, p, 16<<10) {
		s.renderStocktakes(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	st, err := s.stock.OpenStocktake(r.Context(), web.CallerOf(r), warehouse.StocktakeSpec{Warehouse: p.Value("warehouse"), Type: p.Value("type"),
		Bin: p.Value("bin"), Products: codes(p.Value("products")), Note: p.Value("note"), Blind: p.Value("blind") == "1"})
	if err != nil {
		status := s.stockFailed(p, err, nil, "warehouse", "type", "bin", "products", "note")
		s.renderStocktakes(w, r, p, nav, status)
		return
	}
	web.Redirect(w, r, "/stock/stocktakes/"+st.ID, p.N("stock.stocktake.opened", len(st.Lines)))
}

// sheetLine is one line of a count sheet with what the input shows.
type sheetLine struct {
	L       warehouse.StocktakeLine
	Name    string
	Barcode string // the product's, for the scan field
	Input   string
}

type stocktakeData struct {
	stockPageData
	S         *warehouse.Stocktake
	Warehouse string
	Lines     []sheetLine
	// Editable says the sheet is open, at its warehouse's node, for a
	// user who may count.
	Editable bool
	Bins     []web.Option
	Counted  int
	Deltas   int
	// Blind: the book quantities (and so the deltas) are hidden while the
	// sheet is open.
	Blind bool
	// Confirm asks whether to post, with what posting will do.
	Confirm bool
}

// stocktakePage shows a count sheet: the book quantity at the opening of
// every line, the counts, and the deltas posting adds.
func (s *Pages) stocktakePage(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/stocktakes", "stock.stocktake.title")
	s.renderSheet(w, r, p, nav, http.StatusOK)
}

func (s *Pages) renderSheet(w http.ResponseWriter, r *http.Request, p *web.Page, nav stockPageData, status int) {
	st, err := s.stock.Stocktake(r.Context(), web.CallerOf(r), r.PathValue("id"))
	if err != nil {
		s.Render(w, r, "error", s.stockFailed(p, err, nil), p)
		return
	}
	ws := s.warehouses(r)
	d := &stocktakeData{stockPageData: nav, S: st, Warehouse: st.Warehouse, Blind: st.Blind && st.Status == "open"}
	p.Data = d
	wh := findWarehouse(ws, st.Warehouse)
	if wh != nil {
		d.Warehouse = warehouseLabel(wh)
		d.Editable = st.Status == "open" && wh.Owner == s.Site() && p.Can("stock.move")
		for _, b := range wh.Bins {
			if st.Bin == "" || st.Bin == b.ID {
				d.Bins = append(d.Bins, web.Option{Value: b.ID, Label: binLabel(p, b), On: b.ID == p.Value("fb")})
			}
		}
	}
	var ids []string
	for _, l := range st.Lines {
		ids = append(ids, l.Product)
	}
	products := s.products(r, ids...)
	posted := p.Form["lc"]
	for i, l := range st.Lines {
		v := sheetLine{L: l, Name: products[l.Product].Name, Barcode: products[l.Product].Barcode}
		if l.Counted {
			v.Input = strconv.FormatInt(l.Count, 10)
			d.Counted++
			if l.Delta != 0 {
				d.Deltas++
			}
		}
		if i < len(posted) && p.Form.Get("lp") != "" {
			v.Input = posted[i]
		}
		d.Lines = append(d.Lines, v)
	}
	d.Confirm = d.Editable && r.URL.Query().Get("confirm") == "1"
	s.Render(w, r, "stock_stocktake", status, p)
}

// stocktakeCount saves the counts entered on a sheet (op=save) and posts
// it (op=post).
func (s *Pages) stocktakeCount(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/stocktakes", "stock.stocktake.title")
	id := r.PathValue("id")
	if !web.ReadForm(w, r, p, 256<<10) {
		s.renderSheet(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	fail := func(err error) {
		status := s.stockFailed(p, err, nil)
		s.renderSheet(w, r, p, nav, status)
	}
	f := p.Form
	var lines []warehouse.Count
	for i, prod := range f["lp"] {
		v := web.Nth(f["lc"], i)
		if v == "" {
			continue
		}
		n, err := parseQty("quantity", v)
		if err != nil {
			fail(err)
			return
		}
		lines = append(lines, warehouse.Count{Product: prod, Bin: web.Nth(f["lb"], i), Batch: web.Nth(f["lt"], i), Qty: n})
	}
	// A line found that the book lacks (a batch, or a product in a bin).
	if f.Get("fc") != "" {
		n, err := parseQty("quantity", f.Get("fc"))
		if err != nil {
			fail(err)
			return
		}
		lines = append(lines, warehouse.Count{Product: f.Get("fp"), Bin: f.Get("fb"), Batch: f.Get("ft"), Qty: n})
	}
	if len(lines) > 0 {
		if _, err := s.stock.RecordCount(r.Context(), web.CallerOf(r), id, lines); err != nil {
			fail(err)
			return
		}
	}
	if f.Get("op") != "post" {
		web.Redirect(w, r, "/stock/stocktakes/"+id, p.N("stock.stocktake.saved", len(lines)))
		return
	}
	// Posting changes the stock for good: the counts are saved, and the
	// sheet asks once more, saying what posting will do.
	if f.Get("confirm") != "1" {
		web.Redirect(w, r, "/stock/stocktakes/"+id+"?confirm=1", p.N("stock.stocktake.saved", len(lines)))
		return
	}
	st, err := s.stock.PostStocktake(r.Context(), web.CallerOf(r), id)
	if err != nil {
		fail(err)
		return
	}
	n := 0
	for _, l := range st.Lines {
		if l.Counted && l.Delta != 0 {
			n++
		}
	}
	web.Redirect(w, r, "/stock/stocktakes/"+id, p.N("stock.stocktake.posted", n))
}

// stocktakeCancel abandons an open sheet.
func (s *Pages) stocktakeCancel(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/stocktakes", "stock.stocktake.title")
	id := r.PathValue("id")
	if !web.ReadForm(w, r, p, 4<<10) {
		s.renderSheet(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	if _, err := s.stock.CancelStocktake(r.Context(), web.CallerOf(r), id, p.Value("note")); err != nil {
		// The counts typed are not re-shown: cancelling discards them.
		p.Form.Del("lp")
		s.renderSheet(w, r, p, nav, s.stockFailed(p, err, nil))
		return
	}
	web.Redirect(w, r, "/stock/stocktakes/"+id, p.T("stock.stocktake.cancelled"))
}
