package api

import (
	"context"
	"log/slog"

	"connectrpc.com/connect"

	"branchline/app"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/gen/branchline/warehouse/v1/warehousev1connect"
	"branchline/warehouse"
	"branchline/warehouse/warehouseapp"
)

// WarehouseService implements branchline.warehouse.v1.WarehouseService on
// a node over the stock use cases (warehouseapp.Stock).
type WarehouseService struct {
	App    *warehouseapp.Stock
	Grants app.Grants
	Log    *slog.Logger
}

var _ warehousev1connect.WarehouseServiceHandler = (*WarehouseService)(nil)

func productIn(p *whv1.Product) warehouse.Product {
	out := warehouse.Product{ID: p.GetId(), Name: p.GetName(), Category: p.GetCategory(), RetailPrice: p.GetRetailPrice(),
		CostPrice: p.GetCostPrice(), Class: p.GetClass(), Barcode: p.GetBarcode(), BatchTracked: p.GetBatchTracked(),
		FEFO: p.GetFefo(), ExpiryDays: int64(p.GetExpiryDays()), Weight: p.GetWeightGrams()}
	for _, c := range p.GetComponents() {
		out.Components = append(out.Components, warehouse.Component{Product: c.GetProduct(), Qty: c.GetQty()})
	}
	return out
}

func productPB(p *warehouse.Product) *whv1.Product {
	out := &whv1.Product{Id: p.ID, Name: p.Name, Category: p.Category, RetailPrice: p.RetailPrice, CostPrice: p.CostPrice,
		Class: p.Class, Barcode: p.Barcode, BatchTracked: p.BatchTracked, Fefo: p.FEFO, ExpiryDays: int32(p.ExpiryDays),
		WeightGrams: p.Weight, BarcodeConflicts: p.BarcodeConflicts}
	for _, c := range p.Components {
		out.Components = append(out.Components, &whv1.Component{Product: c.Product, Qty: c.Qty})
	}
	return out
}

// SetProduct implements WarehouseService.SetProduct.
func (s *WarehouseService) SetProduct(ctx context.Context, req *connect.Request[whv1.SetProductRequest]) (*connect.Response[whv1.Product], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.SetProductRequest) (*whv1.Product, error) {
		return pb(productPB)(s.App.SetProduct(ctx, c, productIn(m.GetProduct()), m.GetFields()))
	})
}

// GetProduct implements WarehouseService.GetProduct.
func (s *WarehouseService) GetProduct(ctx context.Context, req *connect.Request[whv1.GetProductRequest]) (*connect.Response[whv1.Product], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.GetProductRequest) (*whv1.Product, error) {
		return pb(productPB)(s.App.Product(ctx, c, m.GetId()))
	})
}

// ListProducts implements WarehouseService.ListProducts.
func (s *WarehouseService) ListProducts(ctx context.Context, req *connect.Request[whv1.ListProductsRequest]) (*connect.Response[whv1.ListProductsResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ListProductsRequest) (*whv1.ListProductsResponse, error) {
		return pb(func(p app.Page[*warehouse.Product]) *whv1.ListProductsResponse {
			return &whv1.ListProductsResponse{Products: each(p.Items, productPB), NextPageToken: p.Next}
		})(s.App.Products(ctx, c, int(m.GetPageSize()), m.GetPageToken()))
	})
}

// LookupBarcode implements WarehouseService.LookupBarcode.
func (s *WarehouseService) LookupBarcode(ctx context.Context, req *connect.Request[whv1.LookupBarcodeRequest]) (*connect.Response[whv1.Product], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.LookupBarcodeRequest) (*whv1.Product, error) {
		return pb(productPB)(s.App.LookupBarcode(ctx, c, m.GetBarcode()))
	})
}

func warehousePB(w *warehouse.Warehouse) *whv1.Warehouse {
	out := &whv1.Warehouse{Id: w.ID, Name: w.Name, Owner: w.Owner, Address: w.Address, ExpiryWarnDays: int32(w.ExpiryWarnDays), Sellers: w.Sellers}
	for _, b := range w.Bins {
		out.Bins = append(out.Bins, &whv1.Bin{Id: b.ID, Name: b.Name, Kind: b.Kind})
	}
	return out
}

// SetWarehouse implements WarehouseService.SetWarehouse.
func (s *WarehouseService) SetWarehouse(ctx context.Context, req *connect.Request[whv1.SetWarehouseRequest]) (*connect.Response[whv1.Warehouse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.SetWarehouseRequest) (*whv1.Warehouse, error) {
		in := m.GetWarehouse()
		w := warehouse.Warehouse{ID: in.GetId(), Name: in.GetName(), Owner: in.GetOwner(), Address: in.GetAddress(), ExpiryWarnDays: int64(in.GetExpiryWarnDays())}
		return pb(warehousePB)(s.App.SetWarehouse(ctx, c, w, m.GetFields()))
	})
}

// GetWarehouse implements WarehouseService.GetWarehouse.
func (s *WarehouseService) GetWarehouse(ctx context.Context, req *connect.Request[whv1.GetWarehouseRequest]) (*connect.Response[whv1.Warehouse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.GetWarehouseRequest) (*whv1.Warehouse, error) {
		return pb(warehousePB)(s.App.Warehouse(ctx, c, m.GetId()))
	})
}

// ListWarehouses implements WarehouseService.ListWarehouses.
func (s *WarehouseService) ListWarehouses(ctx context.Context, req *connect.Request[whv1.ListWarehousesRequest]) (*connect.Response[whv1.ListWarehousesResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, _ *whv1.ListWarehousesRequest) (*whv1.ListWarehousesResponse, error) {
		return pb(func(ws []*warehouse.Warehouse) *whv1.ListWarehousesResponse {
			return &whv1.ListWarehousesResponse{Warehouses: each(ws, warehousePB)}
		})(s.App.Warehouses(ctx, c))
	})
}

// SetBin implements WarehouseService.SetBin.
func (s *WarehouseService) SetBin(ctx context.Context, req *connect.Request[whv1.SetBinRequest]) (*connect.Response[whv1.Warehouse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.SetBinRequest) (*whv1.Warehouse, error) {
		b := m.GetBin()
		return pb(warehousePB)(s.App.SetBin(ctx, c, m.GetWarehouse(), warehouse.Bin{ID: b.GetId(), Name: b.GetName(), Kind: b.GetKind()}))
	})
}

// AddSeller implements WarehouseService.AddSeller.
func (s *WarehouseService) AddSeller(ctx context.Context, req *connect.Request[whv1.AddSellerRequest]) (*connect.Response[whv1.Warehouse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.AddSellerRequest) (*whv1.Warehouse, error) {
		return pb(warehousePB)(s.App.AddSeller(ctx, c, m.GetWarehouse(), m.GetNode()))
	})
}

// RemoveSeller implements WarehouseService.RemoveSeller.
func (s *WarehouseService) RemoveSeller(ctx context.Context, req *connect.Request[whv1.RemoveSellerRequest]) (*connect.Response[whv1.Warehouse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.RemoveSellerRequest) (*whv1.Warehouse, error) {
		return pb(warehousePB)(s.App.RemoveSeller(ctx, c, m.GetWarehouse(), m.GetNode()))
	})
}

func limitPB(l warehouse.Limit) *whv1.Limit {
	return &whv1.Limit{Warehouse: l.Warehouse, Product: l.Product, Min: l.Min, Max: l.Max, Safety: l.Safety}
}

// SetLimit implements WarehouseService.SetLimit.
func (s *WarehouseService) SetLimit(ctx context.Context, req *connect.Request[whv1.SetLimitRequest]) (*connect.Response[whv1.Limit], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.SetLimitRequest) (*whv1.Limit, error) {
		l := warehouse.Limit{Warehouse: m.GetWarehouse(), Product: m.GetProduct(), Min: m.GetMin(), Max: m.GetMax(), Safety: m.GetSafety()}
		var fields []string
		for name, set := range map[string]bool{"min": m.Min != nil, "max": m.Max != nil, "safety": m.Safety != nil} {
			if set {
				fields = append(fields, name)
			}
		}
		return pb(limitPB)(s.App.SetLimit(ctx, c, l, fields))
	})
}

// GetLimit implements WarehouseService.GetLimit.
func (s *WarehouseService) GetLimit(ctx context.Context, req *connect.Request[whv1.GetLimitRequest]) (*connect.Response[whv1.Limit], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.GetLimitRequest) (*whv1.Limit, error) {
		return pb(limitPB)(s.App.Limit(ctx, c, m.GetWarehouse(), m.GetProduct()))
	})
}

// ListAlerts implements WarehouseService.ListAlerts.
func (s *WarehouseService) ListAlerts(ctx context.Context, req *connect.Request[whv1.ListAlertsRequest]) (*connect.Response[whv1.ListAlertsResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ListAlertsRequest) (*whv1.ListAlertsResponse, error) {
		return pb(func(as []warehouse.Alert) *whv1.ListAlertsResponse {
			out := &whv1.ListAlertsResponse{}
			for _, a := range as {
				out.Alerts = append(out.Alerts, &whv1.Alert{Kind: a.Kind, Product: a.Product, Batch: a.Batch, Qty: a.Qty, Limit: a.Limit, ExpireTime: ts(a.Expires)})
			}
			return out
		})(s.App.Alerts(ctx, c, m.GetWarehouse()))
	})
}
