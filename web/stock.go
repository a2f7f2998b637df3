package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access"
	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
)

// The warehouse pages of a node (进销存): the stock overview with its
// alerts, products, the scanner-friendly move entry, the move history,
// stocktakes, transfers, reservations with the escrow, purchase orders,
// warehouses and bins. Each handler calls the WarehouseService in process
// as the signed-in user, which checks the permission again and decides
// everything; the pages check the permission first, so that a user
// without it gets a 403 page rather than a form whose every action fails.
// Physical moves are recorded only at the node that owns a warehouse, so
// the move forms offer this node's warehouses (Config.Site is its id).

// stockRoutes registers the warehouse pages when the node serves them.
func (s *Server) stockRoutes() {
	if s.cfg.Warehouse == nil {
		return
	}
	read := access.StockRead
	move := access.StockMove
	admin := access.StockAdmin
	reserve := access.StockReserve

	s.getPage("/stock", s.stockOverview, read)

	s.getPage("/stock/products", s.productList, read)
	s.getPage("/stock/products/new", s.productNew, admin)
	s.postAction("/stock/products", s.productCreate, admin)
	s.getPage("/stock/products/{id}", s.productPage, read)
	s.getPage("/stock/products/{id}/edit", s.productEdit, admin)
	s.postAction("/stock/products/{id}", s.productUpdate, admin)
	s.postAction("/stock/products/{id}/limits", s.productLimit, admin)

	s.getPage("/stock/moves/new", s.moveNew, move)
	s.postAction("/stock/moves", s.moveCreate, move)
	s.getPage("/stock/moves", s.moveList, read)

	s.getPage("/stock/stocktakes", s.stocktakeList, read)
	s.postAction("/stock/stocktakes", s.stocktakeOpen, move)
	s.getPage("/stock/stocktakes/{id}", s.stocktakePage, read)
	s.postAction("/stock/stocktakes/{id}", s.stocktakeCount, move)
	s.postAction("/stock/stocktakes/{id}/cancel", s.stocktakeCancel, move)

	s.getPage("/stock/transfers", s.transferList, read)
	s.postAction("/stock/transfers", s.transferShip, move)
	s.getPage("/stock/transfers/{id}", s.transferPage, read)
	s.postAction("/stock/transfers/{id}/receive", s.transferReceive, move)

	s.getPage("/stock/reservations", s.reservationList, read)
	s.postAction("/stock/reservations", s.reservationMake, reserve)
	s.postAction("/stock/reservations/{id}/release", s.reservationRelease, reserve)
	s.postAction("/stock/reservations/{id}/ship", s.reservationShip, reserve)
	s.postAction("/stock/notices", s.noticeCreate, reserve)
	s.postAction("/stock/notices/{id}/confirm", s.noticeConfirm, reserve)

	s.getPage("/stock/purchases", s.purchaseList, read)
	s.postAction("/stock/purchases", s.purchaseCreate, admin)
	s.getPage("/stock/purchases/{id}", s.purchasePage, read)
	s.postAction("/stock/purchases/{id}/close", s.purchaseClose, admin)

	s.getPage("/stock/warehouses", s.warehouseList, read)
	s.postAction("/stock/warehouses", s.warehouseCreate, admin)
	s.getPage("/stock/warehouses/{id}", s.warehousePage, read)
	s.postAction("/stock/warehouses/{id}", s.warehouseUpdate, admin)
	s.postAction("/stock/warehouses/{id}/bins", s.binSet, admin)
	s.postAction("/stock/warehouses/{id}/sellers", s.sellerAdd, admin)
	s.postAction("/stock/warehouses/{id}/sellers/remove", s.sellerRemove, admin)
}

// stockCall calls a WarehouseService method as the signed-in user.
func stockCall[Req, Res any](r *http.Request, fn func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error), req *Req) (*Res, error) {
	resp, err := fn(apiCtx(r), connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

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
	Nav []navLink
}

// stockNav returns the sub-navigation for the user of p, with on marked.
func stockNav(p *Page, on string) stockPageData {
	var out stockPageData
	for _, sec := range stockSections {
		if p.Grant.Can(sec.perm) {
			out.Nav = append(out.Nav, navLink{Href: sec.href, Key: sec.key, On: sec.href == on})
		}
	}
	return out
}

// stockPage starts a warehouse page: the menu's stock entry on, the
// sub-navigation's section on.
func (s *Server) stockPage(r *http.Request, section, titleKey string) (*Page, stockPageData) {
	p := s.page(r, "stock", titleKey)
	return p, stockNav(p, section)
}

// warehouses lists the warehouses; a failure lists none (the page then
// says there is none to choose).
func (s *Server) warehouses(r *http.Request) []*whv1.Warehouse {
	resp, err := stockCall(r, s.cfg.Warehouse.ListWarehouses, &whv1.ListWarehousesRequest{})
	if err != nil {
		s.cfg.Log.Warn("stock pages: warehouses", "err", err)
		return nil
	}
	return resp.GetWarehouses()
}

// own keeps the warehouses this node owns: the only ones whose physical
// moves it records.
func (s *Server) own(ws []*whv1.Warehouse) []*whv1.Warehouse {
	return slices.DeleteFunc(slices.Clone(ws), func(w *whv1.Warehouse) bool { return w.GetOwner() != s.cfg.Site })
}

// warehouseLabel names a warehouse in a select or a heading.
func warehouseLabel(w *whv1.Warehouse) string { return codeLabel(w.GetId(), w.GetName()) }

// codeLabel names something with a code and a name: "上海仓 (SH1)".
func codeLabel(id, name string) string {
	if name == "" || name == id {
		return id
	}
	return name + " (" + id + ")"
}

// warehouseOptions lists ws for a select with sel chosen; all, when not
// empty, is the label of a first "every warehouse" choice.
func warehouseOptions(ws []*whv1.Warehouse, sel, all string) []option {
	var out []option
	if all != "" {
		out = append(out, option{Value: "", Label: all, On: sel == ""})
	}
	for _, w := range ws {
		out = append(out, option{Value: w.GetId(), Label: warehouseLabel(w), On: w.GetId() == sel})
	}
	return out
}

// pickWarehouse returns the warehouse of ws named want, else the first of
// ws owned by this node, else the first; "" when there is none.
func (s *Server) pickWarehouse(ws []*whv1.Warehouse, want string) string {
	if want != "" && slices.ContainsFunc(ws, func(w *whv1.Warehouse) bool { return w.GetId() == want }) {
		return want
	}
	if own := s.own(ws); len(own) > 0 {
		return own[0].GetId()
	}
	if len(ws) > 0 {
		return ws[0].GetId()
	}
	return ""
}

// listedWarehouse is the warehouse a list page shows: the one asked for
// (?warehouse=, or in the form just posted), else pickWarehouse's choice.
func (s *Server) listedWarehouse(r *http.Request, p *Page, ws []*whv1.Warehouse) string {
	want := r.URL.Query().Get("warehouse")
	if want == "" {
		want = p.Value("warehouse")
	}
	return s.pickWarehouse(ws, want)
}

func findWarehouse(ws []*whv1.Warehouse, id string) *whv1.Warehouse {
	for _, w := range ws {
		if w.GetId() == id {
			return w
		}
	}
	return nil
}

// binGroup is a warehouse's bins for a select: an optgroup per warehouse,
// which the page's script narrows to the chosen warehouse.
type binGroup struct {
	Warehouse, Label string
	Bins             []option
}

// binGroups lists the bins of ws, sel chosen in warehouse wh; empty is
// the first good bin of wh when first is set.
func binGroups(p *Page, ws []*whv1.Warehouse, wh, sel string, first bool) []binGroup {
	var out []binGroup
	for _, w := range ws {
		g := binGroup{Warehouse: w.GetId(), Label: warehouseLabel(w)}
		want := ""
		if w.GetId() == wh {
			want = sel
			if want == "" && first {
				want = firstGoodBin(w)
			}
		}
		for _, b := range w.GetBins() {
			g.Bins = append(g.Bins, option{Value: b.GetId(), Label: binLabel(p, b), On: b.GetId() == want})
		}
		out = append(out, g)
	}
	return out
}

func firstGoodBin(w *whv1.Warehouse) string {
	for _, b := range w.GetBins() {
		if b.GetKind() == "good" {
			return b.GetId()
		}
	}
	return ""
}

// binLabel names a bin with its kind: "A01 货架一 · 良品".
func binLabel(p *Page, b *whv1.Bin) string {
	label := b.GetId()
	if b.GetName() != "" && b.GetName() != b.GetId() {
		label += " " + b.GetName()
	}
	return label + " · " + p.T("stock.bin_kind."+b.GetKind())
}

// productNames reads the names of products ids (each once); a product
// that cannot be read is left out, and pages show its code.
func (s *Server) productNames(r *http.Request, ids ...string) map[string]string {
	out := map[string]string{}
	for _, id := range ids {
		if _, done := out[id]; done || id == "" {
			continue
		}
		pr, err := stockCall(r, s.cfg.Warehouse.GetProduct, &whv1.GetProductRequest{Id: id})
		if err != nil {
			out[id] = ""
			continue
		}
		out[id] = pr.GetName()
	}
	return out
}

// productOptions lists up to a page of products for a datalist (code
// typed or picked by name).
func (s *Server) productOptions(r *http.Request) []option {
	resp, err := stockCall(r, s.cfg.Warehouse.ListProducts, &whv1.ListProductsRequest{PageSize: 500})
	if err != nil {
		return nil
	}
	var out []option
	for _, pr := range resp.GetProducts() {
		out = append(out, option{Value: pr.GetId(), Label: pr.GetName()})
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
func (s *Server) stockFailed(p *Page, err error, rename map[string]string, fields ...string) int {
	return s.placeFailure(p, err, "stock", func(f string) string {
		if to, ok := rename[f]; ok {
			return to
		}
		return f
	}, fields)
}

// stockInvalidText translates a validation failure of the warehouse
// domain; a code the catalog lacks shows the domain's English detail.
func stockInvalidText(p *Page, inv *fault.Invalid) string { return invalidText(p, "stock", inv) }

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

// parseDay reads a local date ("2006-01-02") as a timestamp; blank is
// none.
func parseDay(field, v string) (*timestamppb.Timestamp, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.ParseInLocation("2006-01-02", v, time.Local)
	if err != nil {
		return nil, fault.Invalidf(field, "bad_date", "%q is not a date", v)
	}
	return timestamppb.New(t), nil
}

// dayOf shows a timestamp as a local date; nil shows nothing.
func dayOf(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().Local().Format("2006-01-02")
}

// moveTypeText names a move's type in the page's language: "采购入库".
func moveTypeText(p *Page, direction, typ string) string {
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

// alertView is one alert as the pages show it.
type alertView struct {
	Warehouse, Product, Name, Batch string
	Kind, Label, Detail             string
	// Red marks what is wrong now (expired, deficit, below safety);
	// others are warnings.
	Red bool
}

// viewAlert explains an alert of warehouse wh.
func viewAlert(p *Page, wh string, a *whv1.Alert, names map[string]string) alertView {
	v := alertView{Warehouse: wh, Product: a.GetProduct(), Name: names[a.GetProduct()], Batch: a.GetBatch(), Kind: a.GetKind(),
		Label: p.T("stock.alert." + a.GetKind())}
	switch a.GetKind() {
	case "below_min", "above_max", "below_safety":
		v.Detail = p.T("stock.alert.limit_detail", a.GetQty(), a.GetLimit())
	case "expiring", "expired":
		v.Detail = p.T("stock.alert.expiry_detail", a.GetBatch(), dayOf(a.GetExpireTime()), a.GetQty())
	case "escrow_deficit":
		v.Detail = p.T("stock.alert.deficit_detail", a.GetQty())
	}
	v.Red = a.GetKind() == "expired" || a.GetKind() == "escrow_deficit" || a.GetKind() == "below_safety"
	return v
}

// stockRow is one product of a warehouse in the overview.
type stockRow struct {
	S     *whv1.Stock
	Name  string
	Alert bool
}

// stockSection is one warehouse of the overview.
type stockSection struct {
	W      *whv1.Warehouse
	Own    bool
	Rows   []stockRow
	Alerts []alertView
	// Next is the address of the warehouse's next page of products.
	Next string
}

type stockOverviewData struct {
	stockPageData
	Warehouses []option
	Filter     string
	Sections   []stockSection
	Alerts     []alertView
}

// overviewRows is how many products a warehouse shows per page: all
// warehouses at once show fewer each.
const (
	overviewRows    = 50
	overviewRowsAll = 20
)

// stockOverview shows each warehouse's stock by product with the alerts
// on top: on hand, reserved (sold, not shipped), safety stock and the
// available stock (虚拟库存). ?warehouse= shows one warehouse with paging.
func (s *Server) stockOverview(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock", "stock.overview.title")
	q := r.URL.Query()
	ws := s.warehouses(r)
	d := &stockOverviewData{stockPageData: nav, Filter: q.Get("warehouse")}
	if d.Filter != "" && findWarehouse(ws, d.Filter) == nil {
		d.Filter = ""
	}
	d.Warehouses = warehouseOptions(ws, d.Filter, p.T("stock.all_warehouses"))
	p.Data = d
	// This node's warehouses first: they are the ones it records.
	shown, size, token := append(s.own(ws), slices.DeleteFunc(slices.Clone(ws), func(w *whv1.Warehouse) bool { return w.GetOwner() == s.cfg.Site })...),
		int32(overviewRowsAll), ""
	if d.Filter != "" {
		shown, size, token = []*whv1.Warehouse{findWarehouse(ws, d.Filter)}, overviewRows, q.Get("after")
	}
	for _, wh := range shown {
		sec, err := s.stockSection(r, p, wh, size, token)
		if err != nil {
			s.render(w, r, "stock", s.stockFailed(p, err, nil), p)
			return
		}
		if d.Filter == "" && sec.Next != "" {
			sec.Next = linkWith("/stock", "warehouse", wh.GetId())
		}
		d.Alerts = append(d.Alerts, sec.Alerts...)
		d.Sections = append(d.Sections, sec)
	}
	s.render(w, r, "stock", http.StatusOK, p)
}

// stockSection reads a page of warehouse wh's stock and its alerts.
func (s *Server) stockSection(r *http.Request, p *Page, wh *whv1.Warehouse, size int32, token string) (stockSection, error) {
	sec := stockSection{W: wh, Own: wh.GetOwner() == s.cfg.Site}
	list, err := stockCall(r, s.cfg.Warehouse.ListStock, &whv1.ListStockRequest{Warehouse: wh.GetId(), PageSize: size, PageToken: token})
	if err != nil {
		return sec, err
	}
	alerts, err := stockCall(r, s.cfg.Warehouse.ListAlerts, &whv1.ListAlertsRequest{Warehouse: wh.GetId()})
	if err != nil {
		return sec, err
	}
	var ids []string
	for _, st := range list.GetStocks() {
		ids = append(ids, st.GetProduct())
	}
	for _, a := range alerts.GetAlerts() {
		ids = append(ids, a.GetProduct())
	}
	names := s.productNames(r, ids...)
	alerted := map[string]bool{}
	for _, a := range alerts.GetAlerts() {
		sec.Alerts = append(sec.Alerts, viewAlert(p, wh.GetId(), a, names))
		alerted[a.GetProduct()] = true
	}
	for _, st := range list.GetStocks() {
		sec.Rows = append(sec.Rows, stockRow{S: st, Name: names[st.GetProduct()], Alert: alerted[st.GetProduct()]})
	}
	if t := list.GetNextPageToken(); t != "" {
		sec.Next = linkWith("/stock", "warehouse", wh.GetId(), "after", t)
	}
	return sec, nil
}
