package stockui

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"branchline/fault"
	"branchline/warehouse"
	"branchline/warehouse/warehouseapp"
	"branchline/web"
	"branchline/web/label"
)

// productClasses are the product classes, sale items first.
var productClasses = []string{"sale", "gift", "special", "nocost"}

// productFields are the product form's inputs; productRename maps the
// API's field names to them.
var (
	productFields = []string{"id", "name", "category", "class", "barcode", "retail_yuan", "cost_yuan", "weight_kg",
		"batch_tracked", "fefo", "expiry_days", "components"}
	productRename = map[string]string{"retail_price": "retail_yuan", "cost_price": "cost_yuan", "weight": "weight_kg"}
)

type productListData struct {
	stockPageData
	Products []*warehouse.Product
	// List is the list's state from the URL; Pager its total and pages.
	List    web.List
	Pager   web.Pager
	Classes []web.Option
}

// productListSpec is what the product list sorts and filters by.
var productListSpec = web.ListSpec{Sorts: warehouseapp.ProductColumns, Filters: []string{"category", "class"}}

// productList lists the products, searched by code, name or barcode,
// filtered by category and class, sorted by any column.
func (s *Pages) productList(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/products", "stock.products.title")
	l := web.ParseList("/stock/products", r.URL.Query(), productListSpec)
	d := &productListData{stockPageData: nav, List: l}
	p.Data = d
	d.Classes = append(d.Classes, web.Option{Value: "", Label: p.T("stock.products.all_classes")})
	for _, c := range productClasses {
		d.Classes = append(d.Classes, web.Option{Value: c, Label: p.T("stock.class." + c), On: c == l.Filter("class")})
	}
	list, err := s.stock.SortedProducts(r.Context(), web.CallerOf(r), warehouseapp.ProductList{
		Text: l.Text, Category: l.Filter("category"), Class: l.Filter("class"), Order: l.Order})
	if err != nil {
		s.Render(w, r, "stock_products", s.stockFailed(p, err, nil), p)
		return
	}
	d.Products = list.Products
	d.Pager = l.Pager(list.Total, list.Prev, list.Next)
	s.Render(w, r, "stock_products", http.StatusOK, p)
}

type productFormData struct {
	stockPageData
	// ID is the product edited; empty for a new one.
	ID      string
	Classes []web.Option
}

func productFormOf(p *web.Page, nav stockPageData, id string) *productFormData {
	d := &productFormData{stockPageData: nav, ID: id}
	cls := p.Value("class")
	for _, c := range productClasses {
		d.Classes = append(d.Classes, web.Option{Value: c, Label: p.T("stock.class." + c), On: c == cls})
	}
	return d
}

func (s *Pages) productNew(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/products", "stock.product.new")
	p.Form.Set("class", "sale")
	p.Data = productFormOf(p, nav, "")
	s.Render(w, r, "stock_product_form", http.StatusOK, p)
}

// fillProductForm puts product pr into the form's inputs.
func fillProductForm(p *web.Page, pr *warehouse.Product) {
	f := p.Form
	f.Set("id", pr.ID)
	f.Set("name", pr.Name)
	f.Set("category", pr.Category)
	f.Set("class", pr.Class)
	f.Set("barcode", pr.Barcode)
	f.Set("retail_yuan", web.YuanText(pr.RetailPrice))
	f.Set("cost_yuan", web.YuanText(pr.CostPrice))
	if pr.Weight > 0 {
		f.Set("weight_kg", web.KgText(pr.Weight))
	}
	if pr.BatchTracked {
		f.Set("batch_tracked", "1")
	}
	if pr.FEFO {
		f.Set("fefo", "1")
	}
	if pr.ExpiryDays > 0 {
		f.Set("expiry_days", strconv.Itoa(int(pr.ExpiryDays)))
	}
	f.Set("components", componentsText(pr.Components))
}

// componentsText writes a bundle's components as the form takes them:
// "A100*2, B200*1".
func componentsText(cs []warehouse.Component) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Product + "*" + strconv.FormatInt(c.Qty, 10)
	}
	return strings.Join(parts, ", ")
}

// parseComponents reads "A100*2, B200" (a missing quantity is 1; commas,
// Chinese commas or new lines between parts).
func parseComponents(v string) ([]warehouse.Component, error) {
	var out []warehouse.Component
	for part := range strings.FieldsFuncSeq(v, func(r rune) bool { return r == ',' || r == '，' || r == '、' || r == '\n' || r == ';' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, q, ok := strings.Cut(part, "*")
		n := int64(1)
		if ok {
			var err error
			if n, err = strconv.ParseInt(strings.TrimSpace(q), 10, 64); err != nil {
				return nil, fault.Invalidf("components", "bad_number", "%q is not a quantity", q)
			}
		}
		out = append(out, warehouse.Component{Product: strings.TrimSpace(id), Qty: n})
	}
	return out, nil
}

// productFromForm reads the form's product.
func productFromForm(p *web.Page) (warehouse.Product, error) {
	retail, err := web.YuanToFen("retail_yuan", p.Value("retail_yuan"))
	if err != nil {
		return warehouse.Product{}, err
	}
	cost, err := web.YuanToFen("cost_yuan", p.Value("cost_yuan"))
	if err != nil {
		return warehouse.Product{}, err
	}
	grams, err := web.KgToGrams("weight_kg", p.Value("weight_kg"))
	if err != nil {
		return warehouse.Product{}, err
	}
	days, err := parseQty("expiry_days", p.Value("expiry_days"))
	if err != nil {
		return warehouse.Product{}, err
	}
	if days < 0 || days > 36500 {
		return warehouse.Product{}, fault.Invalidf("expiry_days", "bad_number", "%d is not a shelf life in days", days)
	}
	cs, err := parseComponents(p.Value("components"))
	if err != nil {
		return warehouse.Product{}, err
	}
	return warehouse.Product{ID: p.Value("id"), Name: p.Value("name"), Category: p.Value("category"), Class: p.Value("class"),
		Barcode: p.Value("barcode"), RetailPrice: retail, CostPrice: cost, Weight: grams, BatchTracked: p.Value("batch_tracked") == "1",
		FEFO: p.Value("fefo") == "1", ExpiryDays: days, Components: cs}, nil
}

// saveProduct writes the form's product (every field) and sends the user
// to its page; id is the product edited, empty for a new one.
func (s *Pages) saveProduct(w http.ResponseWriter, r *http.Request, id string) {
	title := "stock.product.new"
	if id != "" {
		title = "stock.product.edit"
	}
	p, nav := s.stockPage(r, "/stock/products", title)
	fail := func(err error) {
		status := s.stockFailed(p, err, productRename, productFields...)
		if errors.Is(err, fault.ErrConflict) {
			// The one conflict of a product: its barcode is another's.
			p.Errors["barcode"] = p.T("stock.product.barcode_taken")
			p.Errors[""] = p.T("form.fix_errors")
		}
		p.Data = productFormOf(p, nav, id)
		s.Render(w, r, "stock_product_form", status, p)
	}
	if !web.ReadForm(w, r, p, 16<<10) {
		p.Data = productFormOf(p, nav, id)
		s.Render(w, r, "stock_product_form", http.StatusRequestEntityTooLarge, p)
		return
	}
	if id != "" {
		p.Form.Set("id", id)
	} else if _, err := s.stock.Product(r.Context(), web.CallerOf(r), p.Value("id")); err == nil {
		fail(fault.Invalidf("id", "exists", "product %s exists", p.Value("id")))
		return
	}
	pr, err := productFromForm(p)
	if err != nil {
		fail(err)
		return
	}
	saved, err := s.stock.SetProduct(r.Context(), web.CallerOf(r), pr, nil)
	if err != nil {
		fail(err)
		return
	}
	msg := p.T("stock.product.saved", saved.Name)
	if id == "" {
		msg = p.T("stock.product.created", saved.Name)
	}
	web.Redirect(w, r, "/stock/products/"+saved.ID, msg)
}

func (s *Pages) productCreate(w http.ResponseWriter, r *http.Request) { s.saveProduct(w, r, "") }

func (s *Pages) productUpdate(w http.ResponseWriter, r *http.Request) {
	s.saveProduct(w, r, r.PathValue("id"))
}

func (s *Pages) productEdit(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/products", "stock.product.edit")
	pr, err := s.stock.Product(r.Context(), web.CallerOf(r), r.PathValue("id"))
	if err != nil {
		s.Render(w, r, "error", s.stockFailed(p, err, nil), p)
		return
	}
	fillProductForm(p, pr)
	p.Data = productFormOf(p, nav, pr.ID)
	s.Render(w, r, "stock_product_form", http.StatusOK, p)
}

// componentView is one part of a bundle.
type componentView struct {
	ID, Name string
	Qty      int64
}

// productStockView is a product's stock in one warehouse.
type productStockView struct {
	S     *warehouse.Stock
	Label string
}

// limitView is the limit form of a warehouse.
type limitView struct {
	Warehouse, Label string
	// The limits now; 0 is none.
	Min, Max, Safety int64
}

type productPageData struct {
	stockPageData
	P          *warehouse.Product
	Components []componentView
	Stocks     []productStockView
	Limits     []limitView
	Moves      []moveRow
	MovesLink  string
	// Elsewhere says some warehouses' stock is not this replica's to show.
	Elsewhere bool
	// MaxCopies and PerSheet bound and suggest the copies of its labels
	// to print: at most label.MaxCopies, a sheet's worth by default.
	MaxCopies, PerSheet int
}

// productPage shows a product: its fields, its stock by warehouse, bin
// and batch (with the batches' dates, oldest receipt first as issues
// take them) and its latest moves, in the warehouses this replica holds
// (Holding); and the limit forms of every warehouse, whose limits are
// company-wide.
func (s *Pages) productPage(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/products", "stock.product.title")
	id := r.PathValue("id")
	pr, err := s.stock.Product(r.Context(), web.CallerOf(r), id)
	if err != nil {
		s.Render(w, r, "error", s.stockFailed(p, err, nil), p)
		return
	}
	p.Title = pr.Name
	d := &productPageData{stockPageData: nav, P: pr, MovesLink: web.LinkWith("/stock/moves", "product", id),
		MaxCopies: label.MaxCopies, PerSheet: label.PerSheet}
	p.Data = d
	var cids []string
	for _, c := range pr.Components {
		cids = append(cids, c.Product)
	}
	names := s.productNames(r, cids...)
	for _, c := range pr.Components {
		d.Components = append(d.Components, componentView{ID: c.Product, Name: names[c.Product], Qty: c.Qty})
	}
	ws := s.warehouses(r)
	stocks, err := s.stock.ProductStock(r.Context(), web.CallerOf(r), "", id)
	if err != nil {
		s.Render(w, r, "stock_product", s.stockFailed(p, err, nil), p)
		return
	}
	d.Elsewhere = !s.holdsAll(ws)
	safety := map[string]int64{}
	for _, x := range stocks {
		wh := findWarehouse(ws, x.Warehouse)
		if !s.holds(wh) {
			continue
		}
		label := x.Warehouse
		if wh != nil {
			label = warehouseLabel(wh)
		}
		slices.SortStableFunc(x.Lines, func(a, b warehouse.StockLine) int {
			if c := strings.Compare(a.Bin, b.Bin); c != 0 {
				return c
			}
			if c := a.Received.Compare(b.Received); c != 0 {
				return c
			}
			return strings.Compare(a.Batch, b.Batch)
		})
		d.Stocks = append(d.Stocks, productStockView{S: x, Label: label})
		safety[x.Warehouse] = x.Safety
	}
	// A bundle holds no stock: its components have the limits.
	if len(pr.Components) == 0 {
		for _, wh := range ws {
			lv := limitView{Warehouse: wh.ID, Label: warehouseLabel(wh), Safety: safety[wh.ID]}
			if lim, err := s.stock.Limit(r.Context(), web.CallerOf(r), wh.ID, id); err == nil {
				lv.Min, lv.Max, lv.Safety = lim.Min, lim.Max, lim.Safety
			}
			d.Limits = append(d.Limits, lv)
		}
	}
	moves, err := s.stock.Moves(r.Context(), web.CallerOf(r), warehouse.MoveFilter{Product: id, Warehouses: s.heldIDs(ws)}, 10, "")
	if err == nil {
		for _, m := range moves.Items {
			row := moveRow{M: m, Type: moveTypeText(p, m.Direction, m.Type), Link: recordLink(m.ID)}
			for _, l := range m.Lines {
				if l.Product == id {
					row.Lines = append(row.Lines, moveLineView{Product: id, Bin: l.Bin, Batch: l.Batch, Bundle: l.Bundle, Qty: l.Qty})
				}
			}
			d.Moves = append(d.Moves, row)
		}
	}
	s.Render(w, r, "stock_product", http.StatusOK, p)
}

// productLimit writes the min, max and safety stock of the product in a
// warehouse: a blank input leaves that limit as it is, 0 clears it.
func (s *Pages) productLimit(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, _ := s.stockPage(r, "/stock/products", "stock.product.title")
	back := "/stock/products/" + id
	if !web.ReadForm(w, r, p, 4<<10) {
		web.Redirect(w, r, back, p.T("form.too_large"))
		return
	}
	l := warehouse.Limit{Warehouse: p.Value("warehouse"), Product: id}
	var fields []string
	for _, in := range []struct {
		name string
		dst  *int64
	}{{"min", &l.Min}, {"max", &l.Max}, {"safety", &l.Safety}} {
		if p.Value(in.name) == "" {
			continue
		}
		n, err := parseQty(in.name, p.Value(in.name))
		if err != nil {
			web.RedirectWarn(w, r, back, "", p.T("stock.limit.failed", stockInvalidText(p, asInvalid(err))))
			return
		}
		*in.dst = n
		fields = append(fields, in.name)
	}
	if len(fields) == 0 {
		web.RedirectWarn(w, r, back, "", p.T("stock.limit.nothing"))
		return
	}
	lim, err := s.stock.SetLimit(r.Context(), web.CallerOf(r), l, fields)
	if err != nil {
		s.stockFailed(p, err, nil)
		web.RedirectWarn(w, r, back, "", p.T("stock.limit.failed", p.Errors[""]))
		return
	}
	web.Redirect(w, r, back, p.T("stock.limit.saved", lim.Warehouse, lim.Min, lim.Max, lim.Safety))
}

// asInvalid returns err's *fault.Invalid; parse errors of the pages are
// always one.
func asInvalid(err error) *fault.Invalid {
	inv, _ := fault.AsInvalid(err)
	if inv == nil {
		return &fault.Invalid{Detail: err.Error()}
	}
	return inv
}
