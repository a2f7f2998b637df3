package web_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	whv1 "branchline/gen/branchline/warehouse/v1"
)

// TestStockMoveListHTTP: the move list's total under its filter, pages,
// search, order and bad input — each bad input a clear message or the
// default list, never a failure, and nothing recorded by any of it.
func TestStockMoveListHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	s := startStockSite(t)
	s.setUp(t) // two receipts, 20 and 5 days ago
	s.receiveMany(t, 53)
	before := s.moves(t)
	w := signIn(t, s.base, "admin")
	checkListPages(t, w, []listCase{
		{"the last 30 days", "/stock/moves", 200, "共 55 条", []string{`id="page-next"`, `id="page-last"`, `aria-sort="descending"`}},
		{"the last page", "/stock/moves?page=last", 200, "共 55 条", []string{`id="page-first"`, "CG-020"}},
		{"a reference", "/stock/moves?q=list-007", 200, "共 1 条", []string{"LIST-007"}},
		{"a product code", "/stock/moves?q=" + milk, 200, "共 2 条", nil},
		{"a product filter", "/stock/moves?product=" + milk, 200, "共 2 条", nil},
		{"a type, sorted by warehouse", "/stock/moves?type=receipt.purchase&sort=warehouse", 200, "共 55 条", []string{`aria-sort="ascending" class="sortable"><a href="/stock/moves?dir=desc&amp;sort=warehouse&amp;type=receipt.purchase"`}},
		{"a window of days", "/stock/moves?from=" + time.Now().AddDate(0, 0, -10).Format(time.DateOnly), 200, "共 54 条", nil},
		{"a start long ago: 92 days from it", "/stock/moves?from=2020-01-01", 200, "-", []string{`id="move-window"`}},
		{"a bad cursor: the first page", "/stock/moves?after=AAAA", 200, "共 55 条", []string{"分页链接已失效。"}},
		{"an unknown column: the default order", "/stock/moves?sort=secret", 200, "共 55 条", nil},
		{"too many days", "/stock/moves?from=2020-01-01&to=2026-01-01", 422, "", []string{"一次最多查询 92 天。"}},
		{"an end before the start", "/stock/moves?from=2026-02-01&to=2026-01-01", 422, "", []string{"截止日期早于起始日期。"}},
		{"a bad date", "/stock/moves?to=someday", 422, "", []string{"日期无效。"}},
	})

	if n := s.moves(t); n != before {
		t.Fatalf("listing recorded moves: %d, was %d", n, before)
	}
	if status, _ := w.get(t, "/stock/moves?after=AAAA&before=AAAA"); status != http.StatusOK {
		t.Errorf("both cursors: status %d", status)
	}
}

// receiveMany receives n cups into the warehouse, an hour apart ending an
// hour ago, with references LIST-000, LIST-001, …
func (s *stockSite) receiveMany(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		s.at = time.Now().Add(-time.Duration(i+1) * time.Hour)
		if _, err := s.stock.Receive(s.admin, connect.NewRequest(&whv1.ReceiveRequest{Warehouse: stockWH, Type: "purchase",
			Lines: []*whv1.MoveLine{{Product: cup, Bin: "A02", Qty: 1}}, Ref: fmt.Sprintf("LIST-%03d", i)})); err != nil {
			t.Fatal(err)
		}
	}
	s.at = time.Now()
}
