package api

import (
	"context"

	"connectrpc.com/connect"

	"branchline/app"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/warehouse"
)

func reservationPB(r *warehouse.Reservation) *whv1.Reservation {
	return &whv1.Reservation{Id: r.ID, Warehouse: r.Warehouse, Product: r.Product, Qty: r.Qty, Ref: r.Ref, Note: r.Note,
		Status: r.Status, Escrow: r.Escrow, Node: r.Node, Notice: r.Notice, Lines: linesPB(r.Lines),
		Shipped: linesPB(r.Shipped), CreateTime: ts(r.Created)}
}

func escrowPB(e *warehouse.Escrow) *whv1.Escrow {
	out := &whv1.Escrow{Warehouse: e.Warehouse, Product: e.Product, Released: e.Released, Reclaimed: e.Reclaimed, Pool: e.Pool,
		Backing: e.Backing, Free: e.Free, Held: e.Held}
	for _, sh := range e.Shares {
		out.Shares = append(out.Shares, &whv1.Share{Node: sh.Node, Balance: sh.Balance, HasTarget: sh.HasTarget, Target: sh.Target})
	}
	return out
}

func purchaseOrderPB(po *warehouse.PurchaseOrder) *whv1.PurchaseOrder {
	out := &whv1.PurchaseOrder{Id: po.ID, Warehouse: po.Warehouse, Supplier: po.Supplier, Note: po.Note, Status: po.Status,
		CreateTime: ts(po.Created), CloseTime: ts(po.Closed)}
	for _, l := range po.Lines {
		out.Lines = append(out.Lines, &whv1.PurchaseOrderLine{Product: l.Product, Ordered: l.Ordered, Received: l.Received, Price: l.Price})
	}
	return out
}

func noticePB(n *warehouse.Notice) *whv1.Notice {
	return &whv1.Notice{Id: n.ID, Warehouse: n.Warehouse, Ref: n.Ref, Reservations: n.Reservations, Note: n.Note, Status: n.Status,
		Node: n.Node, CreateTime: ts(n.Created), ConfirmTime: ts(n.Confirmed)}
}

// Reserve implements WarehouseService.Reserve.
func (s *WarehouseService) Reserve(ctx context.Context, req *connect.Request[whv1.ReserveRequest]) (*connect.Response[whv1.Reservation], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ReserveRequest) (*whv1.Reservation, error) {
		return pb(reservationPB)(s.App.Reserve(ctx, c, warehouse.ReserveSpec{Warehouse: m.GetWarehouse(), Product: m.GetProduct(),
			Qty: m.GetQty(), Ref: m.GetRef(), Note: m.GetNote()}))
	})
}

// Release implements WarehouseService.Release.
func (s *WarehouseService) Release(ctx context.Context, req *connect.Request[whv1.ReleaseRequest]) (*connect.Response[whv1.Reservation], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ReleaseRequest) (*whv1.Reservation, error) {
		return pb(reservationPB)(s.App.Release(ctx, c, m.GetId(), m.GetNote()))
	})
}

// Ship implements WarehouseService.Ship.
func (s *WarehouseService) Ship(ctx context.Context, req *connect.Request[whv1.ShipRequest]) (*connect.Response[whv1.Reservation], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ShipRequest) (*whv1.Reservation, error) {
		return pb(reservationPB)(s.App.Ship(ctx, c, m.GetId()))
	})
}

// GetReservation implements WarehouseService.GetReservation.
func (s *WarehouseService) GetReservation(ctx context.Context, req *connect.Request[whv1.GetReservationRequest]) (*connect.Response[whv1.Reservation], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.GetReservationRequest) (*whv1.Reservation, error) {
		return pb(reservationPB)(s.App.Reservation(ctx, c, m.GetId()))
	})
}

// ListReservations implements WarehouseService.ListReservations.
func (s *WarehouseService) ListReservations(ctx context.Context, req *connect.Request[whv1.ListReservationsRequest]) (*connect.Response[whv1.ListReservationsResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ListReservationsRequest) (*whv1.ListReservationsResponse, error) {
		return pb(func(p app.Page[*warehouse.Reservation]) *whv1.ListReservationsResponse {
			return &whv1.ListReservationsResponse{Reservations: each(p.Items, reservationPB), NextPageToken: p.Next}
		})(s.App.Reservations(ctx, c, m.GetWarehouse(), m.GetRef(), int(m.GetPageSize()), m.GetPageToken()))
	})
}

// GetEscrow implements WarehouseService.GetEscrow.
func (s *WarehouseService) GetEscrow(ctx context.Context, req *connect.Request[whv1.GetEscrowRequest]) (*connect.Response[whv1.Escrow], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.GetEscrowRequest) (*whv1.Escrow, error) {
		return pb(escrowPB)(s.App.Escrow(ctx, c, m.GetWarehouse(), m.GetProduct()))
	})
}

// ListEscrow implements WarehouseService.ListEscrow.
func (s *WarehouseService) ListEscrow(ctx context.Context, req *connect.Request[whv1.ListEscrowRequest]) (*connect.Response[whv1.ListEscrowResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ListEscrowRequest) (*whv1.ListEscrowResponse, error) {
		return pb(func(p app.Page[*warehouse.Escrow]) *whv1.ListEscrowResponse {
			return &whv1.ListEscrowResponse{Escrows: each(p.Items, escrowPB), NextPageToken: p.Next}
		})(s.App.Escrows(ctx, c, m.GetWarehouse(), int(m.GetPageSize()), m.GetPageToken()))
	})
}

// CreatePurchaseOrder implements WarehouseService.CreatePurchaseOrder.
func (s *WarehouseService) CreatePurchaseOrder(ctx context.Context, req *connect.Request[whv1.CreatePurchaseOrderRequest]) (*connect.Response[whv1.PurchaseOrder], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.CreatePurchaseOrderRequest) (*whv1.PurchaseOrder, error) {
		spec := warehouse.PurchaseSpec{Warehouse: m.GetWarehouse(), Supplier: m.GetSupplier(), Note: m.GetNote()}
		for _, l := range m.GetLines() {
			spec.Lines = append(spec.Lines, warehouse.POLine{Product: l.GetProduct(), Ordered: l.GetOrdered(), Price: l.GetPrice()})
		}
		return pb(purchaseOrderPB)(s.App.CreatePurchaseOrder(ctx, c, spec))
	})
}

// ClosePurchaseOrder implements WarehouseService.ClosePurchaseOrder.
func (s *WarehouseService) ClosePurchaseOrder(ctx context.Context, req *connect.Request[whv1.ClosePurchaseOrderRequest]) (*connect.Response[whv1.PurchaseOrder], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ClosePurchaseOrderRequest) (*whv1.PurchaseOrder, error) {
		return pb(purchaseOrderPB)(s.App.ClosePurchaseOrder(ctx, c, m.GetId(), m.GetNote()))
	})
}

// GetPurchaseOrder implements WarehouseService.GetPurchaseOrder.
func (s *WarehouseService) GetPurchaseOrder(ctx context.Context, req *connect.Request[whv1.GetPurchaseOrderRequest]) (*connect.Response[whv1.PurchaseOrder], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.GetPurchaseOrderRequest) (*whv1.PurchaseOrder, error) {
		return pb(purchaseOrderPB)(s.App.PurchaseOrder(ctx, c, m.GetId()))
	})
}

// ListPurchaseOrders implements WarehouseService.ListPurchaseOrders.
func (s *WarehouseService) ListPurchaseOrders(ctx context.Context, req *connect.Request[whv1.ListPurchaseOrdersRequest]) (*connect.Response[whv1.ListPurchaseOrdersResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ListPurchaseOrdersRequest) (*whv1.ListPurchaseOrdersResponse, error) {
		return pb(func(p app.Page[*warehouse.PurchaseOrder]) *whv1.ListPurchaseOrdersResponse {
			return &whv1.ListPurchaseOrdersResponse{PurchaseOrders: each(p.Items, purchaseOrderPB), NextPageToken: p.Next}
		})(s.App.PurchaseOrders(ctx, c, m.GetWarehouse(), int(m.GetPageSize()), m.GetPageToken()))
	})
}

// CreateNotice implements WarehouseService.CreateNotice.
func (s *WarehouseService) CreateNotice(ctx context.Context, req *connect.Request[whv1.CreateNoticeRequest]) (*connect.Response[whv1.Notice], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.CreateNoticeRequest) (*whv1.Notice, error) {
		return pb(noticePB)(s.App.CreateNotice(ctx, c, warehouse.NoticeSpec{Warehouse: m.GetWarehouse(), Ref: m.GetRef(),
			Reservations: m.GetReservations(), Note: m.GetNote()}))
	})
}

// ConfirmNotice implements WarehouseService.ConfirmNotice.
func (s *WarehouseService) ConfirmNotice(ctx context.Context, req *connect.Request[whv1.ConfirmNoticeRequest]) (*connect.Response[whv1.Notice], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ConfirmNoticeRequest) (*whv1.Notice, error) {
		return pb(noticePB)(s.App.ConfirmNotice(ctx, c, m.GetId()))
	})
}

// GetNotice implements WarehouseService.GetNotice.
func (s *WarehouseService) GetNotice(ctx context.Context, req *connect.Request[whv1.GetNoticeRequest]) (*connect.Response[whv1.Notice], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.GetNoticeRequest) (*whv1.Notice, error) {
		return pb(noticePB)(s.App.Notice(ctx, c, m.GetId()))
	})
}

// ListNotices implements WarehouseService.ListNotices.
func (s *WarehouseService) ListNotices(ctx context.Context, req *connect.Request[whv1.ListNoticesRequest]) (*connect.Response[whv1.ListNoticesResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *whv1.ListNoticesRequest) (*whv1.ListNoticesResponse, error) {
		return pb(func(p app.Page[*warehouse.Notice]) *whv1.ListNoticesResponse {
			return &whv1.ListNoticesResponse{Notices: each(p.Items, noticePB), NextPageToken: p.Next}
		})(s.App.Notices(ctx, c, m.GetWarehouse(), int(m.GetPageSize()), m.GetPageToken()))
	})
}
