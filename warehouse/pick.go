package warehouse

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
)

// picker decides which bins and batches an issue takes, from the owner's
// view of the stock. It remembers what earlier lines of the same command
// took, so that two lines (or two reservations of one shipping notice)
// never take the same units.
type picker struct {
	views replication.Tx
	w     *Warehouse
	taken map[string]int64 // by string(lineKey)
}

func newPicker(views replication.Tx, w *Warehouse) *picker {
	return &picker{views: views, w: w, taken: map[string]int64{}}
}

type candidate struct {
	bin, batch string
	qty        int64
	dates      BatchDates
	rank       int // the bin's place in the caller's order
}

// take picks qty of product p from bins, in the caller's order of bins
// for products without batches, and otherwise first in, first out: by
// receipt date, then batch code (FEFO products: by expiry, then receipt
// date). A non-empty batch pins that batch. It returns the issue lines
// (negative quantities), or insufficient_stock when bins hold less.
func (pk *picker) take(p *Product, bins []string, batch string, qty int64, bundle string) ([]*whv1.Line, error) {
	rank := make(map[string]int, len(bins))
	for i, b := range bins {
		rank[b] = i
	}
	var cands []candidate
	var have int64
	sp := prefix("s", pk.w.ID, p.ID)
	err := pk.views.Scan(sp, nil, func(k, v []byte) (bool, error) {
		ps := parts(k, sp)
		if len(ps) != 2 {
			return true, nil
		}
		r, ok := rank[ps[0]]
		if !ok || (batch != "" && ps[1] != batch) {
			return true, nil
		}
		q, err := counterValue(v)
		if err != nil {
			return false, err
		}
		q -= pk.taken[string(k)]
		if q <= 0 {
			return true, nil
		}
		d, err := batchDates(pk.views, p.ID, ps[1])
		if err != nil {
			return false, err
		}
		cands = append(cands, candidate{bin: ps[0], batch: ps[1], qty: q, dates: d, rank: r})
		have += q
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if have < qty {
		where := "bin " + strings.Join(bins, ", ")
		if len(bins) != 1 {
			where = "bins " + strings.Join(bins, ", ")
		}
		if batch != "" {
			where += " batch " + batch
		}
		return nil, fault.Invalidf("quantity", "insufficient_stock", "%d of %s wanted, %d on hand in %s of %s", qty, p.ID, have, where, pk.w.ID)
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		if p.FEFO {
			if c := cmp.Compare(expiryOrder(a.dates), expiryOrder(b.dates)); c != 0 {
				return c
			}
		}
		return cmp.Or(
			cmp.Compare(ms(a.dates.Received), ms(b.dates.Received)),
			strings.Compare(a.batch, b.batch),
			cmp.Compare(a.rank, b.rank))
	})
	var out []*whv1.Line
	for _, c := range cands {
		if qty == 0 {
			break
		}
		n := min(qty, c.qty)
		qty -= n
		pk.taken[string(lineKey(pk.w.ID, p.ID, c.bin, c.batch))] += n
		out = append(out, &whv1.Line{Product: p.ID, Bin: c.bin, Batch: c.batch, Qty: -n, Bundle: bundle})
	}
	return out, nil
}

// expiryOrder sorts batches without an expiry last.
func expiryOrder(d BatchDates) int64 {
	if d.Expires.IsZero() {
		return math.MaxInt64
	}
	return ms(d.Expires)
}

// takeParts picks every part of qty of p (a bundle's components).
func (pk *picker) takeParts(p *Product, bins []string, batch string, qty int64) ([]*whv1.Line, error) {
	if p.IsBundle() && batch != "" {
		return nil, fault.Invalidf("batch", "bundle", "bundle %s has no batches; issue its components to pick one", p.ID)
	}
	if batch != "" && !p.BatchTracked {
		return nil, fault.Invalidf("batch", "not_tracked", "product %s has no batches", p.ID)
	}
	if batch != "" {
		if err := checkCode("batch", batch, "batch"); err != nil {
			return nil, err
		}
	}
	ps, err := expand(pk.views, p, qty)
	if err != nil {
		return nil, err
	}
	var out []*whv1.Line
	for _, pt := range ps {
		ls, err := pk.take(pt.product, bins, batch, pt.qty, pt.bundle)
		if err != nil {
			return nil, err
		}
		out = append(out, ls...)
	}
	return out, nil
}

// batchesOf returns the recorded dates of the batches lines name, for
// events that carry stock to another warehouse.
func batchesOf(views replication.Tx, lines []*whv1.Line) ([]*whv1.Batch, error) {
	seen := map[string]bool{}
	var out []*whv1.Batch
	for _, l := range lines {
		k := l.GetProduct() + "\x00" + l.GetBatch()
		if l.GetBatch() == "" || seen[k] {
			continue
		}
		seen[k] = true
		b, ok, err := batchProto(views, l.GetProduct(), l.GetBatch())
		if err != nil {
			return nil, fmt.Errorf("batch %s: %w", l.GetBatch(), err)
		}
		if ok {
			out = append(out, b)
		}
	}
	return out, nil
}
