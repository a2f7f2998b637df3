package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"connectrpc.com/connect"

	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
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
	Products []*whv1.Product
	Next     string
}

// productList lists the products in code order, a page at a time.
func (s *Server) productList(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/products", "stock.products.title")
	d := &productListData{stockPageData: nav}
	p.Data = d
	resp, err := stockCall(r, s.cfg.Warehouse.ListProducts, &whv1.ListProductsRequest{PageSize: 50, PageToken: r.URL.Query().Get("after")})
	if err != nil {
		s.render(w, r, "stock_products", s.stockFailed(p, err, nil), p)
		return
	}
	d.Products = resp.GetProducts()
	if t := resp.GetNextPageToken(); t != "" {
		d.Next = linkWith("/stock/products", "after", t)
	}
	s.render(w, r, "stock_products", http.StatusOK, p)
}

type productFormData struct {
	stockPageData
	// ID is the product edited; empty for a new one.
	ID      string
	Classes []option
}

func productFormOf(p *Page, nav stockPageData, id string) *productFormData {
	d := &productFormData{stockPageData: nav, ID: id}
	cls := p.Value("class")
	for _, c := range productClasses {
		d.Classes = append(d.Classes, option{Value: c, Label: p.T("stock.class." + c), On: c == cls})
	}
	return d
}

func (s *Server) productNew(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/products", "stock.product.new")
	p.Form.Set("class", "sale")
	p.Data = productFormOf(p, nav, "")
	s.render(w, r, "stock_product_form", http.StatusOK, p)
}

// fillProductForm puts product pr into the form's inputs.
func fillProductForm(p *Page, pr *whv1.Product) {
	f := p.Form
	f.Set("id", pr.GetId())
	f.Set("name", pr.GetName())
	f.Set("category", pr.GetCategory())
	f.Set("class", pr.GetClass())
	f.Set("barcode", pr.GetBarcode())
	f.Set("retail_yuan", yuanText(pr.GetRetailPrice()))
	f.Set("cost_yuan", yuanText(pr.GetCostPrice()))
	if pr.GetWeightGrams() > 0 {
		f.Set("weight_kg", kgText(pr.GetWeightGrams()))
	}
	if pr.GetBatchTracked() {
		f.Set("batch_tracked", "1")
	}
	if pr.GetFefo() {
		f.Set("fefo", "1")
	}
	if pr.GetExpiryDays() > 0 {
		f.Set("expiry_days", strconv.Itoa(int(pr.GetExpiryDays())))
	}
	f.Set("components", componentsText(pr.GetComponents()))
}

// componentsText writes a bundle's components as the form takes them:
// "A100*2, B200*1".
func componentsText(cs []*whv1.Component) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.GetProduct() + "*" + strconv.FormatInt(c.GetQty(), 10)
	}
	return strings.Join(parts, ", ")
}

// parseComponents reads "A100*2, B200" (a missing quantity is 1; commas,
// Chinese commas or new lines between parts).
func parseComponents(v string) ([]*whv1.Component, error) {
	var out []*whv1.Component
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
		out = append(out, &whv1.Component{Product: strings.TrimSpace(id), Qty: n})
	}
	return out, nil
}

// productFromForm reads the form's product.
func productFromForm(p *Page) (*whv1.Product, error) {
	retail, err := yuanToFen("retail_yuan", p.Value("retail_yuan"))
	if err != nil {
		return nil, err
	}
	cost, err := yuanToFen("cost_yuan", p.Value("cost_yuan"))
	if err != nil {
		return nil, err
	}
	grams, err := kgToGrams("weight_kg", p.Value("weight_kg"))
	if err != nil {
		return nil, err
	}
	days, err := parseQty("expiry_days", p.Value("expiry_days"))
	if err != nil {
		return nil, err
	}
	if days < 0 || days > 36500 {
		return nil, fault.Invalidf("expiry_days", "bad_number", "%d is not a shelf life in days", days)
	}
	cs, err := parseComponents(p.Value("components"))
	if err != nil {
		return nil, err
	}
	return &whv1.Product{Id: p.Value("id"), Name: p.Value("name"), Category: p.Value("category"), Class: p.Value("class"),
		Barcode: p.Value("barcode"), RetailPrice: retail, CostPrice: cost, WeightGrams: grams, BatchTracked: p.Value("batch_tracked") == "1",
		Fefo: p.Value("fefo") == "1", ExpiryDays: int32(days), Components: cs}, nil
}

// saveProduct writes the form's product (every field) and sends the user
// to its page; id is the product edited, empty for a new one.
func (s *Server) saveProduct(w http.ResponseWriter, r *http.Request, id string) {
	title := "stock.product.new"
	if id != "" {
		title = "stock.product.edit"
	}
	p, nav := s.stockPage(r, "/stock/products", title)
	fail := func(err error) {
		status := s.stockFailed(p, err, productRename, productFields...)
		if connect.CodeOf(err) == connect.CodeAlreadyExists {
			// The one conflict of a product: its barcode is another's.
			p.Errors["barcode"] = p.T("stock.product.barcode_taken")
			p.Errors[""] = p.T("form.fix_errors")
		}
		p.Data = productFormOf(p, nav, id)
		s.render(w, r, "stock_product_form", status, p)
	}
	if !readAdminForm(w, r, p, 16<<10) {
		p.Data = productFormOf(p, nav, id)
		s.render(w, r, "stock_product_form", http.StatusRequestEntityTooLarge, p)
		return
	}
	if id != "" {
		p.Form.Set("id", id)
	} else if _, err := stockCall(r, s.cfg.Warehouse.GetProduct, &whv1.GetProductRequest{Id: p.Value("id")}); err == nil {
		fail(fault.Invalidf("id", "exists", "product %s exists", p.Value("id")))
		return
	}
	pr, err := productFromForm(p)
	if err != nil {
		fail(err)
		return
	}
	saved, err := stockCall(r, s.cfg.Warehouse.SetProduct, &whv1.SetProductRequest{Product: pr})
	if err != nil {
		fail(err)
		return
	}
	msg := p.T("stock.product.saved", saved.GetName())
	if id == "" {
		msg = p.T("stock.product.created", saved.GetName())
	}
	redirect(w, r, "/stock/products/"+saved.GetId(), msg)
}

func (s *Server) productCreate(w http.ResponseWriter, r *http.Request) { s.saveProduct(w, r, "") }

func (s *Server) productUpdate(w http.ResponseWriter, r *http.Request) {
	s.saveProduct(w, r, r.PathValue("id"))
}

func (s *Server) productEdit(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/products", "stock.product.edit")
	pr, err := stockCall(r, s.cfg.Warehouse.GetProduct, &whv1.GetProductRequest{Id: r.PathValue("id")})
	if err != nil {
		s.render(w, r, "error", s.stockFailed(p, err, nil), p)
		return
	}
	fillProductForm(p, pr)
	p.Data = productFormOf(p, nav, pr.GetId())
	s.render(w, r, "stock_product_form", http.StatusOK, p)
}

// componentView is one part of a bundle.
type componentView struct {
	ID, Name string
	Qty      int64
}

// productStockView is a product's stock in one warehouse.
type productStockView struct {
	S     *whv1.Stock
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
	P          *whv1.Product
	Components []componentView
	Stocks     []productStockView
	Limits     []limitView
	Moves      []moveRow
	MovesLink  string
}

// productPage shows a product: its fields, its stock by warehouse, bin
// and batch (with the batches' dates, oldest receipt first as issues
// take them), the limit forms per warehouse and its latest moves.
func (s *Server) productPage(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/products", "stock.product.title")
	id := r.PathValue("id")
	pr, err := stockCall(r, s.cfg.Warehouse.GetProduct, &whv1.GetProductRequest{Id: id})
	if err != nil {
		s.render(w, r, "error", s.stockFailed(p, err, nil), p)
		return
	}
	p.Title = pr.GetName()
	d := &productPageData{stockPageData: nav, P: pr, MovesLink: linkWith("/stock/moves", "product", id)}
	p.Data = d
	var cids []string
	for _, c := range pr.GetComponents() {
		cids = append(cids, c.GetProduct())
	}
	names := s.productNames(r, cids...)
	for _, c := range pr.GetComponents() {
		d.Components = append(d.Components, componentView{ID: c.GetProduct(), Name: names[c.GetProduct()], Qty: c.GetQty()})
	}
	ws := s.warehouses(r)
	st, err := stockCall(r, s.cfg.Warehouse.GetStock, &whv1.GetStockRequest{Product: id})
	if err != nil {
		s.render(w, r, "stock_product", s.stockFailed(p, err, nil), p)
		return
	}
	safety := map[string]int64{}
	for _, x := range st.GetStocks() {
		label := x.GetWarehouse()
		if wh := findWarehouse(ws, x.GetWarehouse()); wh != nil {
			label = warehouseLabel(wh)
		}
		slices.SortStableFunc(x.Lines, func(a, b *whv1.StockLine) int {
			if c := strings.Compare(a.GetBin(), b.GetBin()); c != 0 {
				return c
			}
			if c := a.GetReceiveTime().AsTime().Compare(b.GetReceiveTime().AsTime()); c != 0 {
				return c
			}
			return strings.Compare(a.GetBatch(), b.GetBatch())
		})
		d.Stocks = append(d.Stocks, productStockView{S: x, Label: label})
		safety[x.GetWarehouse()] = x.GetSafety()
	}
	// A bundle holds no stock: its components have the limits.
	if len(pr.GetComponents()) == 0 {
		for _, wh := range ws {
			lv := limitView{Warehouse: wh.GetId(), Label: warehouseLabel(wh), Safety: safety[wh.GetId()]}
			if lim, err := stockCall(r, s.cfg.Warehouse.GetLimit, &whv1.GetLimitRequest{Warehouse: wh.GetId(), Product: id}); err == nil {
				lv.Min, lv.Max, lv.Safety = lim.GetMin(), lim.GetMax(), lim.GetSafety()
			}
			d.Limits = append(d.Limits, lv)
		}
	}
	moves, err := stockCall(r, s.cfg.Warehouse.ListMoves, &whv1.ListMovesRequest{Product: id, PageSize: 10})
	if err == nil {
		for _, m := range moves.GetMoves() {
			row := moveRow{M: m, Type: moveTypeText(p, m.GetDirection(), m.GetType()), Link: recordLink(m.GetId())}
			for _, l := range m.GetLines() {
				if l.GetProduct() == id {
					row.Lines = append(row.Lines, moveLineView{Product: id, Bin: l.GetBin(), Batch: l.GetBatch(), Bundle: l.GetBundle(), Qty: l.GetQty()})
				}
			}
			d.Moves = append(d.Moves, row)
		}
	}
	s.render(w, r, "stock_product", http.StatusOK, p)
}

// productLimit writes the min, max and safety stock of the product in a
// warehouse: a blank input leaves that limit as it is, 0 clears it.
func (s *Server) productLimit(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, _ := s.stockPage(r, "/stock/products", "stock.product.title")
	back := "/stock/products/" + id
	if !readAdminForm(w, r, p, 4<<10) {
		redirect(w, r, back, p.T("form.too_large"))
		return
	}
	req := &whv1.SetLimitRequest{Warehouse: p.Value("warehouse"), Product: id}
	for _, l := range []struct {
		name string
		dst  **int64
	}{{"min", &req.Min}, {"max", &req.Max}, {"safety", &req.Safety}} {
		if p.Value(l.name) == "" {
			continue
		}
		n, err := parseQty(l.name, p.Value(l.name))
		if err != nil {
			redirectWarn(w, r, back, "", p.T("stock.limit.failed", stockInvalidText(p, asInvalid(err))))
			return
		}
		*l.dst = &n
	}
	if req.Min == nil && req.Max == nil && req.Safety == nil {
		redirectWarn(w, r, back, "", p.T("stock.limit.nothing"))
		return
	}
	lim, err := stockCall(r, s.cfg.Warehouse.SetLimit, req)
	if err != nil {
		s.stockFailed(p, err, nil)
		redirectWarn(w, r, back, "", p.T("stock.limit.failed", p.Errors[""]))
		return
	}
	redirect(w, r, back, p.T("stock.limit.saved", lim.GetWarehouse(), lim.GetMin(), lim.GetMax(), lim.GetSafety()))
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
