package web

import (
	"net/http"
	"strconv"
	"strings"

	whv1 "branchline/gen/branchline/warehouse/v1"
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
	Warehouses []option
	// Own are this node's warehouses, where sheets are opened.
	Own    []option
	Types  []option
	Bins   []binGroup
	Sheets []*whv1.Stocktake
	Next   string
}

// stocktakeList lists a warehouse's count sheets, newest first, with the
// form opening a new one.
func (s *Server) stocktakeList(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/stocktakes", "stock.stocktakes.title")
	s.renderStocktakes(w, r, p, nav, http.StatusOK)
}

func (s *Server) renderStocktakes(w http.ResponseWriter, r *http.Request, p *Page, nav stockPageData, status int) {
	q := r.URL.Query()
	ws := s.warehouses(r)
	own := s.own(ws)
	wh := s.listedWarehouse(r, p, ws)
	d := &stocktakeListData{stockPageData: nav, Warehouse: wh, Warehouses: warehouseOptions(ws, wh, "")}
	p.Data = d
	target := s.pickWarehouse(own, p.Value("warehouse"))
	d.Own = warehouseOptions(own, target, "")
	typ := p.Value("type")
	for _, t := range stocktakeTypes {
		d.Types = append(d.Types, option{Value: t, Label: p.T("stock.stocktake.type." + t), On: t == typ})
	}
	d.Bins = binGroups(p, own, target, p.Value("bin"), false)
	if wh != "" {
		resp, err := stockCall(r, s.cfg.Warehouse.ListStocktakes, &whv1.ListStocktakesRequest{Warehouse: wh, PageSize: 50, PageToken: q.Get("after")})
		if err != nil {
			s.render(w, r, "stock_stocktakes", s.stockFailed(p, err, nil), p)
			return
		}
		d.Sheets = resp.GetStocktakes()
		if t := resp.GetNextPageToken(); t != "" {
			d.Next = linkWith("/stock/stocktakes", "warehouse", wh, "after", t)
		}
	}
	s.render(w, r, "stock_stocktakes", status, p)
}

// codes splits a list of product codes typed with spaces or commas.
func codes(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '，' || r == '、' || r == ' ' || r == '\n' })
}

// stocktakeOpen opens a count sheet and shows it.
func (s *Server) stocktakeOpen(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/stocktakes", "stock.stocktakes.title")
	if !readAdminForm(w, r, p, 16<<10) {
		s.renderStocktakes(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	st, err := stockCall(r, s.cfg.Warehouse.OpenStocktake, &whv1.OpenStocktakeRequest{Warehouse: p.Value("warehouse"), Type: p.Value("type"),
		Bin: p.Value("bin"), Products: codes(p.Value("products")), Note: p.Value("note")})
	if err != nil {
		status := s.stockFailed(p, err, nil, "warehouse", "type", "bin", "products", "note")
		s.renderStocktakes(w, r, p, nav, status)
		return
	}
	redirect(w, r, "/stock/stocktakes/"+st.GetId(), p.T("stock.stocktake.opened", len(st.GetLines())))
}

// sheetLine is one line of a count sheet with what the input shows.
type sheetLine struct {
	L     *whv1.StocktakeLine
	Name  string
	Input string
}

type stocktakeData struct {
	stockPageData
	S         *whv1.Stocktake
	Warehouse string
	Lines     []sheetLine
	// Editable says the sheet is open, at its warehouse's node, for a
	// user who may count.
	Editable bool
	Bins     []option
	Counted  int
	Deltas   int
}

// stocktakePage shows a count sheet: the book quantity at the opening of
// every line, the counts, and the deltas posting adds.
func (s *Server) stocktakePage(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/stocktakes", "stock.stocktake.title")
	s.renderSheet(w, r, p, nav, http.StatusOK)
}

func (s *Server) renderSheet(w http.ResponseWriter, r *http.Request, p *Page, nav stockPageData, status int) {
	st, err := stockCall(r, s.cfg.Warehouse.GetStocktake, &whv1.GetStocktakeRequest{Id: r.PathValue("id")})
	if err != nil {
		s.render(w, r, "error", s.stockFailed(p, err, nil), p)
		return
	}
	ws := s.warehouses(r)
	d := &stocktakeData{stockPageData: nav, S: st, Warehouse: st.GetWarehouse()}
	p.Data = d
	wh := findWarehouse(ws, st.GetWarehouse())
	if wh != nil {
		d.Warehouse = warehouseLabel(wh)
		d.Editable = st.GetStatus() == "open" && wh.GetOwner() == s.cfg.Site && p.Can("stock.move")
		for _, b := range wh.GetBins() {
			if st.GetBin() == "" || st.GetBin() == b.GetId() {
				d.Bins = append(d.Bins, option{Value: b.GetId(), Label: binLabel(p, b), On: b.GetId() == p.Value("fb")})
			}
		}
	}
	var ids []string
	for _, l := range st.GetLines() {
		ids = append(ids, l.GetProduct())
	}
	names := s.productNames(r, ids...)
	posted := p.Form["lc"]
	for i, l := range st.GetLines() {
		v := sheetLine{L: l, Name: names[l.GetProduct()]}
		if l.GetCounted() {
			v.Input = strconv.FormatInt(l.GetCount(), 10)
			d.Counted++
			if l.GetDelta() != 0 {
				d.Deltas++
			}
		}
		if i < len(posted) && p.Form.Get("lp") != "" {
			v.Input = posted[i]
		}
		d.Lines = append(d.Lines, v)
	}
	s.render(w, r, "stock_stocktake", status, p)
}

// stocktakeCount saves the counts entered on a sheet (op=save) and posts
// it (op=post).
func (s *Server) stocktakeCount(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/stocktakes", "stock.stocktake.title")
	id := r.PathValue("id")
	if !readAdminForm(w, r, p, 256<<10) {
		s.renderSheet(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	fail := func(err error) {
		status := s.stockFailed(p, err, nil)
		s.renderSheet(w, r, p, nav, status)
	}
	f := p.Form
	var lines []*whv1.MoveLine
	for i, prod := range f["lp"] {
		v := at0(f["lc"], i)
		if v == "" {
			continue
		}
		n, err := parseQty("quantity", v)
		if err != nil {
			fail(err)
			return
		}
		lines = append(lines, &whv1.MoveLine{Product: prod, Bin: at0(f["lb"], i), Batch: at0(f["lt"], i), Qty: n})
	}
	// A line found that the book lacks (a batch, or a product in a bin).
	if f.Get("fc") != "" {
		n, err := parseQty("quantity", f.Get("fc"))
		if err != nil {
			fail(err)
			return
		}
		lines = append(lines, &whv1.MoveLine{Product: f.Get("fp"), Bin: f.Get("fb"), Batch: f.Get("ft"), Qty: n})
	}
	if len(lines) > 0 {
		if _, err := stockCall(r, s.cfg.Warehouse.RecordCount, &whv1.RecordCountRequest{Id: id, Lines: lines}); err != nil {
			fail(err)
			return
		}
	}
	if f.Get("op") != "post" {
		redirect(w, r, "/stock/stocktakes/"+id, p.T("stock.stocktake.saved", len(lines)))
		return
	}
	st, err := stockCall(r, s.cfg.Warehouse.PostStocktake, &whv1.PostStocktakeRequest{Id: id})
	if err != nil {
		fail(err)
		return
	}
	n := 0
	for _, l := range st.GetLines() {
		if l.GetCounted() && l.GetDelta() != 0 {
			n++
		}
	}
	redirect(w, r, "/stock/stocktakes/"+id, p.T("stock.stocktake.posted", n))
}

// stocktakeCancel abandons an open sheet.
func (s *Server) stocktakeCancel(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/stocktakes", "stock.stocktake.title")
	id := r.PathValue("id")
	if !readAdminForm(w, r, p, 4<<10) {
		s.renderSheet(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	if _, err := stockCall(r, s.cfg.Warehouse.CancelStocktake, &whv1.CancelStocktakeRequest{Id: id, Note: p.Value("note")}); err != nil {
		// The counts typed are not re-shown: cancelling discards them.
		p.Form.Del("lp")
		s.renderSheet(w, r, p, nav, s.stockFailed(p, err, nil))
		return
	}
	redirect(w, r, "/stock/stocktakes/"+id, p.T("stock.stocktake.cancelled"))
}
