package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"branchline/warehouse"
)

// TestStockBenchQuick runs the warehouse benchmark on a tiny store and
// checks that it measured real answers: every query was compared with the
// stock loaded, every move was applied or recorded, and the totals after
// the moves add up.
func TestStockBenchQuick(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := StockConfig{Products: 300, Bins: 4, Moves: 1000, MoveLines: 2, Writers: 4, ExecDuration: 300 * time.Millisecond,
		Readers: 2, Queries: 200, Dir: t.TempDir()}
	r, err := RunStock(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	l := r.Load
	// A warehouse, its bins, and per product one product.set and one receipt.
	if l.Products != 300 || l.Counters != 1200 || l.Events != 1+4+2*300 {
		t.Errorf("load = %+v, want 300 products, 1,200 counters, 605 events", l)
	}
	if l.StoreBytes <= 0 || l.Elapsed <= 0 {
		t.Errorf("load = %+v: no size or time", l)
	}
	for name, q := range map[string]stockQueries{"GetStock": r.GetStock, "ProductStock": r.Product,
		"GetStock flat out": r.GetStockMax, "ProductStock flat out": r.ProductMax} {
		if q.Latency.N != 200 || q.Checked != 200 || q.Wrong != 0 || q.Latency.P99 <= 0 || q.Latency.P50 > q.Latency.P99 {
			t.Errorf("%s = %+v, want 200 queries checked, none wrong", name, q)
		}
	}
	if a := r.Applied; a.Moves != 1000 || a.Lines != 2 || a.Latency.N != 5 || a.Rate <= 0 || a.Checked == 0 || a.Wrong != 0 {
		t.Errorf("applied = %+v, want 1,000 moves in 5 slices, totals checked and right", a)
	}
	if e := r.Recorded; e.Moves < 2 || e.Latency.N != e.Moves || e.Rate <= 0 || e.PerFsync < 1 || e.Checked == 0 || e.Wrong != 0 {
		t.Errorf("recorded = %+v, want moves with totals checked and right", e)
	}
	var out bytes.Buffer
	r.Print(&out)
	for _, want := range []string{"moves applied from the hub", "GetStock(warehouse, product)", "ProductStock(product)", "1,200 stock counters"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "WRONG") {
		t.Errorf("report has wrong answers:\n%s", out.String())
	}
}

// TestCheckLoadedCatchesWrongAnswers: the check the queries rely on
// refuses another product's or bin's stock.
func TestCheckLoadedCatchesWrongAnswers(t *testing.T) {
	if why := checkLoaded(5, 3, nil); why == "" {
		t.Error("no answer accepted")
	}
	ok := loadedStock(5, 3)
	if why := checkLoaded(5, 3, ok); why != "" {
		t.Errorf("right answer refused: %s", why)
	}
	other := loadedStock(6, 3)
	other[0].Product = stockProduct(5)
	if why := checkLoaded(5, 3, other); why == "" {
		t.Error("another product's quantities accepted")
	}
	swapped := loadedStock(5, 3)
	swapped[0].Lines[0].Bin, swapped[0].Lines[1].Bin = swapped[0].Lines[1].Bin, swapped[0].Lines[0].Bin
	if why := checkLoaded(5, 3, swapped); why == "" {
		t.Error("bins swapped accepted")
	}
}

func loadedStock(i, bins int) []*warehouse.Stock {
	st := &warehouse.Stock{Warehouse: stockWH, Product: stockProduct(i)}
	for j := range bins {
		q := loadedQty(i, j)
		st.OnHand += q
		if j < bins-1 {
			st.Good += q
		}
		st.Lines = append(st.Lines, warehouse.StockLine{Bin: stockBin(j), Qty: q})
	}
	st.Available = st.Good
	return []*warehouse.Stock{st}
}
