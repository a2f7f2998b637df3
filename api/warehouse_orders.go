package api

import (
	"context"

	"connectrpc.com/connect"

	"branchline/access"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
	"branchline/warehouse"
)

func reservationPB(r *warehouse.Reservation) *whv1.Reservation {
	return &whv1.Reservation{Id: r.ID, Warehouse: r.Warehouse, Product: r.Product, Qty: r.Qty, Ref: r.Ref, Note: r.Note,
		Status: r.Status, Escrow: r.Escrow, Node: r.Node, Notice: r.Notice, Lines: linesPB(r.Lines),
		Shipped: linesPB(r.Shipped), CreateTime: ts(r.Created)}
}

// reservation runs a stock.reserve command on reservation id and answers
// with it.
func (s *WarehouseService) reservation(ctx context.Context, id string, cmd func(views replication.Tx) (replication.Draft, error)) (*connect.Response[whv1.Reservation], error) {
	return change(ctx, s, access.StockReserve, single(cmd), warehouse.GetReservation, id, reservationPB)
}

// Reserve implements WarehouseService.Reserve.
func (s *WarehouseService) Reserve(ctx context.Context, req *connect.Request[whv1.ReserveRequest]) (*connect.Response[whv1.Reservation], error) {
	m := req.Msg
	spec := warehouse.ReserveSpec{Warehouse: m.GetWarehouse(), Product: m.GetProduct(), Qty: m.GetQty(), Ref: m.GetRef(), Note: m.GetNote()}
	id := s.newID()
	return s.reservation(ctx, id, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.Reserve(views, s.Node, id, spec, s.now())
	})
}

// Release implements WarehouseService.Release.
func (s *WarehouseService) Release(ctx context.Context, req *connect.Request[whv1.ReleaseRequest]) (*connect.Response[whv1.Reservation], error) {
	return s.reservation(ctx, req.Msg.GetId(), func(views replication.Tx) (replication.Draft, error) {
		return warehouse.Release(views, s.Node, req.Msg.GetId(), req.Msg.GetNote())
	})
}

// Ship implements WarehouseService.Ship.
func (s *WarehouseService) Ship(ctx context.Context, req *connect.Request[whv1.ShipRequest]) (*connect.Response[whv1.Reservation], error) {
	return s.reservation(ctx, req.Msg.GetId(), func(views replication.Tx) (replication.Draft, error) {
		return warehouse.Ship(views, s.Node, req.Msg.GetId(), s.now())
	})
}

// GetReservation implements WarehouseService.GetReservation.
func (s *WarehouseService) GetReservation(ctx context.Context, req *connect.Request[whv1.GetReservationRequest]) (*connect.Response[whv1.Reservation], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.Reservation, error) {
		return pb(reservationPB)(warehouse.GetReservation(views, req.Msg.GetId()))
	})
}

// ListReservations implements WarehouseService.ListReservations.
func (s *WarehouseService) ListReservations(ctx context.Context, req *connect.Request[whv1.ListReservationsRequest]) (*connect.Response[whv1.ListReservationsResponse], error) {
	m := req.Msg
	return readAs(ctx, s, func(views replication.Tx) (*whv1.ListReservationsResponse, error) {
		rs, next, err := paged(m.GetPageSize(), 50, func(n int) ([]*warehouse.Reservation, string, error) {
			return warehouse.ListReservations(views, m.GetWarehouse(), m.GetRef(), m.GetPageToken(), n)
		}, reservationPB)
		return &whv1.ListReservationsResponse{Reservations: rs, NextPageToken: next}, err
	})
}

func escrowPB(e *warehouse.Escrow) *whv1.Escrow {
	out := &whv1.Escrow{Warehouse: e.Warehouse, Product: e.Product, Released: e.Released, Reclaimed: e.Reclaimed, Pool: e.Pool,
		Backing: e.Backing, Free: e.Free}
	for _, sh := range e.Shares {
		out.Shares = append(out.Shares, &whv1.Share{Node: sh.Node, Balance: sh.Balance, HasTarget: sh.HasTarget, Target: sh.Target})
	}
	return out
}

// GetEscrow implements WarehouseService.GetEscrow.
func (s *WarehouseService) GetEscrow(ctx context.Context, req *connect.Request[whv1.GetEscrowRequest]) (*connect.Response[whv1.Escrow], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.Escrow, error) {
		return pb(escrowPB)(warehouse.GetEscrow(views, req.Msg.GetWarehouse(), req.Msg.GetProduct()))
	})
}

// ListEscrow implements WarehouseService.ListEscrow.
func (s *WarehouseService) ListEscrow(ctx context.Context, req *connect.Request[whv1.ListEscrowRequest]) (*connect.Response[whv1.ListEscrowResponse], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.ListEscrowResponse, error) {
		es, next, err := paged(req.Msg.GetPageSize(), 100, func(n int) ([]*warehouse.Escrow, string, error) {
			return warehouse.ListEscrow(views, req.Msg.GetWarehouse(), req.Msg.GetPageToken(), n)
		}, escrowPB)
		return &whv1.ListEscrowResponse{Escrows: es, NextPageToken: next}, err
	})
}

func purchaseOrderPB(po *warehouse.PurchaseOrder) *whv1.PurchaseOrder {
	out := &whv1.PurchaseOrder{Id: po.ID, Warehouse: po.Warehouse, Supplier: po.Supplier, Note: po.Note, Status: po.Status,
		CreateTime: ts(po.Created), CloseTime: ts(po.Closed)}
	for _, l := range po.Lines {
		out.Lines = append(out.Lines, &whv1.PurchaseOrderLine{Product: l.Product, Ordered: l.Ordered, Received: l.Received, Price: l.Price})
	}
	return out
}

// purchaseOrder runs a stock.admin command on purchase order id and
// answers with it.
func (s *WarehouseService) purchaseOrder(ctx context.Context, id string, cmd func(views replication.Tx) (replication.Draft, error)) (*connect.Response[whv1.PurchaseOrder], error) {
	return change(ctx, s, access.StockAdmin, single(cmd), warehouse.GetPurchaseOrder, id, purchaseOrderPB)
}

// CreatePurchaseOrder implements WarehouseService.CreatePurchaseOrder.
func (s *WarehouseService) CreatePurchaseOrder(ctx context.Context, req *connect.Request[whv1.CreatePurchaseOrderRequest]) (*connect.Response[whv1.PurchaseOrder], error) {
	m := req.Msg
	spec := warehouse.PurchaseSpec{Warehouse: m.GetWarehouse(), Supplier: m.GetSupplier(), Note: m.GetNote()}
	for _, l := range m.GetLines() {
		spec.Lines = append(spec.Lines, warehouse.POLine{Product: l.GetProduct(), Ordered: l.GetOrdered(), Price: l.GetPrice()})
	}
	id := s.newID()
	return s.purchaseOrder(ctx, id, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.CreatePurchaseOrder(views, id, spec, s.now())
	})
}

// ClosePurchaseOrder implements WarehouseService.ClosePurchaseOrder.
func (s *WarehouseService) ClosePurchaseOrder(ctx context.Context, req *connect.Request[whv1.ClosePurchaseOrderRequest]) (*connect.Response[whv1.PurchaseOrder], error) {
	return s.purchaseOrder(ctx, req.Msg.GetId(), func(views replication.Tx) (replication.Draft, error) {
		return warehouse.ClosePurchaseOrder(views, req.Msg.GetId(), req.Msg.GetNote(), s.now())
	})
}

// GetPurchaseOrder implements WarehouseService.GetPurchaseOrder.
func (s *WarehouseService) GetPurchaseOrder(ctx context.Context, req *connect.Request[whv1.GetPurchaseOrderRequest]) (*connect.Response[whv1.PurchaseOrder], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.PurchaseOrder, error) {
		return pb(purchaseOrderPB)(warehouse.GetPurchaseOrder(views, req.Msg.GetId()))
	})
}

// ListPurchaseOrders implements WarehouseService.ListPurchaseOrders.
func (s *WarehouseService) ListPurchaseOrders(ctx context.Context, req *connect.Request[whv1.ListPurchaseOrdersRequest]) (*connect.Response[whv1.ListPurchaseOrdersResponse], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.ListPurchaseOrdersResponse, error) {
		pos, next, err := paged(req.Msg.GetPageSize(), 50, func(n int) ([]*warehouse.PurchaseOrder, string, error) {
			return warehouse.ListPurchaseOrders(views, req.Msg.GetWarehouse(), req.Msg.GetPageToken(), n)
		}, purchaseOrderPB)
		return &whv1.ListPurchaseOrdersResponse{PurchaseOrders: pos, NextPageToken: next}, err
	})
}

func noticePB(n *warehouse.Notice) *whv1.Notice {
	return &whv1.Notice{Id: n.ID, Warehouse: n.Warehouse, Ref: n.Ref, Reservations: n.Reservations, Note: n.Note, Status: n.Status,
		Node: n.Node, CreateTime: ts(n.Created), ConfirmTime: ts(n.Confirmed)}
}

// notice runs a stock.reserve command making the events of notice id and
// answers with it.
func (s *WarehouseService) notice(ctx context.Context, id string, cmd replication.Command) (*connect.Response[whv1.Notice], error) {
	return change(ctx, s, access.StockReserve, cmd, warehouse.GetNotice, id, noticePB)
}

// CreateNotice implements WarehouseService.CreateNotice.
func (s *WarehouseService) CreateNotice(ctx context.Context, req *connect.Request[whv1.CreateNoticeRequest]) (*connect.Response[whv1.Notice], error) {
	m := req.Msg
	spec := warehouse.NoticeSpec{Warehouse: m.GetWarehouse(), Ref: m.GetRef(), Reservations: m.GetReservations(), Note: m.GetNote()}
	id := s.newID()
	return s.notice(ctx, id, func(views replication.Tx) ([]replication.Draft, error) {
		return one(warehouse.CreateNotice(views, s.Node, id, spec, s.now()))
	})
}

// ConfirmNotice implements WarehouseService.ConfirmNotice.
func (s *WarehouseService) ConfirmNotice(ctx context.Context, req *connect.Request[whv1.ConfirmNoticeRequest]) (*connect.Response[whv1.Notice], error) {
	return s.notice(ctx, req.Msg.GetId(), func(views replication.Tx) ([]replication.Draft, error) {
		return warehouse.ConfirmNotice(views, s.Node, req.Msg.GetId(), s.now())
	})
}

// GetNotice implements WarehouseService.GetNotice.
func (s *WarehouseService) GetNotice(ctx context.Context, req *connect.Request[whv1.GetNoticeRequest]) (*connect.Response[whv1.Notice], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.Notice, error) {
		return pb(noticePB)(warehouse.GetNotice(views, req.Msg.GetId()))
	})
}

// ListNotices implements WarehouseService.ListNotices.
func (s *WarehouseService) ListNotices(ctx context.Context, req *connect.Request[whv1.ListNoticesRequest]) (*connect.Response[whv1.ListNoticesResponse], error) {
	return readAs(ctx, s, func(views replication.Tx) (*whv1.ListNoticesResponse, error) {
		ns, next, err := paged(req.Msg.GetPageSize(), 50, func(n int) ([]*warehouse.Notice, string, error) {
			return warehouse.ListNotices(views, req.Msg.GetWarehouse(), req.Msg.GetPageToken(), n)
		}, noticePB)
		return &whv1.ListNoticesResponse{Notices: ns, NextPageToken: next}, err
	})
}
