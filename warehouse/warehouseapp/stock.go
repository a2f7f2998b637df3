package warehouseapp

import (
	"context"

	"branchline/access"
	"branchline/app"
	"branchline/fault"
	"branchline/replication"
	"branchline/warehouse"
)

// Stock is the use cases of a node's stock.
type Stock struct {
	Store app.Store
	IDs   *replication.IDs
	// Node is this node's id, the origin of the events it records.
	Node string
	// Now is the clock; nil means time.Now.
	Now app.Clock
}

// newID makes the id of a new move, sheet, transfer, reservation, order
// or notice.
func (s *Stock) newID() string { return s.IDs.New(s.Now.Time()) }

// read answers with what fn reads, for a caller holding stock.read.
func read[T any](s *Stock, c app.Caller, fn func(views replication.Tx) (T, error)) (T, error) {
	if err := c.Require(access.StockRead); err != nil {
		var zero T
		return zero, err
	}
	return app.Read(s.Store, fn)
}

// change runs cmd, which decides one event, for a caller holding perm and
// answers with what get then reads of id.
func change[T any](ctx context.Context, s *Stock, c app.Caller, perm access.Perm, cmd func(views replication.Tx) (replication.Draft, error),
	get func(replication.Tx, string) (T, error), id string) (T, error) {
	return changeAll(ctx, s, c, perm, func(views replication.Tx) ([]replication.Draft, error) { return app.One(cmd(views)) }, get, id)
}

// changeAll is change for a command of any number of events.
func changeAll[T any](ctx context.Context, s *Stock, c app.Caller, perm access.Perm, cmd replication.Command,
	get func(replication.Tx, string) (T, error), id string) (T, error) {
	var zero T
	if err := c.Require(perm); err != nil {
		return zero, err
	}
	if _, err := s.Store.Exec(ctx, c.User, cmd); err != nil {
		return zero, err
	}
	return app.Read(s.Store, func(views replication.Tx) (T, error) { return get(views, id) })
}

// paged reads one page of a list of the size asked for (def when 0).
func paged[T any](size, def int, list func(limit int) ([]T, string, error)) (app.Page[T], error) {
	n, err := app.PageSize(size, def)
	if err != nil {
		return app.Page[T]{}, err
	}
	items, next, err := list(n)
	return app.Page[T]{Items: items, Next: next}, err
}

// Products.

// SetProduct adds a product, or writes the fields named of one (all: nil).
func (s *Stock) SetProduct(ctx context.Context, c app.Caller, p warehouse.Product, fields []string) (*warehouse.Product, error) {
	return change(ctx, s, c, access.StockAdmin, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.SetProduct(views, p, fields)
	}, warehouse.GetProduct, p.ID)
}

// Product reads a product.
func (s *Stock) Product(_ context.Context, c app.Caller, id string) (*warehouse.Product, error) {
	return read(s, c, func(views replication.Tx) (*warehouse.Product, error) { return warehouse.GetProduct(views, id) })
}

// Products lists the products in code order, a page at a time.
func (s *Stock) Products(_ context.Context, c app.Caller, size int, after string) (app.Page[*warehouse.Product], error) {
	return read(s, c, func(views replication.Tx) (app.Page[*warehouse.Product], error) {
		return paged(size, 100, func(n int) ([]*warehouse.Product, string, error) { return warehouse.ListProducts(views, after, n) })
	})
}

// SortedProducts reads a page of the product list, searched, filtered
// and sorted, with its total.
func (s *Stock) SortedProducts(_ context.Context, c app.Caller, q ProductList) (ProductPage, error) {
	n, err := app.PageSize(q.Limit, 50)
	if err != nil {
		return ProductPage{}, err
	}
	if err := app.CheckList(q.Sort, ProductColumns, q.Text); err != nil {
		return ProductPage{}, err
	}
	q.Limit = n
	return read(s, c, func(views replication.Tx) (ProductPage, error) { return sortedProducts(views, q) })
}

// LookupBarcode finds the product of a barcode.
func (s *Stock) LookupBarcode(_ context.Context, c app.Caller, code string) (*warehouse.Product, error) {
	return read(s, c, func(views replication.Tx) (*warehouse.Product, error) { return warehouse.LookupBarcode(views, code) })
}

// Warehouses.

// SetWarehouse adds a warehouse, or writes the fields named of one.
func (s *Stock) SetWarehouse(ctx context.Context, c app.Caller, w warehouse.Warehouse, fields []string) (*warehouse.Warehouse, error) {
	return change(ctx, s, c, access.StockAdmin, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.SetWarehouse(views, w, fields)
	}, warehouse.GetWarehouse, w.ID)
}

// Warehouse reads a warehouse.
func (s *Stock) Warehouse(_ context.Context, c app.Caller, id string) (*warehouse.Warehouse, error) {
	return read(s, c, func(views replication.Tx) (*warehouse.Warehouse, error) { return warehouse.GetWarehouse(views, id) })
}

// Warehouses lists the warehouses.
func (s *Stock) Warehouses(_ context.Context, c app.Caller) ([]*warehouse.Warehouse, error) {
	return read(s, c, warehouse.ListWarehouses)
}

// SetBin adds or changes a bin of a warehouse.
func (s *Stock) SetBin(ctx context.Context, c app.Caller, wh string, b warehouse.Bin) (*warehouse.Warehouse, error) {
	return change(ctx, s, c, access.StockAdmin, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.SetBin(views, wh, b)
	}, warehouse.GetWarehouse, wh)
}

// AddSeller lets a node sell from a warehouse's escrow.
func (s *Stock) AddSeller(ctx context.Context, c app.Caller, wh, node string) (*warehouse.Warehouse, error) {
	return change(ctx, s, c, access.StockAdmin, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.AddSeller(views, wh, node)
	}, warehouse.GetWarehouse, wh)
}

// RemoveSeller stops a node selling from a warehouse's escrow.
func (s *Stock) RemoveSeller(ctx context.Context, c app.Caller, wh, node string) (*warehouse.Warehouse, error) {
	return change(ctx, s, c, access.StockAdmin, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.RemoveSeller(views, wh, node)
	}, warehouse.GetWarehouse, wh)
}

// SetLimit writes the fields named (nil: all) of a product's limits in a
// warehouse.
func (s *Stock) SetLimit(ctx context.Context, c app.Caller, l warehouse.Limit, fields []string) (warehouse.Limit, error) {
	if len(fields) == 0 {
		fields = warehouse.LimitFields
	}
	return change(ctx, s, c, access.StockAdmin, func(views replication.Tx) (replication.Draft, error) {
		return warehouse.SetLimit(views, l, fields)
	}, func(views replication.Tx, _ string) (warehouse.Limit, error) {
		return warehouse.GetLimit(views, l.Warehouse, l.Product)
	}, "")
}

// Limit reads a product's limits in a warehouse.
func (s *Stock) Limit(_ context.Context, c app.Caller, wh, product string) (warehouse.Limit, error) {
	return read(s, c, func(views replication.Tx) (warehouse.Limit, error) {
		if !warehouse.ValidCode(wh) || !warehouse.ValidCode(product) {
			return warehouse.Limit{}, fault.Invalidf("product", "bad_code", "warehouse %q, product %q: not codes", wh, product)
		}
		return warehouse.GetLimit(views, wh, product)
	})
}

// Alerts lists the alerts of a warehouse ("": all) now.
func (s *Stock) Alerts(_ context.Context, c app.Caller, wh string) ([]warehouse.Alert, error) {
	now := s.Now.Time()
	return read(s, c, func(views replication.Tx) ([]warehouse.Alert, error) { return warehouse.Alerts(views, wh, now) })
}

// Stock levels and moves.

// move records a move made by cmd under a new id and answers with it.
func (s *Stock) move(ctx context.Context, c app.Caller, cmd func(views replication.Tx, id string) (replication.Draft, error)) (*warehouse.Move, error) {
	id := s.newID()
	return change(ctx, s, c, access.StockMove, func(views replication.Tx) (replication.Draft, error) { return cmd(views, id) },
		warehouse.GetMove, id)
}

// Receive records goods received into a warehouse of this node.
func (s *Stock) Receive(ctx context.Context, c app.Caller, r warehouse.Receipt) (*warehouse.Move, error) {
	return s.move(ctx, c, func(views replication.Tx, id string) (replication.Draft, error) {
		return warehouse.RecordReceipt(views, s.Node, id, r, s.Now.Time())
	})
}

// Issue records goods issued from a warehouse of this node.
func (s *Stock) Issue(ctx context.Context, c app.Caller, is warehouse.Issue) (*warehouse.Move, error) {
	return s.move(ctx, c, func(views replication.Tx, id string) (replication.Draft, error) {
		return warehouse.RecordIssue(views, s.Node, id, is, s.Now.Time())
	})
}

// MoveBin records goods moved between bins of a warehouse of this node.
func (s *Stock) MoveBin(ctx context.Context, c app.Caller, m warehouse.BinMove) (*warehouse.Move, error) {
	return s.move(ctx, c, func(views replication.Tx, id string) (replication.Draft, error) {
		return warehouse.RecordBinMove(views, s.Node, id, m, s.Now.Time())
	})
}

// Move reads a move.
func (s *Stock) Move(_ context.Context, c app.Caller, id string) (*warehouse.Move, error) {
	return read(s, c, func(views replication.Tx) (*warehouse.Move, error) { return warehouse.GetMove(views, id) })
}

// Moves lists the moves a filter selects, a page at a time.
func (s *Stock) Moves(_ context.Context, c app.Caller, f warehouse.MoveFilter, size int, after string) (app.Page[*warehouse.Move], error) {
	return read(s, c, func(views replication.Tx) (app.Page[*warehouse.Move], error) {
		return paged(size, 50, func(n int) ([]*warehouse.Move, string, error) { return warehouse.ListMoves(views, f, after, n) })
	})
}

// ProductStock reads a product's stock in a warehouse, or in every
// warehouse (wh "").
func (s *Stock) ProductStock(_ context.Context, c app.Caller, wh, product string) ([]*warehouse.Stock, error) {
	return read(s, c, func(views replication.Tx) ([]*warehouse.Stock, error) {
		if wh != "" {
			st, err := warehouse.GetStock(views, wh, product)
			if err != nil {
				return nil, err
			}
			return []*warehouse.Stock{st}, nil
		}
		return warehouse.ProductStock(views, product)
	})
}

// Levels lists a warehouse's stock, a page of products at a time.
func (s *Stock) Levels(_ context.Context, c app.Caller, wh string, size int, after string) (app.Page[*warehouse.Stock], error) {
	return read(s, c, func(views replication.Tx) (app.Page[*warehouse.Stock], error) {
		return paged(size, 100, func(n int) ([]*warehouse.Stock, string, error) { return warehouse.ListStock(views, wh, after, n) })
	})
}
