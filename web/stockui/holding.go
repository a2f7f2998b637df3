package stockui

import (
	"slices"

	"branchline/warehouse"
)

// Holding says which warehouses' records the replica the pages run in
// holds whole, and so whose stock the pages can show. Since replication
// became partial (replication/scope.go, the scope table in
// warehouse/doc.go), a node holds the stock moves, stocktakes and
// reservations of the warehouses it owns, and of no other warehouse.
// Of another it still holds a few events — its half of a transfer, its
// own reservations, the escrow of a warehouse it sells from — and the stock,
// alerts and history computed from those would be wrong: a transfer's one
// half makes stock in transit that never arrives or negative stock, the
// company-wide limits raise below-minimum alerts on stock it cannot see,
// the escrow's promised and free stock miss the owner's shipments. So
// the pages show the stock of the warehouses the replica holds, and say
// where the others' is shown.
type Holding int

const (
	// HoldsOwned is a node's: the warehouses whose owner is the node (the
	// server's Site), as warehouse.OwnedScopes lists them.
	HoldsOwned Holding = iota
	// HoldsAll is the hub's, where head office holds every event: every
	// warehouse.
	HoldsAll
)

// holds reports whether this replica holds the records of warehouse w
// whole: whether the pages show its stock, alerts and history. A
// warehouse that could not be read (nil) is held where all are.
func (s *Pages) holds(w *warehouse.Warehouse) bool {
	return s.holding == HoldsAll || w != nil && w.Owner == s.Site()
}

// held keeps the warehouses of ws this replica holds.
func (s *Pages) held(ws []*warehouse.Warehouse) []*warehouse.Warehouse {
	return slices.DeleteFunc(slices.Clone(ws), func(w *warehouse.Warehouse) bool { return !s.holds(w) })
}

// heldIDs are the ids of the warehouses of ws this replica holds, as
// warehouse.MoveFilter.Warehouses takes them: nil when it holds them all,
// empty (not nil) when it holds none.
func (s *Pages) heldIDs(ws []*warehouse.Warehouse) []string {
	if s.holding == HoldsAll {
		return nil
	}
	out := []string{}
	for _, w := range s.held(ws) {
		out = append(out, w.ID)
	}
	return out
}

// holdsAll reports whether this replica holds every warehouse of ws; when
// it does not, the pages say that the others' stock is shown at their
// owner and at head office.
func (s *Pages) holdsAll(ws []*warehouse.Warehouse) bool {
	return !slices.ContainsFunc(ws, func(w *warehouse.Warehouse) bool { return !s.holds(w) })
}

// sells reports whether this node sells from warehouse w, which it does
// not hold: it then holds w's escrow exactly (pool, every share, targets)
// but not what the escrow still promises or the owner's free stock.
func (s *Pages) sells(w *warehouse.Warehouse) bool {
	return w != nil && !s.holds(w) && w.IsSeller(s.Site())
}
