package warehouseapp

import (
	"context"
	"slices"
	"strings"
	"time"

	"branchline/app"
	"branchline/fault"
	"branchline/internal/keyset"
	"branchline/replication"
	"branchline/warehouse"
)

// The move list (出入库记录): the moves of a window of days, filtered,
// searched, sorted by a column, a page at a time, with the exact number
// the filter keeps.
//
// What a page costs is bounded by the window, not by the history: the
// window is at most MaxMoveWindow long, and the list reads the moves in
// it from the narrowest index the domain's ListMoves has (the product's,
// else the warehouse's, else every move's), filters and orders them in
// memory. The total is their number. A window holding more than
// maxListedMoves moves is refused with a request to narrow it, so no page
// reads more than that.

// Columns of the move list.
const (
	MoveByTime      = "time"
	MoveByType      = "type"
	MoveByWarehouse = "warehouse"
)

// MoveColumns are the columns the move list sorts by; time first, its
// default order newest first.
var MoveColumns = []string{MoveByTime, MoveByType, MoveByWarehouse}

// MaxMoveWindow is the longest window a move list reads; DefaultMoveDays
// the days it lists when it is given no window.
const (
	MaxMoveWindow   = 92 * 24 * time.Hour
	DefaultMoveDays = 30
)

// maxListedMoves bounds the moves of a window a list reads.
var maxListedMoves = 20000

// MoveList asks for a page of the move list: the moves of Filter (its
// From and To are the window: a zero start is DefaultMoveDays before the
// end; a zero end is now, or MaxMoveWindow after the start), whose id, reference, purchase order or a line's product code
// holds Text, in Order.
type MoveList struct {
	warehouse.MoveFilter
	Text string
	keyset.Order
	Limit int
}

// MovePage is a page of the move list and the number of moves it lists.
type MovePage struct {
	Moves      []*warehouse.Move
	Total      int
	Prev, Next string
	// From and To are the window read.
	From, To time.Time
}

// SortedMoves reads a page of the move list.
func (s *Stock) SortedMoves(_ context.Context, c app.Caller, q MoveList) (MovePage, error) {
	var err error
	if q.Limit, err = app.PageSize(q.Limit, 50); err != nil {
		return MovePage{}, err
	}
	if err := app.CheckList(q.Sort, MoveColumns, q.Text); err != nil {
		return MovePage{}, err
	}
	var end time.Time
	if q.From, q.To, end, err = app.Window(q.From, q.To, s.Now.Time(), DefaultMoveDays, MaxMoveWindow, "to"); err != nil {
		return MovePage{}, err
	}
	page, err := read(s, c, func(views replication.Tx) (MovePage, error) { return sortedMoves(views, q, maxListedMoves) })
	page.From, page.To = q.From, end
	return page, err
}

// sortedMoves reads the page q asks for, reading at most max moves.
func sortedMoves(views replication.Tx, q MoveList, max int) (MovePage, error) {
	all, _, err := warehouse.ListMoves(views, q.MoveFilter, "", max+1)
	if err != nil {
		return MovePage{}, err
	}
	if len(all) > max {
		return MovePage{}, fault.Invalidf("from", "too_many_moves", "more than %d moves in this window: narrow it", max)
	}
	text := fold(q.Text)
	all = slices.DeleteFunc(all, func(m *warehouse.Move) bool { return text != "" && !moveHolds(m, text) })
	f, err := keyset.InMemory(all, func(m *warehouse.Move) []byte { return keyset.VarKey(moveSortValue(m, q.Sort), m.ID) }, q.Order, q.Limit)
	if err != nil {
		return MovePage{}, fault.Invalidf("page_token", "bad_token", "not a page token of this list")
	}
	return MovePage{Moves: f.Items, Total: f.Total, Prev: f.Prev, Next: f.Next}, nil
}

// moveHolds reports whether a move's id, reference, purchase order or a
// line's product code holds text (folded).
func moveHolds(m *warehouse.Move, text string) bool {
	if strings.Contains(fold(m.ID), text) || strings.Contains(fold(m.Ref), text) || strings.Contains(fold(m.PurchaseOrder), text) {
		return true
	}
	return slices.ContainsFunc(m.Lines, func(l warehouse.Line) bool { return strings.Contains(fold(l.Product), text) })
}

// moveSortValue is what column col orders move m by.
func moveSortValue(m *warehouse.Move, col string) []byte {
	switch col {
	case MoveByType:
		return []byte(m.Direction + "." + m.Type)
	case MoveByWarehouse:
		return keyset.Text(m.Warehouse)
	}
	return keyset.Int(m.At.UnixMilli())
}
