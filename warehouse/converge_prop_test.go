package warehouse

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
	"branchline/replication/reptest"
)

// idGen makes ULIDs deterministically, so that rapid replays a failing
// case exactly.
type idGen struct{ n uint64 }

func (g *idGen) next() string {
	g.n++
	var id ulid.ULID
	_ = id.SetTime(uint64(reptest.BaseMillis) + g.n) // in range
	var e [10]byte
	binary.BigEndian.PutUint64(e[2:], g.n)
	_ = id.SetEntropy(e[:]) // 10 bytes
	return id.String()
}

var (
	propProducts = []string{"P1", "P2", "P3", "K"}
	propBatches  = []string{"B1", "B2", "B3"}
)

// owned is the warehouse a world's node owns, and the other one.
func (w *world) owned(r *replica) (own, other string) {
	if r == w.wa {
		return "A", "B"
	}
	return "B", "A"
}

func binsOf(wh string) []string {
	if wh == "A" {
		return []string{"G1", "G2", "D"}
	}
	return []string{"G1", "D"}
}

// noNegative checks that no bin and batch of wh is negative in r's view
// (r owns wh, so its view of wh's stock is exact).
func noNegative(t tb, r *replica, wh string) {
	t.Helper()
	p := prefix("s", wh)
	err := r.view().Scan(p, nil, func(k, v []byte) (bool, error) {
		if q, err := counterValue(v); err != nil || q < 0 {
			return false, fmt.Errorf("%q = %s", k[len(p):], v)
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("%s: negative stock: %v", r.name, err)
	}
}

// stockIsSumOfMoves recomputes every stock counter from the history
// records (the winning claims) and compares.
func stockIsSumOfMoves(t tb, tx replication.Tx) {
	t.Helper()
	want := map[string]int64{}
	rp := prefix("m")
	err := tx.Scan(rp, nil, func(_, v []byte) (bool, error) {
		r, err := decodeFirst(v)
		if err != nil {
			return false, err
		}
		var rec whv1.MoveRecord
		if err := proto.Unmarshal(r.Value, &rec); err != nil {
			return false, err
		}
		m := rec.GetMove()
		for _, l := range m.GetLines() {
			want[string(lineKey(m.GetWarehouse(), l.GetProduct(), l.GetBin(), l.GetBatch()))] += l.GetQty()
			want[string(totalKey(m.GetWarehouse(), l.GetProduct()))] += l.GetQty()
			if l.GetBatch() != "" {
				want[string(batchTotalKey(m.GetWarehouse(), l.GetProduct(), l.GetBatch()))] += l.GetQty()
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("records: %v", err)
	}
	got := map[string]int64{}
	for _, p := range [][]byte{prefix("s"), prefix("t"), prefix("bw")} {
		err := tx.Scan(p, nil, func(k, v []byte) (bool, error) {
			n, err := strconv.ParseInt(string(v), 10, 64)
			got[string(k)] = n
			return true, err
		})
		if err != nil {
			t.Fatalf("counters: %v", err)
		}
	}
	for k, n := range want {
		if n != 0 && got[k] != n {
			t.Fatalf("counter %q = %d, the moves sum to %d", k, got[k], n)
		}
	}
	for k, n := range got {
		if want[k] != n {
			t.Fatalf("counter %q = %d, the moves sum to %d", k, n, want[k])
		}
	}
}

// step draws and runs one command at r (or a delivery); refused commands
// write nothing and are skipped.
func (w *world) step(t *rapid.T, g *idGen, r *replica) {
	own, other := w.owned(r)
	bins := binsOf(own)
	product := rapid.SampledFrom(propProducts).Draw(t, "product")
	bin := rapid.SampledFrom(bins).Draw(t, "bin")
	qty := int64(rapid.IntRange(1, 8).Draw(t, "qty"))
	now := w.s.advance(time.Duration(rapid.IntRange(1, 3600).Draw(t, "secs")) * time.Second)
	var cmd replication.Command
	// Actions weighted so that every kind of event happens often.
	actions := []int{5, 0, 8, 10, 7, 2, 6, 9, 1, 4, 5, 8, 3, 10, 0, 7, 9, 6, 2, 8, 1}
	switch rapid.SampledFrom(actions).Draw(t, "action") {
	case 0, 1:
		batch := ""
		if product != "P2" {
			batch = rapid.SampledFrom(propBatches).Draw(t, "batch")
		}
		id := g.next()
		cmd = func(v replication.Tx) ([]replication.Draft, error) {
			return one(RecordReceipt(v, r.name, id, Receipt{Warehouse: own, Type: ReceiptPurchase,
				Lines: []ReceiptLine{{Product: product, Bin: bin, Batch: batch, Qty: qty, Expires: now.Add(time.Duration(qty) * 24 * time.Hour)}}}, now))
		}
	case 2:
		id := g.next()
		cmd = func(v replication.Tx) ([]replication.Draft, error) {
			return one(RecordIssue(v, r.name, id, Issue{Warehouse: own, Type: IssueOrder, Lines: []IssueLine{{Product: product, Bin: bin, Qty: qty}}}, now))
		}
	case 3:
		to := rapid.SampledFrom(bins).Draw(t, "to")
		id := g.next()
		cmd = func(v replication.Tx) ([]replication.Draft, error) {
			return one(RecordBinMove(v, r.name, id, BinMove{Warehouse: own, Lines: []BinMoveLine{{Product: product, From: bin, To: to, Qty: qty}}}, now))
		}
	case 4:
		spec := StocktakeSpec{Warehouse: own, Type: StocktakePeriodic}
		if rapid.Bool().Draw(t, "by-bin") {
			spec.Bin = bin
		}
		id := g.next()
		cmd = func(v replication.Tx) ([]replication.Draft, error) {
			return one(OpenStocktake(v, r.name, id, spec, now))
		}
	case 5, 6:
		all, _, err := ListStocktakes(r.view(), own, "", 20)
		if err != nil {
			t.Fatal(err)
		}
		var sheets []*Stocktake
		for _, st := range all {
			if st.Status == StocktakeOpen || rapid.IntRange(0, 9).Draw(t, "closed-sheet") == 0 {
				sheets = append(sheets, st)
			}
		}
		if len(sheets) == 0 {
			return
		}
		st := rapid.SampledFrom(sheets).Draw(t, "sheet")
		if rapid.Bool().Draw(t, "post") {
			cmd = func(v replication.Tx) ([]replication.Draft, error) { return one(PostStocktake(v, r.name, st.ID, now)) }
		} else {
			c := Count{Product: product, Bin: bin, Qty: int64(rapid.IntRange(0, 12).Draw(t, "count"))}
			if len(st.Lines) > 0 && rapid.Bool().Draw(t, "book-line") {
				l := rapid.SampledFrom(st.Lines).Draw(t, "line")
				c = Count{Product: l.Product, Bin: l.Bin, Batch: l.Batch, Qty: c.Qty}
			} else if product != "P2" {
				c.Batch = rapid.SampledFrom(propBatches).Draw(t, "batch")
			}
			cmd = func(v replication.Tx) ([]replication.Draft, error) {
				return one(RecordCount(v, r.name, st.ID, []Count{c}))
			}
		}
	case 7:
		id := g.next()
		cmd = func(v replication.Tx) ([]replication.Draft, error) {
			return one(ShipTransfer(v, r.name, id, TransferSpec{From: own, To: other, Lines: []IssueLine{{Product: product, Qty: qty}}}, now))
		}
	case 8:
		// Receive a transfer shipped to own (known here or not).
		peer := w.wa
		if r == w.wa {
			peer = w.wb
		}
		var shipped []string
		for _, ev := range peer.log {
			id := ev.Entity[len("transfer/"):]
			if done, _ := exists(r.view(), trReceivedKey(id)); ev.Kind == KindTransferShipped && !done {
				shipped = append(shipped, id)
			}
		}
		if len(shipped) == 0 {
			return
		}
		tid := rapid.SampledFrom(shipped).Draw(t, "transfer")
		short := int64(rapid.IntRange(0, 2).Draw(t, "short"))
		cmd = func(v replication.Tx) ([]replication.Draft, error) {
			rc := TransferReceipt{From: other, To: own, Bin: bin}
			if s, err := shippedOf(v, tid); err == nil && s != nil && short > 0 {
				for _, l := range s.GetLines() {
					if q := l.GetQty() - short; q > 0 {
						rc.Lines = append(rc.Lines, ReceiptLine{Product: l.GetProduct(), Batch: l.GetBatch(), Qty: q})
					}
				}
			} else if s == nil {
				// The goods came before the event: the clerk types them in.
				rc.Lines = []ReceiptLine{{Product: "P2", Qty: qty}}
			}
			return one(ReceiveTransfer(v, r.name, tid, rc, now))
		}
	case 9:
		id := g.next()
		cmd = func(v replication.Tx) ([]replication.Draft, error) {
			return one(Reserve(v, r.name, id, ReserveSpec{Warehouse: own, Product: product, Qty: qty, Ref: "SO"}, now))
		}
	case 10:
		all, _, err := ListReservations(r.view(), own, "", "", 20)
		if err != nil {
			t.Fatal(err)
		}
		var rs []*Reservation
		for _, res := range all {
			if res.Status == ReservationActive || rapid.IntRange(0, 9).Draw(t, "closed-res") == 0 {
				rs = append(rs, res)
			}
		}
		if len(rs) == 0 {
			return
		}
		res := rapid.SampledFrom(rs).Draw(t, "reservation")
		if rapid.Bool().Draw(t, "ship") {
			cmd = func(v replication.Tx) ([]replication.Draft, error) { return one(Ship(v, r.name, res.ID, now)) }
		} else {
			cmd = func(v replication.Tx) ([]replication.Draft, error) { return one(Release(v, r.name, res.ID, "")) }
		}
	}
	before := r.digest(t)
	if _, err := r.exec(t, cmd); err != nil && r.digest(t) != before {
		t.Fatalf("refused command changed the views: %v", err)
	}
	noNegative(t, r, own)
}

// TestStockConvergeProp: two warehouse nodes record receipts, issues,
// bin moves, stocktakes, transfers to each other and reservations, each
// deciding from its own partial view; replicas that apply their events in
// any interleaving end with identical views, stock equal to the sum of
// the moves, and no command ever drove a bin and batch negative at the
// node that decided it.
func TestStockConvergeProp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := newWorld(t)
		g := &idGen{}
		for range rapid.IntRange(40, 120).Draw(t, "steps") {
			if rapid.IntRange(0, 3).Draw(t, "deliver") == 0 {
				from, to := w.wa, w.wb
				if rapid.Bool().Draw(t, "dir") {
					from, to = w.wb, w.wa
				}
				to.pull(t, from, rapid.IntRange(0, 10).Draw(t, "n"))
				continue
			}
			r := w.wa
			if rapid.Bool().Draw(t, "at-b") {
				r = w.wb
			}
			w.step(t, g, r)
		}
		streams := [][]*replication.Event{w.wa.log, w.wb.log}
		a, av := reptest.ApplyAll(t, w.reg, reptest.Interleave(t, streams, "a"))
		_, bv := reptest.ApplyAll(t, w.reg, reptest.Interleave(t, streams, "b"))
		if av.Digest() != bv.Digest() {
			t.Fatalf("replicas diverged")
		}
		exchange(t, w.wa, w.wb)
		if w.wa.digest(t) != av.Digest() || w.wb.digest(t) != av.Digest() {
			t.Fatalf("the nodes differ from the replicas")
		}
		stockIsSumOfMoves(t, replication.ReadViews(a))
		// The read side copes with whatever the events left.
		v := replication.ReadViews(a)
		for _, wh := range []string{"A", "B"} {
			if _, err := Alerts(v, wh, w.s.now); err != nil {
				t.Fatal(err)
			}
			if _, _, err := ListTransfers(v, wh, "", 100); err != nil {
				t.Fatal(err)
			}
			if _, _, err := ListStocktakes(v, wh, "", 100); err != nil {
				t.Fatal(err)
			}
			if _, _, err := ListStock(v, wh, "", 100); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := ListMoves(v, MoveFilter{}, "", 1000); err != nil {
			t.Fatal(err)
		}
	})
}

// TestStocktakeProp: whatever moves happen while a sheet is open, posting
// sets each counted line to counted + the moves since the open, and
// leaves the others at book + the moves since the open.
func TestStocktakeProp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := newWorld(t)
		g := &idGen{}
		type line struct{ p, bin, batch string }
		lines := []line{{"P2", "G1", ""}, {"P2", "G2", ""}, {"P1", "G1", "B1"}, {"P1", "G1", "B2"}, {"P1", "G2", "B1"}}
		receive := func(l line, q int64) {
			w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
				return one(RecordReceipt(v, "wa", g.next(), Receipt{Warehouse: "A", Type: ReceiptOther,
					Lines: []ReceiptLine{{Product: l.p, Bin: l.bin, Batch: l.batch, Qty: q}}}, w.s.now))
			})
		}
		for _, l := range lines {
			if n := rapid.IntRange(0, 10).Draw(t, "initial"); n > 0 {
				receive(l, int64(n))
			}
		}
		book := map[line]int64{}
		for _, l := range lines {
			book[l] = onHand(t, w.wa, "A", l.p, l.bin, l.batch)
		}
		sid := g.next()
		w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
			return one(OpenStocktake(v, "wa", sid, StocktakeSpec{Warehouse: "A", Type: StocktakePeriodic}, w.s.now))
		})
		since := map[line]int64{}
		counts := map[line]int64{}
		for range rapid.IntRange(0, 30).Draw(t, "steps") {
			l := rapid.SampledFrom(lines).Draw(t, "line")
			q := int64(rapid.IntRange(1, 6).Draw(t, "qty"))
			w.s.advance(time.Minute)
			switch rapid.IntRange(0, 2).Draw(t, "action") {
			case 0:
				receive(l, q)
				since[l] += q
			case 1:
				_, err := w.wa.exec(t, func(v replication.Tx) ([]replication.Draft, error) {
					return one(RecordIssue(v, "wa", g.next(), Issue{Warehouse: "A", Type: IssueOrder,
						Lines: []IssueLine{{Product: l.p, Bin: l.bin, Batch: l.batch, Qty: q}}}, w.s.now))
				})
				if err == nil {
					since[l] -= q
				}
			case 2:
				c := int64(rapid.IntRange(0, 15).Draw(t, "count"))
				w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
					return one(RecordCount(v, "wa", sid, []Count{{Product: l.p, Bin: l.bin, Batch: l.batch, Qty: c}}))
				})
				counts[l] = c
			}
		}
		_, err := w.wa.exec(t, func(v replication.Tx) ([]replication.Draft, error) { return one(PostStocktake(v, "wa", sid, w.s.now)) })
		if len(counts) == 0 {
			if err == nil {
				t.Fatal("a sheet with nothing counted posted")
			}
			return
		}
		negative := false
		for l, c := range counts {
			negative = negative || c+since[l] < 0
		}
		if negative {
			if err == nil {
				t.Fatal("a post leaving a line negative was accepted")
			}
			return
		}
		if err != nil {
			t.Fatalf("post: %v", err)
		}
		for _, l := range lines {
			want := book[l] + since[l]
			if c, ok := counts[l]; ok {
				want = c + since[l]
			}
			if got := onHand(t, w.wa, "A", l.p, l.bin, l.batch); got != want {
				t.Fatalf("%v = %d after post, want %d (book %d, counted %v, moves since %d)", l, got, want, book[l], counts[l], since[l])
			}
		}
	})
}
