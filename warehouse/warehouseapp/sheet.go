package warehouseapp

import (
	"context"

	"branchline/access"
	"branchline/app"
	"branchline/replication"
	"branchline/warehouse"
)

// Stocktakes, transfers, reservations, the escrow, purchase orders and
// shipping notices.

// sheet runs a stock.move command on stocktake id and answers with it.
func (s *Stock) sheet(ctx context.Context, c app.Caller, id string, cmd func(views replication.Tx) (replication.Draft, error)) (*warehouse.Stocktake, error) {
	return change(ctx, s, c, access.StockMove, cmd, warehouse.GetStocktake, id)
}

// OpenStocktake opens a count sheet at this node.
func (s *Stock) OpenStocktake(ctx context.Context, c app.Caller, spec warehouse.StocktakeSpec) (*warehouse.Stocktake, error) {
	id := s.newID()
	return s.sheet(ctx, c, id, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.OpenStocktake(views, s.Node, id, spec, s.Now.Time())
	})
}

// RecordCount records counts on an open sheet.
func (s *Stock) RecordCount(ctx context.Context, c app.Caller, id string, counts []warehouse.Count) (*warehouse.Stocktake, error) {
	return s.sheet(ctx, c, id, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.RecordCount(views, s.Node, id, counts)
	})
}

// PostStocktake posts a sheet: the differences become stock moves.
func (s *Stock) PostStocktake(ctx context.Context, c app.Caller, id string) (*warehouse.Stocktake, error) {
	return s.sheet(ctx, c, id, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.PostStocktake(views, s.Node, id, s.Now.Time())
	})
}

// CancelStocktake cancels an open sheet.
func (s *Stock) CancelStocktake(ctx context.Context, c app.Caller, id, note string) (*warehouse.Stocktake, error) {
	return s.sheet(ctx, c, id, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.CancelStocktake(views, s.Node, id, note)
	})
}

// Stocktake reads a sheet.
func (s *Stock) Stocktake(_ context.Context, c app.Caller, id string) (*warehouse.Stocktake, error) {
	return read(s, c, func(views replication.Tx) (*warehouse.Stocktake, error) { return warehouse.GetStocktake(views, id) })
}

// Stocktakes lists a warehouse's sheets, a page at a time.
func (s *Stock) Stocktakes(_ context.Context, c app.Caller, wh string, size int, after string) (app.Page[*warehouse.Stocktake], error) {
	return read(s, c, func(views replication.Tx) (app.Page[*warehouse.Stocktake], error) {
		return paged(size, 50, func(n int) ([]*warehouse.Stocktake, string, error) {
			return warehouse.ListStocktakes(views, wh, after, n)
		})
	})
}

// transfer runs a stock.move command on transfer id and answers with it.
func (s *Stock) transfer(ctx context.Context, c app.Caller, id string, cmd func(views replication.Tx) (replication.Draft, error)) (*warehouse.Transfer, error) {
	return change(ctx, s, c, access.StockMove, cmd, warehouse.GetTransfer, id)
}

// ShipTransfer ships goods from a warehouse of this node to another.
func (s *Stock) ShipTransfer(ctx context.Context, c app.Caller, spec warehouse.TransferSpec) (*warehouse.Transfer, error) {
	id := s.newID()
	return s.transfer(ctx, c, id, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.ShipTransfer(views, s.Node, id, spec, s.Now.Time())
	})
}

// ReceiveTransfer receives a transfer into a warehouse of this node.
func (s *Stock) ReceiveTransfer(ctx context.Context, c app.Caller, id string, r warehouse.TransferReceipt) (*warehouse.Transfer, error) {
	return s.transfer(ctx, c, id, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.ReceiveTransfer(views, s.Node, id, r, s.Now.Time())
	})
}

// Transfer reads a transfer.
func (s *Stock) Transfer(_ context.Context, c app.Caller, id string) (*warehouse.Transfer, error) {
	return read(s, c, func(views replication.Tx) (*warehouse.Transfer, error) { return warehouse.GetTransfer(views, id) })
}

// Transfers lists the transfers of a warehouse, a page at a time.
func (s *Stock) Transfers(_ context.Context, c app.Caller, wh string, size int, after string) (app.Page[*warehouse.Transfer], error) {
	return read(s, c, func(views replication.Tx) (app.Page[*warehouse.Transfer], error) {
		return paged(size, 50, func(n int) ([]*warehouse.Transfer, string, error) {
			return warehouse.ListTransfers(views, wh, after, n)
		})
	})
}

// reservation runs a stock.reserve command on reservation id and answers
// with it.
func (s *Stock) reservation(ctx context.Context, c app.Caller, id string, cmd func(views replication.Tx) (replication.Draft, error)) (*warehouse.Reservation, error) {
	return change(ctx, s, c, access.StockReserve, cmd, warehouse.GetReservation, id)
}

// Reserve reserves goods against this node's escrow share.
func (s *Stock) Reserve(ctx context.Context, c app.Caller, spec warehouse.ReserveSpec) (*warehouse.Reservation, error) {
	id := s.newID()
	return s.reservation(ctx, c, id, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.Reserve(views, s.Node, id, spec, s.Now.Time())
	})
}

// Release releases a reservation.
func (s *Stock) Release(ctx context.Context, c app.Caller, id, note string) (*warehouse.Reservation, error) {
	return s.reservation(ctx, c, id, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.Release(views, s.Node, id, note)
	})
}

// Ship ships a reservation.
func (s *Stock) Ship(ctx context.Context, c app.Caller, id string) (*warehouse.Reservation, error) {
	return s.reservation(ctx, c, id, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.Ship(views, s.Node, id, s.Now.Time())
	})
}

// Reservation reads a reservation.
func (s *Stock) Reservation(_ context.Context, c app.Caller, id string) (*warehouse.Reservation, error) {
	return read(s, c, func(views replication.Tx) (*warehouse.Reservation, error) { return warehouse.GetReservation(views, id) })
}

// Reservations lists the reservations of a warehouse (and ref), a page at
// a time.
func (s *Stock) Reservations(_ context.Context, c app.Caller, wh, ref string, size int, after string) (app.Page[*warehouse.Reservation], error) {
	return read(s, c, func(views replication.Tx) (app.Page[*warehouse.Reservation], error) {
		return paged(size, 50, func(n int) ([]*warehouse.Reservation, string, error) {
			return warehouse.ListReservations(views, wh, ref, after, n)
		})
	})
}

// Escrow reads a product's escrow in a warehouse.
// Backing and Free are shown only at the warehouse's owner: a seller
// holds the escrow but not the owner's stock moves (scopes).
func (s *Stock) Escrow(_ context.Context, c app.Caller, wh, product string) (*warehouse.Escrow, error) {
	return read(s, c, func(views replication.Tx) (*warehouse.Escrow, error) {
		e, err := warehouse.GetEscrow(views, wh, product)
		if err != nil {
			return nil, err
		}
		held, err := s.holds(views, wh)
		if err == nil && !held {
			e.Unheld()
		}
		e.Held = held
		return e, err
	})
}

// Escrows lists a warehouse's escrow, a page of products at a time.
func (s *Stock) Escrows(_ context.Context, c app.Caller, wh string, size int, after string) (app.Page[*warehouse.Escrow], error) {
	return read(s, c, func(views replication.Tx) (app.Page[*warehouse.Escrow], error) {
		held, err := s.holds(views, wh)
		if err != nil {
			return app.Page[*warehouse.Escrow]{}, err
		}
		return paged(size, 100, func(n int) ([]*warehouse.Escrow, string, error) {
			es, next, err := warehouse.ListEscrow(views, wh, after, n)
			for _, e := range es {
				if !held {
					e.Unheld()
				}
				e.Held = held
			}
			return es, next, err
		})
	})
}

// holds reports whether this node holds warehouse wh's stock moves: it
// owns it.
func (s *Stock) holds(views replication.Tx, wh string) (bool, error) {
	w, err := warehouse.GetWarehouse(views, wh)
	if err != nil {
		return false, err
	}
	return w.Owner == s.Node, nil
}

// purchaseOrder runs a stock.admin command on purchase order id and
// answers with it.
func (s *Stock) purchaseOrder(ctx context.Context, c app.Caller, id string, cmd func(views replication.Tx) (replication.Draft, error)) (*warehouse.PurchaseOrder, error) {
	return change(ctx, s, c, access.StockAdmin, cmd, warehouse.GetPurchaseOrder, id)
}

// CreatePurchaseOrder opens a purchase order.
func (s *Stock) CreatePurchaseOrder(ctx context.Context, c app.Caller, spec warehouse.PurchaseSpec) (*warehouse.PurchaseOrder, error) {
	id := s.newID()
	return s.purchaseOrder(ctx, c, id, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.CreatePurchaseOrder(views, id, spec, s.Now.Time())
	})
}

// ClosePurchaseOrder closes a purchase order.
func (s *Stock) ClosePurchaseOrder(ctx context.Context, c app.Caller, id, note string) (*warehouse.PurchaseOrder, error) {
	return s.purchaseOrder(ctx, c, id, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.ClosePurchaseOrder(views, id, note, s.Now.Time())
	})
}

// PurchaseOrder reads a purchase order.
func (s *Stock) PurchaseOrder(_ context.Context, c app.Caller, id string) (*warehouse.PurchaseOrder, error) {
	return read(s, c, func(views replication.Tx) (*warehouse.PurchaseOrder, error) {
		return warehouse.GetPurchaseOrder(views, id)
	})
}

// PurchaseOrders lists a warehouse's purchase orders, a page at a time.
func (s *Stock) PurchaseOrders(_ context.Context, c app.Caller, wh string, size int, after string) (app.Page[*warehouse.PurchaseOrder], error) {
	return read(s, c, func(views replication.Tx) (app.Page[*warehouse.PurchaseOrder], error) {
		return paged(size, 50, func(n int) ([]*warehouse.PurchaseOrder, string, error) {
			return warehouse.ListPurchaseOrders(views, wh, after, n)
		})
	})
}

// CreateNotice creates a shipping notice for reservations.
func (s *Stock) CreateNotice(ctx context.Context, c app.Caller, spec warehouse.NoticeSpec) (*warehouse.Notice, error) {
	id := s.newID()
	return change(ctx, s, c, access.StockReserve, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.CreateNotice(views, s.Node, id, spec, s.Now.Time())
	}, warehouse.GetNotice, id)
}

// ConfirmNotice confirms a shipping notice: its reservations ship.
func (s *Stock) ConfirmNotice(ctx context.Context, c app.Caller, id string) (*warehouse.Notice, error) {
	return changeAll(ctx, s, c, access.StockReserve, func(views replication.Tx) ([]replication.Draft, error) {
		return warehouse.ConfirmNotice(views, s.Node, id, s.Now.Time())
	}, warehouse.GetNotice, id)
}

// Notice reads a shipping notice.
func (s *Stock) Notice(_ context.Context, c app.Caller, id string) (*warehouse.Notice, error) {
	return read(s, c, func(views replication.Tx) (*warehouse.Notice, error) { return warehouse.GetNotice(views, id) })
}

// Notices lists a warehouse's shipping notices, a page at a time.
func (s *Stock) Notices(_ context.Context, c app.Caller, wh string, size int, after string) (app.Page[*warehouse.Notice], error) {
	return read(s, c, func(views replication.Tx) (app.Page[*warehouse.Notice], error) {
		return paged(size, 50, func(n int) ([]*warehouse.Notice, string, error) { return warehouse.ListNotices(views, wh, after, n) })
	})
}
