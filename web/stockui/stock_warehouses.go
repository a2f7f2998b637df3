package stockui

import (
	"net/http"
	"strconv"

	"branchline/fault"
	"branchline/warehouse"
	"branchline/web"
)

// The warehouses page lists the warehouses with their bins and sellers;
// administrators create warehouses (owned by this node unless they name
// another), add bins (good, defective, other) and choose the nodes that
// may sell a warehouse's stock offline from escrow shares.

// binKinds are the kinds of bins, good stock first.
var binKinds = []string{"good", "defective", "other"}

var warehouseFields = []string{"id", "name", "owner", "address", "expiry_warn_days"}

type warehouseListData struct {
	stockPageData
	Warehouses []*warehouse.Warehouse
}

func (s *Pages) warehouseList(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/warehouses", "stock.warehouses.title")
	p.Form.Set("owner", s.Site())
	s.renderWarehouses(w, r, p, nav, http.StatusOK)
}

func (s *Pages) renderWarehouses(w http.ResponseWriter, r *http.Request, p *web.Page, nav stockPageData, status int) {
	p.Data = &warehouseListData{stockPageData: nav, Warehouses: s.warehouses(r)}
	s.Render(w, r, "stock_warehouses", status, p)
}

// warehouseFromForm reads the warehouse form.
func warehouseFromForm(p *web.Page, id string) (warehouse.Warehouse, error) {
	days, err := parseQty("expiry_warn_days", p.Value("expiry_warn_days"))
	if err != nil {
		return warehouse.Warehouse{}, err
	}
	if days < 0 || days > 3650 {
		return warehouse.Warehouse{}, fault.Invalidf("expiry_warn_days", "bad_number", "%d is not a number of days", days)
	}
	return warehouse.Warehouse{ID: id, Name: p.Value("name"), Owner: p.Value("owner"), Address: p.Value("address"), ExpiryWarnDays: days}, nil
}

// warehouseCreate creates a warehouse and shows it, to add its bins.
func (s *Pages) warehouseCreate(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/warehouses", "stock.warehouses.title")
	if !web.ReadForm(w, r, p, 8<<10) {
		s.renderWarehouses(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	fail := func(err error) {
		s.renderWarehouses(w, r, p, nav, s.stockFailed(p, err, nil, warehouseFields...))
	}
	id := p.Value("id")
	if _, err := s.stock.Warehouse(r.Context(), web.CallerOf(r), id); err == nil {
		fail(fault.Invalidf("id", "exists", "warehouse %s exists", id))
		return
	}
	wh, err := warehouseFromForm(p, id)
	if err != nil {
		fail(err)
		return
	}
	saved, err := s.stock.SetWarehouse(r.Context(), web.CallerOf(r), wh, nil)
	if err != nil {
		fail(err)
		return
	}
	web.Redirect(w, r, "/stock/warehouses/"+saved.ID, p.T("stock.warehouse.created", saved.Name))
}

type warehouseData struct {
	stockPageData
	W     *warehouse.Warehouse
	Kinds []web.Option
}

// warehousePage shows a warehouse with the forms changing it, its bins
// and its sellers.
func (s *Pages) warehousePage(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/warehouses", "stock.warehouse.title")
	s.renderWarehouse(w, r, p, nav, http.StatusOK)
}

// renderWarehouse shows the warehouse, its fields in the form unless the
// form (posted and refused) has them.
func (s *Pages) renderWarehouse(w http.ResponseWriter, r *http.Request, p *web.Page, nav stockPageData, status int) {
	wh, err := s.stock.Warehouse(r.Context(), web.CallerOf(r), r.PathValue("id"))
	if err != nil {
		s.Render(w, r, "error", s.stockFailed(p, err, nil), p)
		return
	}
	p.Title = warehouseLabel(wh)
	for k, v := range map[string]string{"name": wh.Name, "owner": wh.Owner, "address": wh.Address,
		"expiry_warn_days": strconv.Itoa(int(wh.ExpiryWarnDays))} {
		if !p.Form.Has(k) {
			p.Form.Set(k, v)
		}
	}
	d := &warehouseData{stockPageData: nav, W: wh}
	kind := p.Value("bin_kind")
	for _, k := range binKinds {
		d.Kinds = append(d.Kinds, web.Option{Value: k, Label: p.T("stock.bin_kind." + k), On: k == kind})
	}
	p.Data = d
	s.Render(w, r, "stock_warehouse", status, p)
}

// warehouseAction reads a warehouse form, runs call and goes back to the
// warehouse with msg, or shows the page with the error at fields.
func (s *Pages) warehouseAction(w http.ResponseWriter, r *http.Request, fields []string, rename map[string]string,
	call func(p *web.Page, id string) (string, error)) {
	p, nav := s.stockPage(r, "/stock/warehouses", "stock.warehouse.title")
	id := r.PathValue("id")
	if !web.ReadForm(w, r, p, 8<<10) {
		s.renderWarehouse(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	msg, err := call(p, id)
	if err != nil {
		s.renderWarehouse(w, r, p, nav, s.stockFailed(p, err, rename, fields...))
		return
	}
	web.Redirect(w, r, "/stock/warehouses/"+id, msg)
}

func (s *Pages) warehouseUpdate(w http.ResponseWriter, r *http.Request) {
	s.warehouseAction(w, r, warehouseFields, nil, func(p *web.Page, id string) (string, error) {
		wh, err := warehouseFromForm(p, id)
		if err != nil {
			return "", err
		}
		saved, err := s.stock.SetWarehouse(r.Context(), web.CallerOf(r), wh, nil)
		if err != nil {
			return "", err
		}
		return p.T("stock.warehouse.saved", saved.Name), nil
	})
}

// binSet adds a bin or changes one (the same code).
func (s *Pages) binSet(w http.ResponseWriter, r *http.Request) {
	rename := map[string]string{"id": "bin_id", "name": "bin_name", "kind": "bin_kind"}
	s.warehouseAction(w, r, []string{"bin_id", "bin_name", "bin_kind"}, rename, func(p *web.Page, id string) (string, error) {
		_, err := s.stock.SetBin(r.Context(), web.CallerOf(r), id, warehouse.Bin{ID: p.Value("bin_id"), Name: p.Value("bin_name"), Kind: p.Value("bin_kind")})
		return p.T("stock.bin.saved", p.Value("bin_id")), err
	})
}

func (s *Pages) sellerAdd(w http.ResponseWriter, r *http.Request) {
	s.warehouseAction(w, r, []string{"node"}, nil, func(p *web.Page, id string) (string, error) {
		_, err := s.stock.AddSeller(r.Context(), web.CallerOf(r), id, p.Value("node"))
		return p.T("stock.seller.added", p.Value("node")), err
	})
}

func (s *Pages) sellerRemove(w http.ResponseWriter, r *http.Request) {
	s.warehouseAction(w, r, nil, nil, func(p *web.Page, id string) (string, error) {
		_, err := s.stock.RemoveSeller(r.Context(), web.CallerOf(r), id, p.Value("node"))
		return p.T("stock.seller.removed", p.Value("node")), err
	})
}
