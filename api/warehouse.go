package api

import (
	"context"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access"
	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/gen/branchline/warehouse/v1/warehousev1connect"
	"branchline/replication"
	"branchline/warehouse"
)

// WarehouseService implements branchline.warehouse.v1.WarehouseService on
// a node. Commands run as Node: physical moves, stocktakes and transfer
// ends of a warehouse are accepted only at its owner node, reservations
// against this node's escrow share. Reads need stock.read; products,
// warehouses, bins, limits, sellers and purchase orders stock.admin;
// physical moves stock.move; reservations, shipping and notices
// stock.reserve.
type WarehouseService struct {
	Store  Store
	Grants Grants
	IDs    *replication.IDs
	// Node is this node's id, the origin of the events it records.
	Node string
	Log  *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

var _ warehousev1connect.WarehouseServiceHandler = (*WarehouseService)(nil)

func (s *WarehouseService) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// newID makes the id of a new move, sheet, transfer, reservation, order
// or notice.
func (s *WarehouseService) newID() string { return s.IDs.New(s.now()) }

// allow checks that the caller holds perm.
func (s *WarehouseService) allow(ctx context.Context, perm access.Perm) error {
	_, err := Require(ctx, s.Grants, perm)
	return err
}

// do runs cmd for a caller holding perm.
func (s *WarehouseService) do(ctx context.Context, perm access.Perm, cmd replication.Command) error {
	if err := s.allow(ctx, perm); err != nil {
		return err
	}
	if _, err := s.Store.Exec(ctx, actor(ctx), cmd); err != nil {
		return Error(s.Log, err)
	}
	return nil
}

// viewAs answers with what fn reads from the views.
func viewAs[T any](s *WarehouseService, fn func(views replication.Tx) (*T, error)) (*connect.Response[T], error) {
	var out *T
	if err := s.Store.View(func(views replication.Tx) error {
		var err error
		out, err = fn(views)
		return err
	}); err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(out), nil
}

// readAs is viewAs for a caller holding stock.read.
func readAs[T any](ctx context.Context, s *WarehouseService, fn func(views replication.Tx) (*T, error)) (*connect.Response[T], error) {
	if err := s.allow(ctx, access.StockRead); err != nil {
		return nil, err
	}
	return viewAs(s, fn)
}

func timeOf(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

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
	p := productIn(req.Msg.GetProduct())
	return change(ctx, s, access.StockAdmin, single(func(views replication.Tx) (replication.Draft, error) {
		return warehouse.SetProduct(views, p, req.Msg.GetFields())
	}), warehouse.GetProduct, p.ID, productPB)
}

// GetProduct implements WarehouseService.GetProduct.
func (s *WarehouseService) GetProduct(ctx context.Context, req *connect.Request[whv1.GetProductRequest]) (*connect.Response[whv1.Product], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.Product, error) {
		return pb(productPB)(warehouse.GetProduct(views, req.Msg.GetId()))
	})
}

// ListProducts implements WarehouseService.ListProducts.
func (s *WarehouseService) ListProducts(ctx context.Context, req *connect.Request[whv1.ListProductsRequest]) (*connect.Response[whv1.ListProductsResponse], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.ListProductsResponse, error) {
		ps, next, err := paged(req.Msg.GetPageSize(), 100, func(n int) ([]*warehouse.Product, string, error) {
			return warehouse.ListProducts(views, req.Msg.GetPageToken(), n)
		}, productPB)
		return &whv1.ListProductsResponse{Products: ps, NextPageToken: next}, err
	})
}

// LookupBarcode implements WarehouseService.LookupBarcode.
func (s *WarehouseService) LookupBarcode(ctx context.Context, req *connect.Request[whv1.LookupBarcodeRequest]) (*connect.Response[whv1.Product], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.Product, error) {
		return pb(productPB)(warehouse.LookupBarcode(views, req.Msg.GetBarcode()))
	})
}

func warehousePB(w *warehouse.Warehouse) *whv1.Warehouse {
	out := &whv1.Warehouse{Id: w.ID, Name: w.Name, Owner: w.Owner, Address: w.Address, ExpiryWarnDays: int32(w.ExpiryWarnDays), Sellers: w.Sellers}
	for _, b := range w.Bins {
		out.Bins = append(out.Bins, &whv1.Bin{Id: b.ID, Name: b.Name, Kind: b.Kind})
	}
	return out
}

// changeWarehouse runs a stock.admin command on warehouse id and answers
// with the warehouse.
func (s *WarehouseService) changeWarehouse(ctx context.Context, id string, cmd func(views replication.Tx) (replication.Draft, error)) (*connect.Response[whv1.Warehouse], error) {
	return change(ctx, s, access.StockAdmin, single(cmd), warehouse.GetWarehouse, id, warehousePB)
}

// SetWarehouse implements WarehouseService.SetWarehouse.
func (s *WarehouseService) SetWarehouse(ctx context.Context, req *connect.Request[whv1.SetWarehouseRequest]) (*connect.Response[whv1.Warehouse], error) {
	in := req.Msg.GetWarehouse()
	w := warehouse.Warehouse{ID: in.GetId(), Name: in.GetName(), Owner: in.GetOwner(), Address: in.GetAddress(), ExpiryWarnDays: int64(in.GetExpiryWarnDays())}
	return s.changeWarehouse(ctx, w.ID, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.SetWarehouse(views, w, req.Msg.GetFields())
	})
}

// GetWarehouse implements WarehouseService.GetWarehouse.
func (s *WarehouseService) GetWarehouse(ctx context.Context, req *connect.Request[whv1.GetWarehouseRequest]) (*connect.Response[whv1.Warehouse], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.Warehouse, error) {
		return pb(warehousePB)(warehouse.GetWarehouse(views, req.Msg.GetId()))
	})
}

// ListWarehouses implements WarehouseService.ListWarehouses.
func (s *WarehouseService) ListWarehouses(ctx context.Context, _ *connect.Request[whv1.ListWarehousesRequest]) (*connect.Response[whv1.ListWarehousesResponse], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.ListWarehousesResponse, error) {
		ws, err := warehouse.ListWarehouses(views)
		out := &whv1.ListWarehousesResponse{}
		for _, w := range ws {
			out.Warehouses = append(out.Warehouses, warehousePB(w))
		}
		return out, err
	})
}

// SetBin implements WarehouseService.SetBin.
func (s *WarehouseService) SetBin(ctx context.Context, req *connect.Request[whv1.SetBinRequest]) (*connect.Response[whv1.Warehouse], error) {
	b := req.Msg.GetBin()
	return s.changeWarehouse(ctx, req.Msg.GetWarehouse(), func(views replication.Tx) (replication.Draft, error) {
		return warehouse.SetBin(views, req.Msg.GetWarehouse(), warehouse.Bin{ID: b.GetId(), Name: b.GetName(), Kind: b.GetKind()})
	})
}

// AddSeller implements WarehouseService.AddSeller.
func (s *WarehouseService) AddSeller(ctx context.Context, req *connect.Request[whv1.AddSellerRequest]) (*connect.Response[whv1.Warehouse], error) {
	return s.changeWarehouse(ctx, req.Msg.GetWarehouse(), func(views replication.Tx) (replication.Draft, error) {
		return warehouse.AddSeller(views, req.Msg.GetWarehouse(), req.Msg.GetNode())
	})
}

// RemoveSeller implements WarehouseService.RemoveSeller.
func (s *WarehouseService) RemoveSeller(ctx context.Context, req *connect.Request[whv1.RemoveSellerRequest]) (*connect.Response[whv1.Warehouse], error) {
	return s.changeWarehouse(ctx, req.Msg.GetWarehouse(), func(views replication.Tx) (replication.Draft, error) {
		return warehouse.RemoveSeller(views, req.Msg.GetWarehouse(), req.Msg.GetNode())
	})
}

// SetLimit implements WarehouseService.SetLimit.
func (s *WarehouseService) SetLimit(ctx context.Context, req *connect.Request[whv1.SetLimitRequest]) (*connect.Response[whv1.Limit], error) {
	m := req.Msg
	l := warehouse.Limit{Warehouse: m.GetWarehouse(), Product: m.GetProduct(), Min: m.GetMin(), Max: m.GetMax(), Safety: m.GetSafety()}
	var fields []string
	for name, set := range map[string]bool{"min": m.Min != nil, "max": m.Max != nil, "safety": m.Safety != nil} {
		if set {
			fields = append(fields, name)
		}
	}
	if len(fields) == 0 {
		fields = warehouse.LimitFields
	}
	if err := s.do(ctx, access.StockAdmin, func(views replication.Tx) ([]replication.Draft, error) {
		return one(warehouse.SetLimit(views, l, fields))
	}); err != nil {
		return nil, err
	}
	return viewAs(s, func(views replication.Tx) (*whv1.Limit, error) { return limitPB(views, l.Warehouse, l.Product) })
}

// GetLimit implements WarehouseService.GetLimit.
func (s *WarehouseService) GetLimit(ctx context.Context, req *connect.Request[whv1.GetLimitRequest]) (*connect.Response[whv1.Limit], error) {
	wh, product := req.Msg.GetWarehouse(), req.Msg.GetProduct()
	return readAs(ctx, s, func(views replication.Tx) (*whv1.Limit, error) {
		if !warehouse.ValidCode(wh) || !warehouse.ValidCode(product) {
			return nil, fault.Invalidf("product", "bad_code", "warehouse %q, product %q: not codes", wh, product)
		}
		return limitPB(views, wh, product)
	})
}

func limitPB(views replication.Tx, wh, product string) (*whv1.Limit, error) {
	got, err := warehouse.GetLimit(views, wh, product)
	if err != nil {
		return nil, err
	}
	return &whv1.Limit{Warehouse: got.Warehouse, Product: got.Product, Min: got.Min, Max: got.Max, Safety: got.Safety}, nil
}

// ListAlerts implements WarehouseService.ListAlerts.
func (s *WarehouseService) ListAlerts(ctx context.Context, req *connect.Request[whv1.ListAlertsRequest]) (*connect.Response[whv1.ListAlertsResponse], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.ListAlertsResponse, error) {
		as, err := warehouse.Alerts(views, req.Msg.GetWarehouse(), s.now())
		if err != nil {
			return nil, err
		}
		out := &whv1.ListAlertsResponse{}
		for _, a := range as {
			out.Alerts = append(out.Alerts, &whv1.Alert{Kind: a.Kind, Product: a.Product, Batch: a.Batch, Qty: a.Qty, Limit: a.Limit, ExpireTime: ts(a.Expires)})
		}
		return out, nil
	})
}

// change runs cmd for a caller holding perm and answers with what get
// then reads of id, converted.
func change[T, P any](ctx context.Context, s *WarehouseService, perm access.Perm, cmd replication.Command,
	get func(replication.Tx, string) (T, error), id string, conv func(T) *P) (*connect.Response[P], error) {
	if err := s.do(ctx, perm, cmd); err != nil {
		return nil, err
	}
	return viewAs(s, func(views replication.Tx) (*P, error) { return pb(conv)(get(views, id)) })
}

// single makes a command of a decision of one event.
func single(cmd func(views replication.Tx) (replication.Draft, error)) replication.Command {
	return func(views replication.Tx) ([]replication.Draft, error) { return one(cmd(views)) }
}

// pb lifts a conversion to a proto message over a domain read's error.
func pb[T, P any](conv func(T) P) func(T, error) (P, error) {
	return func(x T, err error) (P, error) {
		if err != nil {
			var zero P
			return zero, err
		}
		return conv(x), nil
	}
}

// paged reads one page of a list, of the size the client asked for (def
// when 0), and converts each item.
func paged[T, P any](size int32, def int, list func(limit int) ([]T, string, error), conv func(T) P) ([]P, string, error) {
	n, err := pageSize(size, def)
	if err != nil {
		return nil, "", err
	}
	items, next, err := list(n)
	if err != nil {
		return nil, "", err
	}
	out := make([]P, len(items))
	for i, x := range items {
		out[i] = conv(x)
	}
	return out, next, nil
}
