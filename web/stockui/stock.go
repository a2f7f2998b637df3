package stockui

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"branchline/access"
	"branchline/app"
	"branchline/fault"
	"branchline/warehouse"
	"branchline/web"
)

// stockSections are the warehouse pages' sub-navigation, each with the
// permission that opens it.
var stockSections = []struct {
	href, key string
	perm      access.Perm
}{
	{"/stock", "stock.nav.overview", access.StockRead},
	{"/stock/moves/new", "stock.nav.move_new", access.StockMove},
	{"/stock/moves", "stock.nav.moves", access.StockRead},
	{"/stock/products", "stock.nav.products", access.StockRead},
	{"/stock/stocktakes", "stock.nav.stocktakes", access.StockRead},
	{"/stock/transfers", "stock.nav.transfers", access.StockRead},
	{"/stock/reservations", "stock.nav.reservations", access.StockRead},
	{"/stock/purchases", "stock.nav.purchases", access.StockRead},
	{"/stock/warehouses", "stock.nav.warehouses", access.StockRead},
}

// stockPageData is embedded in the data of every warehouse page.
type stockPageData struct {
	Nav []web.NavLink
	// names reads the warehouses' names, once, when a page shows one.
	names func() map[string]string
}

// WarehouseName is what people call warehouse id: its name, or its code
// when it has none (or cannot be read).
func (d stockPageData) WarehouseName(id string) string {
	if d.names != nil {
		if n := d.names()[id]; n != "" {
			return n
		}
	}
	return id
}

// stockNav returns the sub-navigation for the user of p, with on marked.
func stockNav(p *web.Page, on string) stockPageData {
	var out stockPageData
	for _, sec := range stockSections {
		if p.Grant.Can(sec.perm) {
			out.Nav = append(out.Nav, web.NavLink{Href: sec.href, Key: sec.key, On: sec.href == on})
		}
	}
	return out
}

// stockPage starts a warehouse page: the menu's stock entry on, the
// sub-navigation's section on.
func (s *Pages) stockPage(r *http.Request, section, titleKey string) (*web.Page, stockPageData) {
	p := s.NewPage(r, "stock", titleKey)
	d := stockNav(p, section)
	d.names = sync.OnceValue(func() map[string]string {
		out := map[string]string{}
		for _, w := range s.warehouses(r) {
			out[w.ID] = w.Name
		}
		return out
	})
	return p, d
}

// warehouses lists the warehouses; a failure lists none (the page then
// says there is none to choose).
func (s *Pages) warehouses(r *http.Request) []*warehouse.Warehouse {
	ws, err := s.stock.Warehouses(r.Context(), web.CallerOf(r))
	if err != nil {
		s.Log().Warn("stock pages: warehouses", "err", err)
		return nil
	}
	return ws
}

// own keeps the warehouses this node owns: the only ones whose physical
// moves it records.
func (s *Pages) own(ws []*warehouse.Warehouse) []*warehouse.Warehouse {
	return slices.DeleteFunc(slices.Clone(ws), func(w *warehouse.Warehouse) bool { return w.Owner != s.Site() })
}

// warehouseLabel names a warehouse in a select or a heading.
func warehouseLabel(w *warehouse.Warehouse) string { return CodeLabel(w.ID, w.Name) }

// CodeLabel names something with a code and a name: "上海仓 (SH1)".
func CodeLabel(id, name string) string {
	if name == "" || name == id {
		return id
	}
	return name + " (" + id + ")"
}

// warehouseOptions lists ws for a select with sel chosen; all, when not
// empty, is the label of a first "every warehouse" choice.
func warehouseOptions(ws []*warehouse.Warehouse, sel, all string) []web.Option {
	var out []web.Option
	if all != "" {
		out = append(out, web.Option{Value: "", Label: all, On: sel == ""})
	}
	for _, w := range ws {
		out = append(out, web.Option{Value: w.ID, Label: warehouseLabel(w), On: w.ID == sel})
	}
	return out
}

// pickWarehouse returns the warehouse of ws named want, else the first of
// ws owned by this node, else the first; "" when there is none.
func (s *Pages) pickWarehouse(ws []*warehouse.Warehouse, want string) string {
	if want != "" && slices.ContainsFunc(ws, func(w *warehouse.Warehouse) bool { return w.ID == want }) {
		return want
	}
	if own := s.own(ws); len(own) > 0 {
		return own[0].ID
	}
	if len(ws) > 0 {
		return ws[0].ID
	}
	return ""
}

// listedWarehouse is the warehouse a list page shows: the one asked for
// (?warehouse=, or in the form just posted), else pickWarehouse's choice.
func (s *Pages) listedWarehouse(r *http.Request, p *web.Page, ws []*warehouse.Warehouse) string {
	want := r.URL.Query().Get("warehouse")
	if want == "" {
		want = p.Value("warehouse")
	}
	return s.pickWarehouse(ws, want)
}

func findWarehouse(ws []*warehouse.Warehouse, id string) *warehouse.Warehouse {
	for _, w := range ws {
		if w.ID == id {
			return w
		}
	}
	return nil
}

// binGroup is a warehouse's bins for a select: an optgroup per warehouse,
// which the page's script narrows to the chosen warehouse.
type binGroup struct {
	Warehouse, Label string
	Bins             []web.Option
}

// binGroups lists the bins of ws, sel chosen in warehouse wh; empty is
// the first good bin of wh when first is set.
func binGroups(p *web.Page, ws []*warehouse.Warehouse, wh, sel string, first bool) []binGroup {
	var out []binGroup
	for _, w := range ws {
		g := binGroup{Warehouse: w.ID, Label: warehouseLabel(w)}
		want := ""
		if w.ID == wh {
			want = sel
			if want == "" && first {
				want = firstGoodBin(w)
			}
		}
		for _, b := range w.Bins {
			g.Bins = append(g.Bins, web.Option{Value: b.ID, Label: binLabel(p, b), On: b.ID == want})
		}
		out = append(out, g)
	}
	return out
}

func firstGoodBin(w *warehouse.Warehouse) string {
	for _, b := range w.Bins {
		if b.Kind == "good" {
			return b.ID
		}
	}
	return ""
}

// binLabel names a bin with its kind: "A01 货架一 · 良品".
func binLabel(p *web.Page, b warehouse.Bin) string {
	label := b.ID
	if b.Name != "" && b.Name != b.ID {
		label += " " + b.Name
	}
	return label + " · " + p.T("stock.bin_kind."+b.Kind)
}

// productNames reads the names of products ids (each once); a product
// that cannot be read is left out, and pages show its code.
func (s *Pages) productNames(r *http.Request, ids ...string) map[string]string {
	out := map[string]string{}
	for id, pr := range s.products(r, ids...) {
		out[id] = pr.Name
	}
	return out
}

// products reads the products of ids, once each; one that cannot be read
// is the zero product.
func (s *Pages) products(r *http.Request, ids ...string) map[string]warehouse.Product {
	out := map[string]warehouse.Product{}
	for _, id := range ids {
		if _, done := out[id]; done || id == "" {
			continue
		}
		pr, err := s.stock.Product(r.Context(), web.CallerOf(r), id)
		if err != nil {
			out[id] = warehouse.Product{}
			continue
		}
		out[id] = *pr
	}
	return out
}

// productOptions lists up to a page of products for a datalist (code
// typed or picked by name).
func (s *Pages) productOptions(r *http.Request) []web.Option {
	list, err := s.stock.Products(r.Context(), web.CallerOf(r), app.MaxPageSize, "")
	if err != nil {
		return nil
	}
	var out []web.Option
	for _, pr := range list.Items {
		out = append(out, web.Option{Value: pr.ID, Label: pr.Name})
	}
	return out
}

// stockFailed is failed for the warehouse pages: validation codes are
// translated under stock.invalid.<code>, shown at the form's input named
// as the API names the field (rename maps API names to the form's), or
// at the top of the form when the form has no such input. A denial from
// the service (the page already checked the permission) means the
// warehouse is recorded at another node or the reservation is held by
// one; a conflict, that it was done already.
func (s *Pages) stockFailed(p *web.Page, err error, rename map[string]string, fields ...string) int {
	return s.PlaceFailure(p, err, "stock", func(f string) string {
		if to, ok := rename[f]; ok {
			return to
		}
		return f
	}, fields)
}

// stockInvalidText translates a validation failure of the warehouse
// domain; a code the catalog lacks shows the domain's English detail.
func stockInvalidText(p *web.Page, inv *fault.Invalid) string {
	return p.InvalidText("stock.invalid", inv)
}

// parseQty reads a whole quantity. A minus sign is kept, so that the
// domain refuses a negative quantity with its own message; blank is 0.
func parseQty(field, v string) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fault.Invalidf(field, "bad_number", "%q is not a whole number", v)
	}
	return n, nil
}

// moveTypeText names a move's type in the page's language: "采购入库".
func moveTypeText(p *web.Page, direction, typ string) string {
	key := "stock.type." + direction + "." + typ
	if t := p.T(key); t != key {
		return t
	}
	return direction + " " + typ
}

// recordLink is the page of what a history record came from: a transfer,
// a stocktake or a reservation for records "<id>.out", ".in", ".post",
// ".ship"; none for plain moves.
func recordLink(id string) string {
	base, suf, ok := strings.Cut(id, ".")
	if !ok {
		return ""
	}
	switch suf {
	case "out", "in":
		return "/stock/transfers/" + base
	case "post":
		return "/stock/stocktakes/" + base
	}
	return ""
}

// AlertView is one alert as the pages show it.
type AlertView struct {
	Warehouse, Product, Name, Batch string
	Kind, Label, Detail             string
	// Red marks what is wrong now (expired, deficit, below safety);
	// others are warnings.
	Red bool
}

// ViewAlert explains an alert of warehouse wh.
func ViewAlert(p *web.Page, wh string, a warehouse.Alert, names map[string]string) AlertView {
	v := AlertView{Warehouse: wh, Product: a.Product, Name: names[a.Product], Batch: a.Batch, Kind: a.Kind,
		Label: p.T("stock.alert." + a.Kind)}
	switch a.Kind {
	case "below_min", "above_max", "below_safety":
		v.Detail = p.T("stock.alert.limit_detail", a.Qty, a.Limit)
	case "expiring", "expired":
		v.Detail = p.T("stock.alert.expiry_detail", a.Batch, p.DateText(a.Expires), a.Qty)
	case "escrow_deficit":
		v.Detail = p.T("stock.alert.deficit_detail", a.Qty)
	}
	v.Red = a.Kind == "expired" || a.Kind == "escrow_deficit" || a.Kind == "below_safety"
	return v
}

// stockRow is one product of a warehouse in the overview.
type stockRow struct {
	S     *warehouse.Stock
	Name  string
	Alert bool
}

// stockSection is one warehouse of the overview.
type stockSection struct {
	W      *warehouse.Warehouse
	Own    bool
	Rows   []stockRow
	Alerts []AlertView
	// Next is the address of the warehouse's next page of products.
	Next string
}

type stockOverviewData struct {
	stockPageData
	Warehouses []web.Option
	Filter     string
	Sections   []stockSection
	Alerts     []AlertView
	// Elsewhere says some warehouses are not this replica's to show.
	Elsewhere bool
}

// overviewRows is how many products a warehouse shows per page: all
// warehouses at once show fewer each.
const (
	overviewRows    = 50
	overviewRowsAll = 20
)

// stockOverview shows the stock by product of each warehouse this replica
// holds (Holding), with their alerts on top: on hand, reserved (sold, not
// shipped), safety stock and the available stock (虚拟库存). ?warehouse=
// shows one warehouse with paging.
func (s *Pages) stockOverview(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock", "stock.overview.title")
	q := r.URL.Query()
	ws := s.warehouses(r)
	held := s.held(ws)
	d := &stockOverviewData{stockPageData: nav, Filter: q.Get("warehouse"), Elsewhere: !s.holdsAll(ws)}
	if d.Filter != "" && findWarehouse(held, d.Filter) == nil {
		d.Filter = ""
	}
	d.Warehouses = warehouseOptions(held, d.Filter, p.T("stock.all_warehouses"))
	p.Data = d
	// This node's warehouses first: they are the ones it records.
	shown, size, token := append(s.own(held), slices.DeleteFunc(slices.Clone(held), func(w *warehouse.Warehouse) bool { return w.Owner == s.Site() })...),
		overviewRowsAll, ""
	if d.Filter != "" {
		shown, size, token = []*warehouse.Warehouse{findWarehouse(held, d.Filter)}, overviewRows, q.Get("after")
	}
	for _, wh := range shown {
		sec, err := s.stockSection(r, p, wh, size, token)
		if err != nil {
			s.Render(w, r, "stock", s.stockFailed(p, err, nil), p)
			return
		}
		if d.Filter == "" && sec.Next != "" {
			sec.Next = web.LinkWith("/stock", "warehouse", wh.ID)
		}
		d.Alerts = append(d.Alerts, sec.Alerts...)
		d.Sections = append(d.Sections, sec)
	}
	s.Render(w, r, "stock", http.StatusOK, p)
}

// stockSection reads a page of warehouse wh's stock and its alerts.
func (s *Pages) stockSection(r *http.Request, p *web.Page, wh *warehouse.Warehouse, size int, token string) (stockSection, error) {
	sec := stockSection{W: wh, Own: wh.Owner == s.Site()}
	list, err := s.stock.Levels(r.Context(), web.CallerOf(r), wh.ID, size, token)
	if err != nil {
		return sec, err
	}
	alerts, err := s.stock.Alerts(r.Context(), web.CallerOf(r), wh.ID)
	if err != nil {
		return sec, err
	}
	var ids []string
	for _, st := range list.Items {
		ids = append(ids, st.Product)
	}
	for _, a := range alerts {
		ids = append(ids, a.Product)
	}
	names := s.productNames(r, ids...)
	alerted := map[string]bool{}
	for _, a := range alerts {
		sec.Alerts = append(sec.Alerts, ViewAlert(p, wh.ID, a, names))
		alerted[a.Product] = true
	}
	for _, st := range list.Items {
		sec.Rows = append(sec.Rows, stockRow{S: st, Name: names[st.Product], Alert: alerted[st.Product]})
	}
	if t := list.Next; t != "" {
		sec.Next = web.LinkWith("/stock", "warehouse", wh.ID, "after", t)
	}
	return sec, nil
}
