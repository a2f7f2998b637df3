package hubui

import (
	"net/http"
	"slices"
	"time"

	"branchline/access"
	"branchline/fault"
	"branchline/replication"
	"branchline/warehouse"
	"branchline/web"
	"branchline/web/stockui"
)

// The head office's stock page on the hub: every warehouse's stock and
// alerts, read from this member's replicated views with the warehouse
// domain's queries (as fresh as its applied position: a branch cut off
// from the hub shows what it had pushed before). Without a filter it is
// a product × warehouse table, a page of products at a time; with
// ?warehouse= one warehouse's stock in full detail.

// hubStockRows is how many products a page shows.
const hubStockRows = 50

// hubWarehouse is a warehouse with how many alerts it has.
type hubWarehouse struct {
	W      *warehouse.Warehouse
	Alerts int
}

// hubCell is a product's stock in one warehouse.
type hubCell struct {
	Set               bool
	OnHand, Available int64
	InTransit         int64
}

// hubProductRow is a product across the warehouses.
type hubProductRow struct {
	ID, Name string
	// Bundle rows count the whole bundles the components make.
	Bundle bool
	Cells  []hubCell
	Total  hubCell
}

// hubStockRow is a product in the one warehouse shown.
type hubStockRow struct {
	S    *warehouse.Stock
	Name string
}

type hubStockData struct {
	Filter     string
	Options    []web.Option
	Warehouses []hubWarehouse
	Alerts     []stockui.AlertView
	Products   []hubProductRow
	Stocks     []hubStockRow
	Next       string
	Stale      time.Time
}

// WarehouseName is what people call warehouse id: its name, or its code.
func (d *hubStockData) WarehouseName(id string) string {
	for _, w := range d.Warehouses {
		if w.W.ID == id && w.W.Name != "" {
			return w.W.Name
		}
	}
	return id
}

func (s *Pages) hubStock(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "hub_stock", "hub.stock.title")
	if !p.CanAny(string(access.StockRead), string(access.UserAdmin)) {
		s.Render(w, r, "error", s.Failed(p, fault.ErrDenied), p)
		return
	}
	q := r.URL.Query()
	now := time.Now()
	d := &hubStockData{Filter: q.Get("warehouse"), Stale: now}
	p.Data = d
	err := s.cluster.View(func(views replication.Tx) error {
		ws, err := warehouse.ListWarehouses(views)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(ws, func(x *warehouse.Warehouse) bool { return x.ID == d.Filter }) {
			d.Filter = ""
		}
		d.Options = append(d.Options, web.Option{Value: "", Label: p.T("stock.all_warehouses"), On: d.Filter == ""})
		names := map[string]string{}
		name := func(id string) string {
			if n, ok := names[id]; ok {
				return n
			}
			if pr, err := warehouse.GetProduct(views, id); err == nil {
				names[id] = pr.Name
			} else {
				names[id] = ""
			}
			return names[id]
		}
		for _, x := range ws {
			d.Options = append(d.Options, web.Option{Value: x.ID, Label: stockui.CodeLabel(x.ID, x.Name), On: x.ID == d.Filter})
			as, err := warehouse.Alerts(views, x.ID, now)
			if err != nil {
				return err
			}
			d.Warehouses = append(d.Warehouses, hubWarehouse{W: x, Alerts: len(as)})
			if d.Filter != "" && x.ID != d.Filter {
				continue
			}
			for _, a := range as {
				d.Alerts = append(d.Alerts, stockui.ViewAlert(p, x.ID, a, map[string]string{a.Product: name(a.Product)}))
			}
		}
		if d.Filter != "" {
			sts, next, err := warehouse.ListStock(views, d.Filter, q.Get("after"), hubStockRows)
			if err != nil {
				return err
			}
			for _, st := range sts {
				d.Stocks = append(d.Stocks, hubStockRow{S: st, Name: name(st.Product)})
			}
			if next != "" {
				d.Next = web.LinkWith("/stock", "warehouse", d.Filter, "after", next)
			}
			return nil
		}
		ps, next, err := warehouse.ListProducts(views, q.Get("after"), hubStockRows)
		if err != nil {
			return err
		}
		for _, pr := range ps {
			sts, err := warehouse.ProductStock(views, pr.ID)
			if err != nil {
				return err
			}
			row := hubProductRow{ID: pr.ID, Name: pr.Name, Bundle: pr.IsBundle(), Cells: make([]hubCell, len(ws))}
			for _, st := range sts {
				i := slices.IndexFunc(ws, func(x *warehouse.Warehouse) bool { return x.ID == st.Warehouse })
				if i < 0 {
					continue
				}
				row.Cells[i] = hubCell{Set: true, OnHand: st.OnHand, Available: st.Available, InTransit: st.InTransit}
				row.Total.Set = true
				row.Total.OnHand += st.OnHand
				row.Total.Available += st.Available
				row.Total.InTransit += st.InTransit
			}
			d.Products = append(d.Products, row)
		}
		if next != "" {
			d.Next = web.LinkWith("/stock", "after", next)
		}
		return nil
	})
	if err != nil {
		s.Render(w, r, "hub_stock", s.Failed(p, err), p)
		return
	}
	s.Render(w, r, "hub_stock", http.StatusOK, p)
}
