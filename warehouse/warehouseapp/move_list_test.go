package warehouseapp

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"branchline/fault"
	"branchline/internal/keyset"
	"branchline/replication"
	"branchline/replication/reptest"
	"branchline/warehouse"
)

// moveWorld is a replica of node "wa" with warehouses W1 and W2 (bins
// A1 and B1 each) and products P1 and P2, on which a test records moves.
type moveWorld struct {
	t     testing.TB
	m     *reptest.Mem
	views *replication.Views
	seq   uint64
	ids   *replication.IDs
}

func newMoveWorld(t testing.TB) *moveWorld {
	t.Helper()
	reg := replication.NewRegistry()
	warehouse.Register(reg)
	m := reptest.NewMem()
	views, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatal(err)
	}
	w := &moveWorld{t: t, m: m, views: views, ids: replication.NewIDs()}
	for _, wh := range []string{"W1", "W2"} {
		w.do(func(v replication.Tx) (replication.Draft, error) {
			return warehouse.SetWarehouse(v, warehouse.Warehouse{ID: wh, Name: wh, Owner: "wa"}, nil)
		})
		for _, b := range []string{"A1", "B1"} {
			w.do(func(v replication.Tx) (replication.Draft, error) {
				return warehouse.SetBin(v, wh, warehouse.Bin{ID: b, Name: b, Kind: "good"})
			})
		}
	}
	// Product codes with a U: a move's text search also matches its id, a
	// ULID, whose alphabet (Crockford's base 32) has no U — "p1" matched a
	// random id now and then.
	for _, p := range []string{"PU1", "PU2"} {
		w.do(func(v replication.Tx) (replication.Draft, error) {
			return warehouse.SetProduct(v, warehouse.Product{ID: p, Name: "Product " + p}, nil)
		})
	}
	return w
}

func (w *moveWorld) do(cmd func(replication.Tx) (replication.Draft, error)) {
	w.t.Helper()
	b := w.views.Begin(w.m)
	d, err := cmd(b.Views())
	if err != nil {
		w.t.Fatal(err)
	}
	body, err := proto.Marshal(d.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	w.seq++
	ev := &replication.Event{Origin: "wa", Seq: w.seq, HLC: replication.HLC(w.seq), Kind: d.Kind, Entity: d.Entity, Actor: "admin", Body: body}
	if out, err := b.Apply(ev); err != nil || out != replication.Applied {
		w.t.Fatalf("apply %s: %v, %v", ev, out, err)
	}
	if err := b.Finish(); err != nil {
		w.t.Fatal(err)
	}
	b.Commit()
}

// receive records a purchase receipt of qty of product into warehouse
// wh at time at, with reference ref, and returns its id.
func (w *moveWorld) receive(wh, product, ref string, qty int64, at time.Time) string {
	w.t.Helper()
	id := w.ids.New(at)
	w.do(func(v replication.Tx) (replication.Draft, error) {
		return warehouse.RecordReceipt(v, "wa", id, warehouse.Receipt{Warehouse: wh, Type: "purchase", Ref: ref,
			Lines: []warehouse.ReceiptLine{{Product: product, Bin: "A1", Qty: qty}}}, at)
	})
	return id
}

// issue records an order issue of qty of product from warehouse wh.
func (w *moveWorld) issue(wh, product, ref string, qty int64, at time.Time) string {
	w.t.Helper()
	id := w.ids.New(at)
	w.do(func(v replication.Tx) (replication.Draft, error) {
		return warehouse.RecordIssue(v, "wa", id, warehouse.Issue{Warehouse: wh, Type: "order", Ref: ref,
			Lines: []warehouse.IssueLine{{Product: product, Bin: "A1", Qty: qty}}}, at)
	})
	return id
}

func (w *moveWorld) read() replication.Tx { return replication.ReadViews(w.m) }

func TestSortedMoves(t *testing.T) {
	w := newMoveWorld(t)
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	ids := []string{
		w.receive("W1", "PU1", "PO-7", 10, t0),                    // 0
		w.receive("W2", "PU2", "PO-8", 5, t0.Add(time.Hour)),      // 1
		w.issue("W1", "PU1", "SO-1", 3, t0.Add(2*time.Hour)),      // 2
		w.receive("W1", "PU2", "PO-9", 4, t0.Add(3*time.Hour)),    // 3
		w.issue("W2", "PU2", "SO-2", 1, t0.Add(50*time.Hour)),     // 4: two days later
		w.receive("W2", "PU1", "PO-10", 2, t0.Add(-48*time.Hour)), // 5: two days before
	}
	day := warehouse.MoveFilter{From: t0.Add(-time.Hour), To: t0.Add(24 * time.Hour)}
	tests := []struct {
		name  string
		q     MoveList
		want  []int
		total int
	}{
		{"the day, newest first", MoveList{MoveFilter: day, Order: keyset.Order{Desc: true}}, []int{3, 2, 1, 0}, 4},
		{"oldest first", MoveList{MoveFilter: day}, []int{0, 1, 2, 3}, 4},
		{"by type", MoveList{MoveFilter: day, Order: keyset.Order{Sort: MoveByType}}, []int{2, 0, 1, 3}, 4},
		{"by warehouse, descending", MoveList{MoveFilter: day, Order: keyset.Order{Sort: MoveByWarehouse, Desc: true}}, []int{1, 3, 2, 0}, 4},
		{"a warehouse", MoveList{MoveFilter: warehouse.MoveFilter{Warehouse: "W2", From: day.From, To: day.To}}, []int{1}, 1},
		{"held warehouses only", MoveList{MoveFilter: warehouse.MoveFilter{Warehouses: []string{"W1"}, From: day.From, To: day.To}}, []int{0, 2, 3}, 3},
		{"a product", MoveList{MoveFilter: warehouse.MoveFilter{Product: "PU2", From: day.From, To: day.To}}, []int{1, 3}, 2},
		{"a direction", MoveList{MoveFilter: warehouse.MoveFilter{Direction: "issue", From: day.From, To: day.To}}, []int{2}, 1},
		{"search a reference", MoveList{MoveFilter: day, Text: "po-"}, []int{0, 1, 3}, 3},
		{"search a product code", MoveList{MoveFilter: day, Text: "pu1"}, []int{0, 2}, 2},
		{"search a move id", MoveList{MoveFilter: day, Text: ids[2][10:]}, []int{2}, 1},
		{"three days", MoveList{MoveFilter: warehouse.MoveFilter{From: t0.Add(-72 * time.Hour), To: t0.Add(72 * time.Hour)}}, []int{5, 0, 1, 2, 3, 4}, 6},
		{"two a page, the last", MoveList{MoveFilter: day, Limit: 2, Order: keyset.Order{Last: true}}, []int{2, 3}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.q.Limit == 0 {
				tc.q.Limit = 50
			}
			page, err := sortedMoves(w.read(), tc.q, 100)
			if err != nil {
				t.Fatal(err)
			}
			var got, want []string
			for _, m := range page.Moves {
				got = append(got, m.ID)
			}
			for _, i := range tc.want {
				want = append(want, ids[i])
			}
			if !slices.Equal(got, want) || page.Total != tc.total {
				t.Errorf("got %v of %d, want %v of %d", got, page.Total, want, tc.total)
			}
		})
	}
	if _, err := sortedMoves(w.read(), MoveList{MoveFilter: day, Limit: 5}, 3); err == nil {
		t.Error("a window of 4 moves read with a bound of 3")
	} else if inv, ok := fault.AsInvalid(err); !ok || inv.Code != "too_many_moves" {
		t.Errorf("too many moves: %v", err)
	}
	if _, err := sortedMoves(w.read(), MoveList{MoveFilter: day, Limit: 5, Order: keyset.Order{Cursor: "%%"}}, 100); err == nil {
		t.Error("a bad cursor was read")
	} else if inv, ok := fault.AsInvalid(err); !ok || inv.Field != "page_token" {
		t.Errorf("a bad cursor: %v", err)
	}
}

// TestMovePagesMatchMoves: whatever moves there are and whatever a list
// asks for, its total is the number of moves the filter keeps, and its
// pages, walked forward from the first or back from the last, hold
// those moves in the column's order, as a brute-force filter and sort of
// every move does.
func TestMovePagesMatchMoves(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	rapid.Check(t, func(rt *rapid.T) {
		w := newMoveWorld(t)
		var all []*warehouse.Move
		n := rapid.IntRange(0, 20).Draw(rt, "moves")
		stock := map[string]int64{}
		for i := range n {
			wh := rapid.SampledFrom([]string{"W1", "W2"}).Draw(rt, "wh")
			p := rapid.SampledFrom([]string{"PU1", "PU2"}).Draw(rt, "product")
			at := t0.Add(time.Duration(rapid.IntRange(0, 96).Draw(rt, "hour")) * time.Hour)
			ref := fmt.Sprintf("R%d", rapid.IntRange(0, 3).Draw(rt, "ref"))
			var id string
			if stock[wh+p] > 0 && rapid.Bool().Draw(rt, "issue") {
				id = w.issue(wh, p, ref, 1, at)
				stock[wh+p]--
			} else {
				id = w.receive(wh, p, ref, int64(i+1), at)
				stock[wh+p] += int64(i + 1)
			}
			m, err := warehouse.GetMove(w.read(), id)
			if err != nil {
				rt.Fatal(err)
			}
			all = append(all, m)
		}
		q := MoveList{MoveFilter: warehouse.MoveFilter{
			Warehouse: rapid.SampledFrom([]string{"", "W1"}).Draw(rt, "f-wh"),
			Product:   rapid.SampledFrom([]string{"", "PU2"}).Draw(rt, "f-product"),
			Direction: rapid.SampledFrom([]string{"", "receipt", "issue"}).Draw(rt, "f-direction"),
			From:      t0.Add(time.Duration(rapid.IntRange(0, 48).Draw(rt, "from")) * time.Hour)},
			Text:  rapid.SampledFrom([]string{"", "r1", "pu1"}).Draw(rt, "text"),
			Order: keyset.Order{Sort: rapid.SampledFrom(MoveColumns).Draw(rt, "sort"), Desc: rapid.Bool().Draw(rt, "desc")},
			Limit: rapid.IntRange(1, 6).Draw(rt, "limit")}
		q.To = q.From.Add(time.Duration(rapid.IntRange(0, 60).Draw(rt, "hours")) * time.Hour)
		var want []*warehouse.Move
		for _, m := range all {
			if m.At.Before(q.From) || m.At.After(q.To) || q.Warehouse != "" && m.Warehouse != q.Warehouse ||
				q.Direction != "" && m.Direction != q.Direction || q.Text != "" && !moveHolds(m, q.Text) ||
				q.Product != "" && !slices.ContainsFunc(m.Lines, func(l warehouse.Line) bool { return l.Product == q.Product }) {
				continue
			}
			want = append(want, m)
		}
		slices.SortFunc(want, func(a, b *warehouse.Move) int {
			c := bytes.Compare(keyset.VarKey(moveSortValue(a, q.Sort), a.ID), keyset.VarKey(moveSortValue(b, q.Sort), b.ID))
			if q.Desc {
				return -c
			}
			return c
		})
		var wantIDs []string
		for _, m := range want {
			wantIDs = append(wantIDs, m.ID)
		}
		walk := func(back bool) []string {
			q := q
			q.Last = back
			var out []string
			for pages := 0; pages < 50; pages++ {
				page, err := sortedMoves(w.read(), q, 1000)
				if err != nil {
					rt.Fatal(err)
				}
				if page.Total != len(want) {
					rt.Fatalf("total %d, want %d", page.Total, len(want))
				}
				var ids []string
				for _, m := range page.Moves {
					ids = append(ids, m.ID)
				}
				if back {
					out = append(ids, out...)
					if page.Prev == "" {
						break
					}
					q.Last, q.Cursor, q.Back = false, page.Prev, true
				} else {
					out = append(out, ids...)
					if page.Next == "" {
						break
					}
					q.Cursor = page.Next
				}
			}
			return out
		}
		if got := walk(false); !slices.Equal(got, wantIDs) {
			rt.Fatalf("forward %v, want %v", got, wantIDs)
		}
		if got := walk(true); !slices.Equal(got, wantIDs) {
			rt.Fatalf("backward %v, want %v", got, wantIDs)
		}
	})
}
