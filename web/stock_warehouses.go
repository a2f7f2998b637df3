package web

import (
	"net/http"
	"strconv"

	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
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
	Warehouses []*whv1.Warehouse
}

func (s *Server) warehouseList(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/warehouses", "stock.warehouses.title")
	p.Form.Set("owner", s.cfg.Site)
	s.renderWarehouses(w, r, p, nav, http.StatusOK)
}

func (s *Server) renderWarehouses(w http.ResponseWriter, r *http.Request, p *Page, nav stockPageData, status int) {
	p.Data = &warehouseListData{stockPageData: nav, Warehouses: s.warehouses(r)}
	s.render(w, r, "stock_warehouses", status, p)
}

// warehouseFromForm reads the warehouse form.
func warehouseFromForm(p *Page, id string) (*whv1.Warehouse, error) {
	days, err := parseQty("expiry_warn_days", p.Value("expiry_warn_days"))
	if err != nil {
		return nil, err
	}
	if days < 0 || days > 3650 {
		return nil, fault.Invalidf("expiry_warn_days", "bad_number", "%d is not a number of days", days)
	}
	return &whv1.Warehouse{Id: id, Name: p.Value("name"), Owner: p.Value("owner"), Address: p.Value("address"), ExpiryWarnDays: int32(days)}, nil
}

// warehouseCreate creates a warehouse and shows it, to add its bins.
func (s *Server) warehouseCreate(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/warehouses", "stock.warehouses.title")
	if !readAdminForm(w, r, p, 8<<10) {
		s.renderWarehouses(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	fail := func(err error) {
		s.renderWarehouses(w, r, p, nav, s.stockFailed(p, err, nil, warehouseFields...))
	}
	id := p.Value("id")
	if _, err := stockCall(r, s.cfg.Warehouse.GetWarehouse, &whv1.GetWarehouseRequest{Id: id}); err == nil {
		fail(fault.Invalidf("id", "exists", "warehouse %s exists", id))
		return
	}
	wh, err := warehouseFromForm(p, id)
	if err != nil {
		fail(err)
		return
	}
	saved, err := stockCall(r, s.cfg.Warehouse.SetWarehouse, &whv1.SetWarehouseRequest{Warehouse: wh})
	if err != nil {
		fail(err)
		return
	}
	redirect(w, r, "/stock/warehouses/"+saved.GetId(), p.T("stock.warehouse.created", saved.GetName()))
}

type warehouseData struct {
	stockPageData
	W     *whv1.Warehouse
	Kinds []option
}

// warehousePage shows a warehouse with the forms changing it, its bins
// and its sellers.
func (s *Server) warehousePage(w http.ResponseWriter, r *http.Request) {
	p, nav := s.stockPage(r, "/stock/warehouses", "stock.warehouse.title")
	s.renderWarehouse(w, r, p, nav, http.StatusOK)
}

// renderWarehouse shows the warehouse, its fields in the form unless the
// form (posted and refused) has them.
func (s *Server) renderWarehouse(w http.ResponseWriter, r *http.Request, p *Page, nav stockPageData, status int) {
	wh, err := stockCall(r, s.cfg.Warehouse.GetWarehouse, &whv1.GetWarehouseRequest{Id: r.PathValue("id")})
	if err != nil {
		s.render(w, r, "error", s.stockFailed(p, err, nil), p)
		return
	}
	p.Title = warehouseLabel(wh)
	for k, v := range map[string]string{"name": wh.GetName(), "owner": wh.GetOwner(), "address": wh.GetAddress(),
		"expiry_warn_days": strconv.Itoa(int(wh.GetExpiryWarnDays()))} {
		if !p.Form.Has(k) {
			p.Form.Set(k, v)
		}
	}
	d := &warehouseData{stockPageData: nav, W: wh}
	kind := p.Value("bin_kind")
	for _, k := range binKinds {
		d.Kinds = append(d.Kinds, option{Value: k, Label: p.T("stock.bin_kind." + k), On: k == kind})
	}
	p.Data = d
	s.render(w, r, "stock_warehouse", status, p)
}

// warehouseAction reads a warehouse form, runs call and goes back to the
// warehouse with msg, or shows the page with the error at fields.
func (s *Server) warehouseAction(w http.ResponseWriter, r *http.Request, fields []string, rename map[string]string,
	call func(p *Page, id string) (string, error)) {
	p, nav := s.stockPage(r, "/stock/warehouses", "stock.warehouse.title")
	id := r.PathValue("id")
	if !readAdminForm(w, r, p, 8<<10) {
		s.renderWarehouse(w, r, p, nav, http.StatusRequestEntityTooLarge)
		return
	}
	msg, err := call(p, id)
	if err != nil {
		s.renderWarehouse(w, r, p, nav, s.stockFailed(p, err, rename, fields...))
		return
	}
	redirect(w, r, "/stock/warehouses/"+id, msg)
}

func (s *Server) warehouseUpdate(w http.ResponseWriter, r *http.Request) {
	s.warehouseAction(w, r, warehouseFields, nil, func(p *Page, id string) (string, error) {
		wh, err := warehouseFromForm(p, id)
		if err != nil {
			return "", err
		}
		saved, err := stockCall(r, s.cfg.Warehouse.SetWarehouse, &whv1.SetWarehouseRequest{Warehouse: wh})
		if err != nil {
			return "", err
		}
		return p.T("stock.warehouse.saved", saved.GetName()), nil
	})
}

// binSet adds a bin or changes one (the same code).
func (s *Server) binSet(w http.ResponseWriter, r *http.Request) {
	rename := map[string]string{"id": "bin_id", "name": "bin_name", "kind": "bin_kind"}
	s.warehouseAction(w, r, []string{"bin_id", "bin_name", "bin_kind"}, rename, func(p *Page, id string) (string, error) {
		_, err := stockCall(r, s.cfg.Warehouse.SetBin, &whv1.SetBinRequest{Warehouse: id,
			Bin: &whv1.Bin{Id: p.Value("bin_id"), Name: p.Value("bin_name"), Kind: p.Value("bin_kind")}})
		return p.T("stock.bin.saved", p.Value("bin_id")), err
	})
}

func (s *Server) sellerAdd(w http.ResponseWriter, r *http.Request) {
	s.warehouseAction(w, r, []string{"node"}, nil, func(p *Page, id string) (string, error) {
		_, err := stockCall(r, s.cfg.Warehouse.AddSeller, &whv1.AddSellerRequest{Warehouse: id, Node: p.Value("node")})
		return p.T("stock.seller.added", p.Value("node")), err
	})
}

func (s *Server) sellerRemove(w http.ResponseWriter, r *http.Request) {
	s.warehouseAction(w, r, nil, nil, func(p *Page, id string) (string, error) {
		_, err := stockCall(r, s.cfg.Warehouse.RemoveSeller, &whv1.RemoveSellerRequest{Warehouse: id, Node: p.Value("node")})
		return p.T("stock.seller.removed", p.Value("node")), err
	})
}
