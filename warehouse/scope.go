package warehouse

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
)

// The scopes of the warehouse kinds (replication/scope.go); doc.go says
// why each kind goes where it goes. Kinds without a rule here are
// company-wide: products, warehouses, bins, sellers and limits.
//
// A rule runs once, where the event is made: at the node, on the views of
// the command's batch; at the hub, on the hub's decision views, which hold
// every warehouse kind. The rules of the kinds the hub makes (grants,
// reclaims, targets) read nothing but the event.

func registerScopes(r *replication.Registry) {
	scopeBy(r, KindStockMoved, func(_ replication.Tx, _ *replication.Event, b *whv1.StockMoved) ([]string, error) {
		return scopes(whScope(b.GetWarehouse()))
	})
	scopeBy(r, KindStocktakeOpened, func(_ replication.Tx, _ *replication.Event, b *whv1.StocktakeOpened) ([]string, error) {
		return scopes(whScope(b.GetWarehouse()))
	})
	scopeBy(r, KindStocktakePosted, func(_ replication.Tx, _ *replication.Event, b *whv1.StocktakePosted) ([]string, error) {
		return scopes(whScope(b.GetWarehouse()))
	})
	replication.ScopeBy(r, KindStocktakeCounted, sheetScopes)
	replication.ScopeBy(r, KindStocktakeCancelled, sheetScopes)
	scopeBy(r, KindTransferShipped, func(_ replication.Tx, _ *replication.Event, b *whv1.TransferShipped) ([]string, error) {
		return scopes(whScope(b.GetFrom()), whScope(b.GetTo()))
	})
	scopeBy(r, KindTransferReceived, func(_ replication.Tx, _ *replication.Event, b *whv1.TransferReceived) ([]string, error) {
		return scopes(whScope(b.GetTo()), whScope(b.GetFrom()))
	})
	scopeBy(r, KindReservationMade, func(_ replication.Tx, ev *replication.Event, b *whv1.ReservationMade) ([]string, error) {
		return reservationScopes(b, ev.Origin)
	})
	replication.ScopeBy(r, KindReservationReleased, func(views replication.Tx, ev *replication.Event) ([]string, error) {
		id, ok := reservationID(ev)
		if !ok {
			return nil, fmt.Errorf("entity %q is not a reservation", ev.Entity)
		}
		f, err := factsOf(views, id)
		if err != nil {
			return nil, err
		}
		if f.made == nil {
			return nil, fmt.Errorf("reservation %s: %w", id, fault.ErrNotFound)
		}
		return reservationScopes(f.made, f.node)
	})
	scopeBy(r, KindReservationShipped, func(_ replication.Tx, _ *replication.Event, b *whv1.ReservationShipped) ([]string, error) {
		return scopes(whScope(b.GetWarehouse()))
	})
	replication.ScopeBy(r, KindEscrowReleased, func(_ replication.Tx, ev *replication.Event) ([]string, error) {
		return escrowScopes(ev)
	})
	scopeBy(r, KindEscrowGranted, func(_ replication.Tx, ev *replication.Event, b *whv1.EscrowGranted) ([]string, error) {
		return escrowScopes(ev, branchScope(b.GetNode()))
	})
	replication.ScopeBy(r, KindEscrowReturned, func(_ replication.Tx, ev *replication.Event) ([]string, error) {
		return escrowScopes(ev, branchScope(ev.Origin))
	})
	scopeBy(r, KindEscrowReclaimed, func(_ replication.Tx, ev *replication.Event, b *whv1.EscrowReclaimed) ([]string, error) {
		return escrowScopes(ev, branchScope(b.GetRefusedOrigin()))
	})
	replication.ScopeBy(r, KindEscrowTarget, func(_ replication.Tx, ev *replication.Event) ([]string, error) {
		return escrowScopes(ev)
	})
	scopeBy(r, KindPOCreated, func(_ replication.Tx, ev *replication.Event, b *whv1.PurchaseOrderCreated) ([]string, error) {
		return scopes(whScope(b.GetWarehouse()), branchScope(ev.Origin))
	})
	replication.ScopeBy(r, KindPOClosed, func(views replication.Tx, ev *replication.Event) ([]string, error) {
		id, ok := poID(ev)
		if !ok {
			return nil, fmt.Errorf("entity %q is not a purchase order", ev.Entity)
		}
		var c whv1.PurchaseOrderCreated
		return firstScopes(views, poKey(id), &c, "purchase order "+id, c.GetWarehouse)
	})
	scopeBy(r, KindNoticeCreated, func(_ replication.Tx, ev *replication.Event, b *whv1.NoticeCreated) ([]string, error) {
		return scopes(whScope(b.GetWarehouse()), branchScope(ev.Origin))
	})
	replication.ScopeBy(r, KindNoticeConfirmed, func(views replication.Tx, ev *replication.Event) ([]string, error) {
		id, ok := noticeID(ev)
		if !ok {
			return nil, fmt.Errorf("entity %q is not a notice", ev.Entity)
		}
		var c whv1.NoticeCreated
		return firstScopes(views, noticeKey(id), &c, "notice "+id, c.GetWarehouse)
	})
}

// scopeBy sets the scope rule of kind, whose body is an M.
func scopeBy[M proto.Message](r *replication.Registry, kind string, fn func(views replication.Tx, ev *replication.Event, b M) ([]string, error)) {
	replication.ScopeBy(r, kind, func(views replication.Tx, ev *replication.Event) ([]string, error) {
		var zero M
		b := zero.ProtoReflect().New().Interface().(M)
		if err := proto.Unmarshal(ev.Body, b); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		return fn(views, ev, b)
	})
}

// scope is one scope of an event, or the reason it has none.
type scope struct {
	name string
	err  error
}

// whScope is the scope of warehouse wh's records.
func whScope(wh string) scope {
	if !ValidCode(wh) {
		return scope{err: fmt.Errorf("warehouse %q is not a code", wh)}
	}
	return scope{name: replication.WarehouseScope(wh)}
}

// branchScope is the scope of node's own records; none for the hub, which
// is no branch (what it makes goes where the other scopes say), or for no
// node.
func branchScope(node string) scope {
	if node == "" || node == replication.HubOrigin {
		return scope{}
	}
	if !replication.ValidNodeID(node) {
		return scope{err: fmt.Errorf("node %q is not a node id", node)}
	}
	return scope{name: replication.BranchScope(node)}
}

// scopes are the scopes of an event, the first its home.
func scopes(home scope, more ...scope) ([]string, error) {
	if home.err != nil {
		return nil, home.err
	}
	names := make([]string, 0, len(more))
	for _, s := range more {
		if s.err != nil {
			return nil, s.err
		}
		names = append(names, s.name)
	}
	return replication.NormalScopes(home.name, names...), nil
}

// reservationScopes: a reservation is the warehouse's (it ships it, and
// its reserved counters are the owner's available stock) and the branch's
// that made it (it holds it, sells against it, releases it). One that
// debits its maker's escrow share moves the escrow that every seller splits
// (Surplus), so it goes to the sellers too.
func reservationScopes(m *whv1.ReservationMade, maker string) ([]string, error) {
	more := []scope{branchScope(maker)}
	if m.GetEscrow() && ValidCode(m.GetWarehouse()) {
		more = append(more, scope{name: replication.EscrowScope(m.GetWarehouse())})
	}
	return scopes(whScope(m.GetWarehouse()), more...)
}

// escrowScopes: an escrow event's home is the escrow of its warehouse (the
// sellers'), and the warehouse's owner, whose free stock it backs, holds it
// too; more adds the branch whose share it moves.
func escrowScopes(ev *replication.Event, more ...scope) ([]string, error) {
	wh, _, ok := escrowOf(ev)
	if !ok {
		return nil, fmt.Errorf("entity %q is not an escrow", ev.Entity)
	}
	return scopes(scope{name: replication.EscrowScope(wh)}, append([]scope{whScope(wh)}, more...)...)
}

// sheetScopes are the scopes of a later event of a stocktake: its
// warehouse's, read from the sheet (only the owner counts, posts or
// cancels, and it holds the sheet).
func sheetScopes(views replication.Tx, ev *replication.Event) ([]string, error) {
	id, ok := stocktakeID(ev)
	if !ok {
		return nil, fmt.Errorf("entity %q is not a stocktake", ev.Entity)
	}
	var o whv1.StocktakeOpened
	_, found, err := readFirst(views, stKey(id), &o)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("stocktake %s: %w", id, fault.ErrNotFound)
	}
	return scopes(whScope(o.GetWarehouse()))
}

// firstScopes are the scopes of a later event of a record written once
// (a purchase order, a notice): its warehouse's and its maker's branch,
// as its first event had them. what names it in errors; wh reads the
// warehouse from m once decoded.
func firstScopes(views replication.Tx, k []byte, m proto.Message, what string, wh func() string) ([]string, error) {
	st, found, err := readFirst(views, k, m)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%s: %w", what, fault.ErrNotFound)
	}
	return scopes(whScope(wh()), branchScope(st.Origin))
}

// OwnedScopes returns the scope of each warehouse whose owner is node, in
// id order: the warehouses whose records node holds whole.
func OwnedScopes(views replication.Tx, node string) ([]string, error) {
	return warehouseScopesOf(views, func(w *Warehouse) (string, bool) {
		return replication.WarehouseScope(w.ID), w.Owner == node
	})
}

// SellerScopes returns the escrow scope of each warehouse node sells from
// (see Warehouse.Sellers), in id order: the escrows node splits with the
// other sellers.
func SellerScopes(views replication.Tx, node string) ([]string, error) {
	return warehouseScopesOf(views, func(w *Warehouse) (string, bool) {
		return replication.EscrowScope(w.ID), w.IsSeller(node)
	})
}

func warehouseScopesOf(views replication.Tx, pick func(*Warehouse) (string, bool)) ([]string, error) {
	ws, err := ListWarehouses(views)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, w := range ws {
		if s, ok := pick(w); ok {
			out = append(out, s)
		}
	}
	return out, nil
}
