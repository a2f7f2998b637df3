package warehouse

import (
	"slices"
	"testing"
	"time"

	"branchline/fault"
	"branchline/replication"
	"branchline/replication/reptest"
)

var ids = replication.NewIDs()

func newID() string { return ids.New(time.Now()) }

// world is two warehouse nodes: "wa" owns warehouse A, "wb" owns B.
type world struct {
	s      *sim
	reg    *replication.Registry
	wa, wb *replica
}

// newWorld sets up products and warehouses at wa and sends them to wb:
// P1 batch-tracked (FIFO), P2 without batches, P3 batch-tracked FEFO with
// a 30-day shelf life, K a bundle of one P1 and two P2; A with good bins
// G1, G2 and defective bin D; B with good bin G1 and defective bin D.
func newWorld(t tb) *world {
	t.Helper()
	s := newSim()
	reg := newRegistry()
	w := &world{s: s, reg: reg, wa: newReplica(t, s, "wa", reg), wb: newReplica(t, s, "wb", reg)}
	for _, p := range []Product{
		{ID: "P1", Name: "Tea 250g", Category: "tea", RetailPrice: 3900, CostPrice: 2100, BatchTracked: true, Barcode: "6900000000011"},
		{ID: "P2", Name: "Cup", RetailPrice: 1500, Class: ClassGift},
		{ID: "P3", Name: "Milk", BatchTracked: true, FEFO: true, ExpiryDays: 30},
	} {
		w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(SetProduct(v, p, nil)) })
	}
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(SetProduct(v, Product{ID: "K", Name: "Tea set", Components: []Component{{"P2", 2}, {"P1", 1}}}, nil))
	})
	for _, wh := range []Warehouse{{ID: "A", Name: "Shanghai", Owner: "wa"}, {ID: "B", Name: "Beijing", Owner: "wb"}} {
		w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(SetWarehouse(v, wh, nil)) })
	}
	for _, b := range []struct {
		wh string
		b  Bin
	}{{"A", Bin{ID: "G1"}}, {"A", Bin{ID: "G2"}}, {"A", Bin{ID: "D", Kind: BinDefective}}, {"B", Bin{ID: "G1"}}, {"B", Bin{ID: "D", Kind: BinDefective}}} {
		w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(SetBin(v, b.wh, b.b)) })
	}
	w.wb.pull(t, w.wa, -1)
	return w
}

func (w *world) receive(t tb, r *replica, wh string, lines ...ReceiptLine) string {
	t.Helper()
	id := newID()
	r.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordReceipt(v, r.name, id, Receipt{Warehouse: wh, Type: ReceiptPurchase, Lines: lines}, w.s.now))
	})
	return id
}

func onHand(t tb, r *replica, wh, p, bin, batch string) int64 {
	t.Helper()
	n, err := replication.GetCounter(r.view(), lineKey(wh, p, bin, batch))
	if err != nil {
		t.Fatalf("counter: %v", err)
	}
	return n
}

func TestProductValidation(t *testing.T) {
	w := newWorld(t)
	v := w.wa.view()
	for _, tc := range []struct {
		name   string
		p      Product
		fields []string
		code   string
		err    error
	}{
		{name: "bad code", p: Product{ID: "a b", Name: "x"}, code: "bad_code"},
		{name: "new without name", p: Product{ID: "N1"}, fields: []string{"category"}, code: "required"},
		{name: "empty name", p: Product{ID: "N1", Name: " "}, code: "required"},
		{name: "name with newline", p: Product{ID: "N1", Name: "a\nb"}, code: "bad_text"},
		{name: "bad class", p: Product{ID: "N1", Name: "x", Class: "free"}, code: "bad_class"},
		{name: "negative price", p: Product{ID: "N1", Name: "x", RetailPrice: -1}, code: "bad_number"},
		{name: "unknown field", p: Product{ID: "P1"}, fields: []string{"colour"}, code: "unknown_field"},
		{name: "barcode taken", p: Product{ID: "N1", Name: "x", Barcode: "6900000000011"}, err: fault.ErrConflict},
		{name: "bad barcode", p: Product{ID: "N1", Name: "x", Barcode: "69 00"}, code: "bad_barcode"},
		{name: "unknown component", p: Product{ID: "N1", Name: "x", Components: []Component{{"ZZ", 1}}}, code: "unknown_product"},
		{name: "nested bundle", p: Product{ID: "N1", Name: "x", Components: []Component{{"K", 1}}}, code: "nested"},
		{name: "self", p: Product{ID: "N1", Name: "x", Components: []Component{{"N1", 1}}}, code: "self"},
		{name: "batch bundle", p: Product{ID: "N1", Name: "x", BatchTracked: true, Components: []Component{{"P2", 1}}}, code: "bundle"},
		{name: "zero component qty", p: Product{ID: "N1", Name: "x", Components: []Component{{"P2", 0}}}, code: "bad_number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SetProduct(v, tc.p, tc.fields)
			if tc.err != nil {
				wantErr(t, err, tc.err)
				return
			}
			wantCode(t, err, tc.code)
		})
	}
	// A product with stock cannot become a bundle.
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P2", Bin: "G1", Qty: 1})
	_, err := SetProduct(w.wa.view(), Product{ID: "P2", Components: []Component{{"P1", 1}}}, []string{"components"})
	wantErr(t, err, fault.ErrConflict)

	p, err := GetProduct(w.wa.view(), "K")
	if err != nil || !p.IsBundle() || len(p.Components) != 2 || p.Components[0] != (Component{"P1", 1}) {
		t.Fatalf("bundle K = %+v, %v", p, err)
	}
	list, next, err := ListProducts(w.wa.view(), "", 2)
	if err != nil || len(list) != 2 || list[0].ID != "K" || next == "" {
		t.Fatalf("ListProducts = %v %q %v", list, next, err)
	}
	list, next, err = ListProducts(w.wa.view(), next, 10)
	if err != nil || len(list) != 2 || list[0].ID != "P2" || next != "" {
		t.Fatalf("ListProducts page 2 = %v %q %v", list, next, err)
	}
}

func TestBarcodeConflict(t *testing.T) {
	w := newWorld(t)
	// Two nodes give two new products the same barcode, unaware of each
	// other; the older claim wins everywhere.
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(SetProduct(v, Product{ID: "X1", Name: "one", Barcode: "123"}, nil))
	})
	w.s.advance(time.Second)
	w.wb.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(SetProduct(v, Product{ID: "X2", Name: "two", Barcode: "123"}, nil))
	})
	exchange(t, w.wa, w.wb)
	for _, r := range []*replica{w.wa, w.wb} {
		p, err := LookupBarcode(r.view(), "123")
		if err != nil || p.ID != "X1" || len(p.BarcodeConflicts) != 1 || p.BarcodeConflicts[0] != "X2" {
			t.Fatalf("%s: lookup = %+v, %v", r.name, p, err)
		}
		p2, err := GetProduct(r.view(), "X2")
		if err != nil || len(p2.BarcodeConflicts) != 1 {
			t.Fatalf("%s: X2 = %+v, %v", r.name, p2, err)
		}
	}
	if w.wa.digest(t) != w.wb.digest(t) {
		t.Fatal("replicas differ")
	}
	// Moving X2 to another barcode resolves it.
	w.wb.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(SetProduct(v, Product{ID: "X2", Barcode: "456"}, []string{"barcode"}))
	})
	if p, err := LookupBarcode(w.wb.view(), "123"); err != nil || len(p.BarcodeConflicts) != 0 {
		t.Fatalf("after fix: %+v, %v", p, err)
	}
	if _, err := LookupBarcode(w.wb.view(), "999"); !isNotFound(err) {
		t.Fatalf("unknown barcode: %v", err)
	}
}

func TestMoveBadInput(t *testing.T) {
	w := newWorld(t)
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P2", Bin: "G1", Qty: 5})
	now := w.s.now
	for _, tc := range []struct {
		name string
		cmd  func(v replication.Tx) (replication.Draft, error)
		node string
		code string
		err  error
	}{
		{name: "unknown product", code: "unknown_product", cmd: func(v replication.Tx) (replication.Draft, error) {
			return RecordReceipt(v, "wa", newID(), Receipt{Warehouse: "A", Type: ReceiptPurchase, Lines: []ReceiptLine{{Product: "NOPE", Bin: "G1", Qty: 1}}}, now)
		}},
		{name: "negative quantity", code: "not_positive", cmd: func(v replication.Tx) (replication.Draft, error) {
			return RecordReceipt(v, "wa", newID(), Receipt{Warehouse: "A", Type: ReceiptPurchase, Lines: []ReceiptLine{{Product: "P2", Bin: "G1", Qty: -3}}}, now)
		}},
		{name: "unknown bin", code: "unknown_bin", cmd: func(v replication.Tx) (replication.Draft, error) {
			return RecordReceipt(v, "wa", newID(), Receipt{Warehouse: "A", Type: ReceiptPurchase, Lines: []ReceiptLine{{Product: "P2", Bin: "Z9", Qty: 1}}}, now)
		}},
		{name: "batch required", code: "required", cmd: func(v replication.Tx) (replication.Draft, error) {
			return RecordReceipt(v, "wa", newID(), Receipt{Warehouse: "A", Type: ReceiptPurchase, Lines: []ReceiptLine{{Product: "P1", Bin: "G1", Qty: 1}}}, now)
		}},
		{name: "batch of untracked", code: "not_tracked", cmd: func(v replication.Tx) (replication.Draft, error) {
			return RecordReceipt(v, "wa", newID(), Receipt{Warehouse: "A", Type: ReceiptPurchase, Lines: []ReceiptLine{{Product: "P2", Bin: "G1", Batch: "B1", Qty: 1}}}, now)
		}},
		{name: "bad receipt type", code: "bad_type", cmd: func(v replication.Tx) (replication.Draft, error) {
			return RecordReceipt(v, "wa", newID(), Receipt{Warehouse: "A", Type: "gift", Lines: []ReceiptLine{{Product: "P2", Bin: "G1", Qty: 1}}}, now)
		}},
		{name: "no lines", code: "required", cmd: func(v replication.Tx) (replication.Draft, error) {
			return RecordReceipt(v, "wa", newID(), Receipt{Warehouse: "A", Type: ReceiptOther}, now)
		}},
		{name: "unknown warehouse", code: "unknown_warehouse", cmd: func(v replication.Tx) (replication.Draft, error) {
			return RecordReceipt(v, "wa", newID(), Receipt{Warehouse: "Q", Type: ReceiptOther, Lines: []ReceiptLine{{Product: "P2", Bin: "G1", Qty: 1}}}, now)
		}},
		{name: "not the owner", err: fault.ErrDenied, cmd: func(v replication.Tx) (replication.Draft, error) {
			return RecordReceipt(v, "wb", newID(), Receipt{Warehouse: "A", Type: ReceiptOther, Lines: []ReceiptLine{{Product: "P2", Bin: "G1", Qty: 1}}}, now)
		}},
		{name: "issue beyond stock", code: "insufficient_stock", cmd: func(v replication.Tx) (replication.Draft, error) {
			return RecordIssue(v, "wa", newID(), Issue{Warehouse: "A", Type: IssueRequisition, Lines: []IssueLine{{Product: "P2", Bin: "G1", Qty: 6}}}, now)
		}},
		{name: "issue from another bin", code: "insufficient_stock", cmd: func(v replication.Tx) (replication.Draft, error) {
			return RecordIssue(v, "wa", newID(), Issue{Warehouse: "A", Type: IssueRequisition, Lines: []IssueLine{{Product: "P2", Bin: "G2", Qty: 1}}}, now)
		}},
		{name: "two lines beyond stock", code: "insufficient_stock", cmd: func(v replication.Tx) (replication.Draft, error) {
			return RecordIssue(v, "wa", newID(), Issue{Warehouse: "A", Type: IssueDamaged, Lines: []IssueLine{{Product: "P2", Bin: "G1", Qty: 3}, {Product: "P2", Bin: "G1", Qty: 3}}}, now)
		}},
		{name: "bad issue type", code: "bad_type", cmd: func(v replication.Tx) (replication.Draft, error) {
			return RecordIssue(v, "wa", newID(), Issue{Warehouse: "A", Type: ReceiptRepaired, Lines: []IssueLine{{Product: "P2", Bin: "G1", Qty: 1}}}, now)
		}},
		{name: "bin move to same bin", code: "same_bin", cmd: func(v replication.Tx) (replication.Draft, error) {
			return RecordBinMove(v, "wa", newID(), BinMove{Warehouse: "A", Lines: []BinMoveLine{{Product: "P2", From: "G1", To: "G1", Qty: 1}}}, now)
		}},
		{name: "bad id", code: "bad_id", cmd: func(v replication.Tx) (replication.Draft, error) {
			return RecordReceipt(v, "wa", "x", Receipt{Warehouse: "A", Type: ReceiptOther, Lines: []ReceiptLine{{Product: "P2", Bin: "G1", Qty: 1}}}, now)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.wa.digest(t)
			_, err := w.wa.exec(t, func(v replication.Tx) ([]replication.Draft, error) { return one(tc.cmd(v)) })
			if tc.err != nil {
				wantErr(t, err, tc.err)
			} else {
				wantCode(t, err, tc.code)
			}
			if w.wa.digest(t) != before {
				t.Fatal("a refused command changed the views")
			}
		})
	}
}

func TestFIFO(t *testing.T) {
	w := newWorld(t)
	// B2 arrives first (day 0), B1 a day later: FIFO goes by receipt, not
	// by batch code.
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P1", Bin: "G1", Batch: "B2", Qty: 5})
	w.s.advance(24 * time.Hour)
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P1", Bin: "G1", Batch: "B1", Qty: 5})
	w.s.advance(24 * time.Hour)
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P1", Bin: "G1", Batch: "B3", Qty: 5})
	id := newID()
	evs := w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordIssue(v, "wa", id, Issue{Warehouse: "A", Type: IssueOrder, Lines: []IssueLine{{Product: "P1", Bin: "G1", Qty: 7}}}, w.s.now))
	})
	if len(evs) != 1 {
		t.Fatal("one event")
	}
	m, err := GetMove(w.wa.view(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Lines) != 2 || m.Lines[0].Batch != "B2" || m.Lines[0].Qty != -5 || m.Lines[1].Batch != "B1" || m.Lines[1].Qty != -2 {
		t.Fatalf("FIFO picked %+v", m.Lines)
	}
	if onHand(t, w.wa, "A", "P1", "G1", "B2") != 0 || onHand(t, w.wa, "A", "P1", "G1", "B1") != 3 || onHand(t, w.wa, "A", "P1", "G1", "B3") != 5 {
		t.Fatal("stock after FIFO issue")
	}
	// A pinned batch is taken as asked.
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordIssue(v, "wa", newID(), Issue{Warehouse: "A", Type: IssueOrder, Lines: []IssueLine{{Product: "P1", Bin: "G1", Batch: "B3", Qty: 1}}}, w.s.now))
	})
	if onHand(t, w.wa, "A", "P1", "G1", "B3") != 4 {
		t.Fatal("pinned batch")
	}
	st, err := GetStock(w.wa.view(), "A", "P1")
	if err != nil || st.OnHand != 7 || st.Good != 7 || st.Available != 7 || len(st.Lines) != 2 {
		t.Fatalf("stock = %+v, %v", st, err)
	}
}

func TestFEFO(t *testing.T) {
	w := newWorld(t)
	day := 24 * time.Hour
	// E1 received first but expires later; E2 received later, expires
	// first; E3 has the product's default shelf life (30 days from now).
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P3", Bin: "G1", Batch: "E1", Qty: 4, Expires: w.s.now.Add(60 * day)})
	w.s.advance(day)
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P3", Bin: "G1", Batch: "E2", Qty: 4, Expires: w.s.now.Add(10 * day)})
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P3", Bin: "G1", Batch: "E3", Qty: 4})
	d, err := batchDates(w.wa.view(), "P3", "E3")
	if err != nil || !d.Expires.Equal(w.s.now.AddDate(0, 0, 30)) {
		t.Fatalf("default expiry = %v, %v", d, err)
	}
	id := newID()
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordIssue(v, "wa", id, Issue{Warehouse: "A", Type: IssueOrder, Lines: []IssueLine{{Product: "P3", Bin: "G1", Qty: 6}}}, w.s.now))
	})
	m, err := GetMove(w.wa.view(), id)
	if err != nil || len(m.Lines) != 2 || m.Lines[0].Batch != "E2" || m.Lines[0].Qty != -4 || m.Lines[1].Batch != "E3" || m.Lines[1].Qty != -2 {
		t.Fatalf("FEFO picked %+v, %v", m, err)
	}
}

func TestBundleExpanded(t *testing.T) {
	w := newWorld(t)
	id := w.receive(t, w.wa, "A", ReceiptLine{Product: "K", Bin: "G1", Batch: "B1", Qty: 3})
	m, err := GetMove(w.wa.view(), id)
	if err != nil || len(m.Lines) != 2 {
		t.Fatalf("bundle receipt = %+v, %v", m, err)
	}
	if onHand(t, w.wa, "A", "P1", "G1", "B1") != 3 || onHand(t, w.wa, "A", "P2", "G1", "") != 6 {
		t.Fatal("components received")
	}
	if n, _ := replication.GetCounter(w.wa.view(), totalKey("A", "K")); n != 0 {
		t.Fatal("a bundle holds no stock")
	}
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordIssue(v, "wa", newID(), Issue{Warehouse: "A", Type: IssueOrder, Lines: []IssueLine{{Product: "K", Bin: "G1", Qty: 2}}}, w.s.now))
	})
	if onHand(t, w.wa, "A", "P1", "G1", "B1") != 1 || onHand(t, w.wa, "A", "P2", "G1", "") != 2 {
		t.Fatal("components issued")
	}
	// Two bundles need four cups; there are two.
	_, err = w.wa.exec(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordIssue(v, "wa", newID(), Issue{Warehouse: "A", Type: IssueOrder, Lines: []IssueLine{{Product: "K", Bin: "G1", Qty: 2}}}, w.s.now))
	})
	wantCode(t, err, "insufficient_stock")
	// A reservation of the bundle reserves its components.
	rid := newID()
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(Reserve(v, "wa", rid, ReserveSpec{Warehouse: "A", Product: "K", Qty: 1, Ref: "SO-1"}, w.s.now))
	})
	for p, want := range map[string]int64{"P1": 1, "P2": 2} {
		st, err := GetStock(w.wa.view(), "A", p)
		if err != nil || st.Reserved != want || st.Available != st.Good-want {
			t.Fatalf("%s stock = %+v, %v", p, st, err)
		}
	}
	// The bundle's stock is what its components make: one set on hand,
	// none available.
	if st, err := GetStock(w.wa.view(), "A", "K"); err != nil || st.OnHand != 1 || st.Available != 0 {
		t.Fatalf("K stock = %+v, %v", st, err)
	}
}

func TestBinMove(t *testing.T) {
	w := newWorld(t)
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P1", Bin: "G1", Batch: "B1", Qty: 5})
	id := newID()
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordBinMove(v, "wa", id, BinMove{Warehouse: "A", Lines: []BinMoveLine{{Product: "P1", From: "G1", To: "D", Qty: 2}}}, w.s.now))
	})
	st, err := GetStock(w.wa.view(), "A", "P1")
	if err != nil || st.OnHand != 5 || st.Good != 3 || st.Available != 3 {
		t.Fatalf("after bin move %+v, %v", st, err)
	}
	m, err := GetMove(w.wa.view(), id)
	if err != nil || m.Direction != DirBinMove || len(m.Lines) != 2 || m.Lines[1].Bin != "D" || m.Lines[1].Qty != 2 {
		t.Fatalf("move = %+v, %v", m, err)
	}
}

func TestListMoves(t *testing.T) {
	w := newWorld(t)
	var recv []string
	for i := range 5 {
		recv = append(recv, w.receive(t, w.wa, "A", ReceiptLine{Product: "P2", Bin: "G1", Qty: int64(i + 1)}))
		w.s.advance(time.Minute)
	}
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P1", Bin: "G1", Batch: "B1", Qty: 1})
	iss := newID()
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordIssue(v, "wa", iss, Issue{Warehouse: "A", Type: IssueDamaged, Lines: []IssueLine{{Product: "P2", Bin: "G1", Qty: 1}}}, w.s.now))
	})
	v := w.wa.view()
	all, _, err := ListMoves(v, MoveFilter{Warehouse: "A"}, "", 100)
	if err != nil || len(all) != 7 || all[0].ID != iss {
		t.Fatalf("all = %d, %v", len(all), err)
	}
	// Paging by two, product P2 only, newest first.
	var got []string
	token := ""
	for {
		page, next, err := ListMoves(v, MoveFilter{Product: "P2", Direction: DirReceipt}, token, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			got = append(got, m.ID)
		}
		if next == "" {
			break
		}
		token = next
	}
	if len(got) != 5 || got[0] != recv[4] || got[4] != recv[0] {
		t.Fatalf("paged = %v want reverse of %v", got, recv)
	}
	// A date range: the second to the fourth receipt.
	t0 := time.UnixMilli(reptest.BaseMillis)
	page, _, err := ListMoves(v, MoveFilter{Warehouse: "A", Type: ReceiptPurchase, From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute)}, "", 10)
	if err != nil || len(page) != 3 || page[0].ID != recv[3] || page[2].ID != recv[1] {
		t.Fatalf("range = %v, %v", page, err)
	}
	if _, _, err := ListMoves(v, MoveFilter{}, "zz", 10); err == nil {
		t.Fatal("bad token accepted")
	}
	// A set of warehouses: nil is every one, empty none. P2 moved six
	// times in A, once in B.
	inB := w.receive(t, w.wb, "B", ReceiptLine{Product: "P2", Bin: "G1", Qty: 3})
	w.wa.pull(t, w.wb, -1)
	v = w.wa.view()
	for _, c := range []struct {
		name string
		in   []string
		want int
		hasB bool
	}{{"every warehouse", nil, 7, true}, {"A only", []string{"A"}, 6, false}, {"B only", []string{"B"}, 1, true}, {"none", []string{}, 0, false}} {
		got, _, err := ListMoves(v, MoveFilter{Product: "P2", Warehouses: c.in}, "", 100)
		if err != nil || len(got) != c.want {
			t.Errorf("%s: %d moves of P2, want %d (%v)", c.name, len(got), c.want, err)
		}
		if slices.ContainsFunc(got, func(m *Move) bool { return m.ID == inB }) != c.hasB {
			t.Errorf("%s: B's receipt listed: %v, want %v", c.name, !c.hasB, c.hasB)
		}
	}
}

func TestStocktake(t *testing.T) {
	w := newWorld(t)
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P2", Bin: "G1", Qty: 10}, ReceiptLine{Product: "P1", Bin: "G1", Batch: "B1", Qty: 4})
	sid := newID()
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(OpenStocktake(v, "wa", sid, StocktakeSpec{Warehouse: "A", Type: StocktakePeriodic, Bin: "G1"}, w.s.now))
	})
	// An overlapping sheet is refused; only the owner opens sheets.
	_, err := w.wa.exec(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(OpenStocktake(v, "wa", newID(), StocktakeSpec{Warehouse: "A", Type: StocktakeOther, Products: []string{"P2"}}, w.s.now))
	})
	wantErr(t, err, fault.ErrConflict)
	_, err = w.wb.exec(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(OpenStocktake(v, "wb", newID(), StocktakeSpec{Warehouse: "A", Type: StocktakeOther}, w.s.now))
	})
	wantErr(t, err, fault.ErrDenied)
	// Moves during the count are not lost: 3 issued, then the shelf was
	// counted as 9 (one missing as of the open).
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordIssue(v, "wa", newID(), Issue{Warehouse: "A", Type: IssueOrder, Lines: []IssueLine{{Product: "P2", Bin: "G1", Qty: 3}}}, w.s.now))
	})
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordCount(v, "wa", sid, []Count{{Product: "P2", Bin: "G1", Qty: 8}}))
	})
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { // counted again: LWW
		return one(RecordCount(v, "wa", sid, []Count{{Product: "P2", Bin: "G1", Qty: 9}, {Product: "P1", Bin: "G1", Batch: "B7", Qty: 2}}))
	})
	_, err = w.wa.exec(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordCount(v, "wa", sid, []Count{{Product: "P2", Bin: "G2", Qty: 1}}))
	})
	wantCode(t, err, "not_on_sheet")
	st, err := GetStocktake(w.wa.view(), sid)
	if err != nil || st.Status != StocktakeOpen || len(st.Lines) != 3 {
		t.Fatalf("sheet = %+v, %v", st, err)
	}
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(PostStocktake(v, "wa", sid, w.s.now)) })
	if got := onHand(t, w.wa, "A", "P2", "G1", ""); got != 6 { // 9 counted − 3 issued since
		t.Fatalf("P2 after post = %d, want 6", got)
	}
	if onHand(t, w.wa, "A", "P1", "G1", "B1") != 4 || onHand(t, w.wa, "A", "P1", "G1", "B7") != 2 {
		t.Fatal("uncounted lines stay, found batches are added")
	}
	before := w.wa.digest(t)
	_, err = w.wa.exec(t, func(v replication.Tx) ([]replication.Draft, error) { return one(PostStocktake(v, "wa", sid, w.s.now)) })
	wantErr(t, err, fault.ErrConflict)
	if w.wa.digest(t) != before {
		t.Fatal("a refused post changed the views")
	}
	m, err := GetMove(w.wa.view(), sid+sufPost)
	if err != nil || m.Direction != DirStocktake || len(m.Lines) != 2 {
		t.Fatalf("post record = %+v, %v", m, err)
	}
	list, _, err := ListStocktakes(w.wa.view(), "A", "", 10)
	if err != nil || len(list) != 1 || list[0].Status != StocktakePosted {
		t.Fatalf("list = %v, %v", list, err)
	}
	// A count that the moves since the open make negative is refused.
	sid2 := newID()
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(OpenStocktake(v, "wa", sid2, StocktakeSpec{Warehouse: "A", Type: StocktakeOffset, Products: []string{"P2"}}, w.s.now))
	})
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordIssue(v, "wa", newID(), Issue{Warehouse: "A", Type: IssueOrder, Lines: []IssueLine{{Product: "P2", Bin: "G1", Qty: 5}}}, w.s.now))
	})
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordCount(v, "wa", sid2, []Count{{Product: "P2", Bin: "G1", Qty: 0}}))
	})
	_, err = w.wa.exec(t, func(v replication.Tx) ([]replication.Draft, error) { return one(PostStocktake(v, "wa", sid2, w.s.now)) })
	wantCode(t, err, "negative_stock")
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(CancelStocktake(v, "wa", sid2, "recount"))
	})
	if st, _ := GetStocktake(w.wa.view(), sid2); st.Status != StocktakeCancelled {
		t.Fatalf("cancelled sheet = %+v", st)
	}
}

// TestStocktakeDoublePost: two posts of one sheet (an ownership race)
// arrive in either order; only the first one's deltas count.
func TestStocktakeDoublePost(t *testing.T) {
	w := newWorld(t)
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P2", Bin: "G1", Qty: 10})
	sid := newID()
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(OpenStocktake(v, "wa", sid, StocktakeSpec{Warehouse: "A", Type: StocktakePeriodic}, w.s.now))
	})
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordCount(v, "wa", sid, []Count{{Product: "P2", Bin: "G1", Qty: 7}}))
	})
	w.wb.pull(t, w.wa, -1)
	// Ownership of A moves to wb while wa posts offline.
	w.wb.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(SetWarehouse(v, Warehouse{ID: "A", Owner: "wb"}, []string{"owner"}))
	})
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(PostStocktake(v, "wa", sid, w.s.now)) })
	w.s.advance(time.Second)
	w.wb.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordCount(v, "wb", sid, []Count{{Product: "P2", Bin: "G1", Qty: 4}}))
	})
	w.wb.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(PostStocktake(v, "wb", sid, w.s.now)) })
	exchange(t, w.wa, w.wb)
	for _, r := range []*replica{w.wa, w.wb} {
		if got := onHand(t, r, "A", "P2", "G1", ""); got != 7 {
			t.Fatalf("%s: on hand %d, want 7 (the first post)", r.name, got)
		}
		st, err := GetStocktake(r.view(), sid)
		if err != nil || st.Status != StocktakePosted || st.Conflicts != 1 {
			t.Fatalf("%s: sheet %+v, %v", r.name, st, err)
		}
	}
	if w.wa.digest(t) != w.wb.digest(t) {
		t.Fatal("replicas differ")
	}
}

func TestTransferWithDiscrepancy(t *testing.T) {
	w := newWorld(t)
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P1", Bin: "G1", Batch: "B1", Qty: 6}, ReceiptLine{Product: "P2", Bin: "G2", Qty: 10})
	tid := newID()
	_, err := w.wb.exec(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(ShipTransfer(v, "wb", tid, TransferSpec{From: "A", To: "B", Lines: []IssueLine{{Product: "P2", Qty: 1}}}, w.s.now))
	})
	wantErr(t, err, fault.ErrDenied)
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(ShipTransfer(v, "wa", tid, TransferSpec{From: "A", To: "B", Lines: []IssueLine{{Product: "P1", Qty: 5}, {Product: "P2", Qty: 10}}}, w.s.now))
	})
	if onHand(t, w.wa, "A", "P1", "G1", "B1") != 1 || onHand(t, w.wa, "A", "P2", "G2", "") != 0 {
		t.Fatal("shipped stock left A")
	}
	// A third replica (the hub) sees B's receipt before A's shipment.
	hub := newReplica(t, w.s, "hub", w.reg)
	hub.pull(t, w.wa, len(w.wa.log)-1)
	w.wb.pull(t, w.wa, -1)
	if st, _ := GetStock(w.wb.view(), "B", "P2"); st.InTransit != 10 {
		t.Fatalf("in transit to B = %d", st.InTransit)
	}
	// 4 P1 arrive good and 1 damaged; 9 P2 arrive: one short.
	w.wb.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(ReceiveTransfer(v, "wb", tid, TransferReceipt{Lines: []ReceiptLine{
			{Product: "P1", Batch: "B1", Bin: "G1", Qty: 4}, {Product: "P1", Batch: "B1", Bin: "D", Qty: 1}, {Product: "P2", Bin: "G1", Qty: 9}}}, w.s.now))
	})
	hub.pull(t, w.wb, -1)
	early, err := GetTransfer(hub.view(), tid)
	if err != nil || early.Status != TransferReceivedEarly {
		t.Fatalf("early = %+v, %v", early, err)
	}
	if n, _ := replication.GetCounter(hub.view(), transitKey(tid, "P2", "")); n != -9 {
		t.Fatalf("in transit before the shipment = %d, want -9", n)
	}
	hub.pull(t, w.wa, -1)
	w.wa.pull(t, w.wb, -1)
	for _, r := range []*replica{w.wa, w.wb, hub} {
		tr, err := GetTransfer(r.view(), tid)
		if err != nil || tr.Status != TransferReceived || !tr.Discrepancy || len(tr.Lines) != 2 {
			t.Fatalf("%s: transfer %+v, %v", r.name, tr, err)
		}
		if l := tr.Lines[0]; l.Product != "P1" || l.Shipped != 5 || l.Received != 5 || l.Damaged != 1 || l.Difference != 0 {
			t.Fatalf("P1 line %+v", l)
		}
		if l := tr.Lines[1]; l.Product != "P2" || l.Shipped != 10 || l.Received != 9 || l.Difference != 1 {
			t.Fatalf("P2 line %+v", l)
		}
		if st, _ := GetStock(r.view(), "B", "P2"); st.OnHand != 9 || st.InTransit != 0 {
			t.Fatalf("%s: B stock %+v", r.name, st)
		}
	}
	if w.wa.digest(t) != hub.digest(t) || w.wb.digest(t) != hub.digest(t) {
		t.Fatal("replicas differ")
	}
	_, err = w.wb.exec(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(ReceiveTransfer(v, "wb", tid, TransferReceipt{Bin: "G1"}, w.s.now))
	})
	wantErr(t, err, fault.ErrConflict)
	list, _, err := ListTransfers(w.wa.view(), "B", "", 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("transfers of B = %v, %v", list, err)
	}
	// Receiving everything shipped by default.
	t2 := newID()
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(ShipTransfer(v, "wa", t2, TransferSpec{From: "A", To: "B", Bin: "G1", Lines: []IssueLine{{Product: "P1", Qty: 1}}}, w.s.now))
	})
	w.wb.pull(t, w.wa, -1)
	w.wb.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(ReceiveTransfer(v, "wb", t2, TransferReceipt{Bin: "G1"}, w.s.now))
	})
	if tr, _ := GetTransfer(w.wb.view(), t2); tr.Discrepancy || tr.Status != TransferReceived {
		t.Fatalf("full receipt = %+v", tr)
	}
}

func TestAlerts(t *testing.T) {
	w := newWorld(t)
	day := 24 * time.Hour
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P2", Bin: "G1", Qty: 3}, ReceiptLine{Product: "P2", Bin: "D", Qty: 50},
		ReceiptLine{Product: "P3", Bin: "G1", Batch: "OLD", Qty: 2, Expires: w.s.now.Add(2 * day)},
		ReceiptLine{Product: "P3", Bin: "G1", Batch: "MID", Qty: 2, Expires: w.s.now.Add(20 * day)},
		ReceiptLine{Product: "P3", Bin: "G1", Batch: "NEW", Qty: 2, Expires: w.s.now.Add(90 * day)})
	for _, l := range []Limit{{Warehouse: "A", Product: "P2", Min: 5, Safety: 4}, {Warehouse: "A", Product: "P3", Max: 5}} {
		w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(SetLimit(v, l, nil)) })
	}
	_, err := SetLimit(w.wa.view(), Limit{Warehouse: "A", Product: "P2", Min: 9, Max: 3}, nil)
	wantCode(t, err, "above_max")
	_, err = SetLimit(w.wa.view(), Limit{Warehouse: "A", Product: "K", Min: 1}, nil)
	wantCode(t, err, "bundle")
	got, err := Alerts(w.wa.view(), "A", w.s.now.Add(5*day))
	if err != nil {
		t.Fatal(err)
	}
	want := []Alert{
		{Kind: AlertAboveMax, Product: "P3", Qty: 6, Limit: 5},
		{Kind: AlertBelowMin, Product: "P2", Qty: 3, Limit: 5},
		{Kind: AlertBelowSafety, Product: "P2", Qty: 3, Limit: 4},
		{Kind: AlertExpired, Product: "P3", Batch: "OLD", Qty: 2},
		{Kind: AlertExpiring, Product: "P3", Batch: "MID", Qty: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("alerts = %+v", got)
	}
	for i := range want {
		g := got[i]
		g.Expires = time.Time{}
		if g != want[i] {
			t.Fatalf("alert %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	st, _ := GetStock(w.wa.view(), "A", "P2")
	if st.Safety != 4 || st.Available != -1 {
		t.Fatalf("available with safety = %+v", st)
	}
}

func TestReserveLocal(t *testing.T) {
	w := newWorld(t)
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P1", Bin: "G2", Batch: "B2", Qty: 3})
	w.s.advance(time.Hour)
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P1", Bin: "G1", Batch: "B1", Qty: 3}, ReceiptLine{Product: "P1", Bin: "D", Batch: "B0", Qty: 9})
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(SetLimit(v, Limit{Warehouse: "A", Product: "P1", Safety: 1}, nil))
	})
	r1, r2 := newID(), newID()
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(Reserve(v, "wa", r1, ReserveSpec{Warehouse: "A", Product: "P1", Qty: 4, Ref: "SO-1"}, w.s.now))
	})
	// 6 good − 1 safety − 4 reserved: one left.
	_, err := w.wa.exec(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(Reserve(v, "wa", r2, ReserveSpec{Warehouse: "A", Product: "P1", Qty: 2, Ref: "SO-2"}, w.s.now))
	})
	wantCode(t, err, "insufficient_stock")
	// Without sellers only the owner reserves.
	w.wb.pull(t, w.wa, -1)
	_, err = w.wb.exec(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(Reserve(v, "wb", r2, ReserveSpec{Warehouse: "A", Product: "P1", Qty: 1, Ref: "SO-2"}, w.s.now))
	})
	wantErr(t, err, fault.ErrDenied)
	st, _ := GetStock(w.wa.view(), "A", "P1")
	if st.Reserved != 4 || st.Available != 1 {
		t.Fatalf("stock = %+v", st)
	}
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(Ship(v, "wa", r1, w.s.now)) })
	res, err := GetReservation(w.wa.view(), r1)
	if err != nil || res.Status != ReservationShipped || len(res.Shipped) != 2 || res.Shipped[0].Batch != "B2" || res.Shipped[1].Batch != "B1" {
		t.Fatalf("shipped = %+v, %v", res, err)
	}
	st, _ = GetStock(w.wa.view(), "A", "P1")
	if st.Reserved != 0 || st.Good != 2 || st.OnHand != 11 {
		t.Fatalf("after ship = %+v", st)
	}
	_, err = w.wa.exec(t, func(v replication.Tx) ([]replication.Draft, error) { return one(Release(v, "wa", r1, "")) })
	wantErr(t, err, fault.ErrConflict)
	m, err := GetMove(w.wa.view(), r1+sufShip)
	if err != nil || m.Direction != DirIssue || m.Type != IssueOrder || m.Ref != "SO-1" {
		t.Fatalf("ship record %+v, %v", m, err)
	}
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(Reserve(v, "wa", r2, ReserveSpec{Warehouse: "A", Product: "P1", Qty: 1, Ref: "SO-2"}, w.s.now))
	})
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(Release(v, "wa", r2, "cancelled")) })
	if st, _ := GetStock(w.wa.view(), "A", "P1"); st.Reserved != 0 {
		t.Fatalf("released = %+v", st)
	}
	list, _, err := ListReservations(w.wa.view(), "", "SO-2", "", 10)
	if err != nil || len(list) != 1 || list[0].Status != ReservationReleased {
		t.Fatalf("by ref = %v, %v", list, err)
	}
}

func TestPurchaseOrder(t *testing.T) {
	w := newWorld(t)
	po := newID()
	w.wb.must(t, func(v replication.Tx) ([]replication.Draft, error) { // head office may buy for A
		return one(CreatePurchaseOrder(v, po, PurchaseSpec{Warehouse: "A", Supplier: "Tea Co.", Lines: []POLine{{Product: "P1", Ordered: 10, Price: 2100}, {Product: "K", Ordered: 2}}}, w.s.now))
	})
	w.wa.pull(t, w.wb, -1)
	got, err := GetPurchaseOrder(w.wa.view(), po)
	if err != nil || len(got.Lines) != 2 || got.Lines[0].Ordered != 12 || got.Lines[1].Product != "P2" || got.Lines[1].Ordered != 4 {
		t.Fatalf("po = %+v, %v", got, err)
	}
	_, err = w.wa.exec(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordReceipt(v, "wa", newID(), Receipt{Warehouse: "A", PurchaseOrder: po, Lines: []ReceiptLine{{Product: "P3", Bin: "G1", Batch: "X", Qty: 1}}}, w.s.now))
	})
	wantCode(t, err, "not_on_order")
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordReceipt(v, "wa", newID(), Receipt{Warehouse: "A", PurchaseOrder: po, Lines: []ReceiptLine{{Product: "P1", Bin: "G1", Batch: "B1", Qty: 12}, {Product: "P2", Bin: "G1", Qty: 1}}}, w.s.now))
	})
	got, _ = GetPurchaseOrder(w.wa.view(), po)
	if got.Status != POOpen || got.Lines[0].Received != 12 || got.Lines[1].Received != 1 {
		t.Fatalf("after receipt %+v", got)
	}
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(ClosePurchaseOrder(v, po, "short", w.s.now))
	})
	_, err = w.wa.exec(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(RecordReceipt(v, "wa", newID(), Receipt{Warehouse: "A", PurchaseOrder: po, Lines: []ReceiptLine{{Product: "P2", Bin: "G1", Qty: 1}}}, w.s.now))
	})
	wantErr(t, err, fault.ErrConflict)
	list, _, err := ListPurchaseOrders(w.wa.view(), "A", "", 10)
	if err != nil || len(list) != 1 || list[0].Status != POClosed {
		t.Fatalf("list = %v, %v", list, err)
	}
}
