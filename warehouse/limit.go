package warehouse

import (
	"fmt"
	"slices"
	"time"

	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
)

// KindLimitSet is the event kind writing stock limits.
const KindLimitSet = "warehouse.limit.set"

// Limit is the stock limits of a product in a warehouse; 0 is no limit.
// Safety stock is held back from available stock.
type Limit struct {
	Warehouse string
	Product   string
	Min       int64
	Max       int64
	Safety    int64
}

// LimitFields names the fields SetLimit can write.
var LimitFields = []string{"min", "max", "safety"}

var limitSpec = fieldSpec{
	"min":    intField("min", 0, MaxQty),
	"max":    intField("max", 0, MaxQty),
	"safety": intField("safety", 0, MaxQty),
}

func limitKey(wh, p, field string) []byte { return key("lim", wh, p, field) }

// SetLimit decides the event writing the named limits of l (all three
// when fields is empty); each is a last-writer-wins register.
func SetLimit(views replication.Tx, l Limit, fields []string) (replication.Draft, error) {
	if _, err := needWarehouse(views, "warehouse", l.Warehouse); err != nil {
		return replication.Draft{}, err
	}
	p, err := needProduct(views, "product", l.Product)
	if err != nil {
		return replication.Draft{}, err
	}
	if p.IsBundle() {
		return replication.Draft{}, fault.Invalidf("product", "bundle", "bundle %s holds no stock; set limits on its components", p.ID)
	}
	sel, err := limitSpec.pick(map[string]string{"min": itoa(l.Min), "max": itoa(l.Max), "safety": itoa(l.Safety)}, fields, "limit")
	if err != nil {
		return replication.Draft{}, err
	}
	vals, err := limitSpec.canonical(sel, "limit")
	if err != nil {
		return replication.Draft{}, err
	}
	next, err := getLimit(views, l.Warehouse, l.Product)
	if err != nil {
		return replication.Draft{}, err
	}
	for _, v := range vals {
		switch v.Field {
		case "min":
			next.Min = atoi(v.Value)
		case "max":
			next.Max = atoi(v.Value)
		}
	}
	if next.Min > 0 && next.Max > 0 && next.Min > next.Max {
		return replication.Draft{}, fault.Invalidf("min", "above_max", "min %d is above max %d", next.Min, next.Max)
	}
	return replication.Draft{Kind: KindLimitSet, Entity: ProductEntity(l.Product), Body: &whv1.LimitSet{Warehouse: l.Warehouse, Fields: vals}}, nil
}

// GetLimit reads the limits of product in warehouse wh.
func GetLimit(views replication.Tx, wh, product string) (Limit, error) {
	return getLimit(views, wh, product)
}

func getLimit(views replication.Tx, wh, product string) (Limit, error) {
	l := Limit{Warehouse: wh, Product: product}
	f, err := readFields(views, prefix("lim", wh, product))
	if err != nil {
		return l, err
	}
	l.Min, l.Max, l.Safety = atoi(f["min"]), atoi(f["max"]), atoi(f["safety"])
	return l, nil
}

func checkLimitSet(ev *replication.Event, b *whv1.LimitSet) error {
	if err := checkCode("warehouse", b.GetWarehouse(), "warehouse"); err != nil {
		return err
	}
	return limitSpec.check(b.GetFields(), "limit")
}

func applyLimitSet(tx replication.Tx, ev *replication.Event, b *whv1.LimitSet) error {
	id, ok := productID(ev)
	if !ok || !ValidCode(b.GetWarehouse()) {
		return nil
	}
	return limitSpec.apply(tx, b.GetFields(), func(f string) []byte { return limitKey(b.GetWarehouse(), id, f) }, replication.StampOf(ev), nil)
}

// Kinds of alerts.
const (
	AlertBelowMin    = "below_min"
	AlertAboveMax    = "above_max"
	AlertBelowSafety = "below_safety"
	AlertExpiring    = "expiring"
	AlertExpired     = "expired"
	// AlertEscrowDeficit says the warehouse's good stock is below what it
	// promised (escrow shares, reservations, safety stock): stock was lost
	// or moved after it was released to sellers.
	AlertEscrowDeficit = "escrow_deficit"
)

// Alert is a limit crossed or a batch expiring.
type Alert struct {
	Kind    string
	Product string
	Batch   string
	// Qty is the good stock (limits), the batch's stock (expiry) or the
	// deficit.
	Qty int64
	// Limit is the limit crossed.
	Limit   int64
	Expires time.Time
}

// Alerts lists the alerts of warehouse wh at now: products whose good
// stock is below their min or safety stock or above their max, batches
// expired or expiring within the warehouse's warning days, and escrow
// deficits. Sorted by kind, product and batch.
func Alerts(views replication.Tx, wh string, now time.Time) ([]Alert, error) {
	w, err := GetWarehouse(views, wh)
	if err != nil {
		return nil, err
	}
	var out []Alert
	lp := prefix("lim", wh)
	var products []string
	err = views.Scan(lp, nil, func(k, _ []byte) (bool, error) {
		if ps := parts(k, lp); len(ps) == 2 && (len(products) == 0 || products[len(products)-1] != ps[0]) {
			products = append(products, ps[0])
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range products {
		l, err := getLimit(views, wh, p)
		if err != nil {
			return nil, err
		}
		st, err := stockOf(views, w, p, false)
		if err != nil {
			return nil, err
		}
		if l.Min > 0 && st.Good < l.Min {
			out = append(out, Alert{Kind: AlertBelowMin, Product: p, Qty: st.Good, Limit: l.Min})
		}
		if l.Max > 0 && st.Good > l.Max {
			out = append(out, Alert{Kind: AlertAboveMax, Product: p, Qty: st.Good, Limit: l.Max})
		}
		if l.Safety > 0 && st.Good < l.Safety {
			out = append(out, Alert{Kind: AlertBelowSafety, Product: p, Qty: st.Good, Limit: l.Safety})
		}
	}
	warn := now.AddDate(0, 0, int(w.ExpiryWarnDays))
	bp := prefix("bw", wh)
	err = views.Scan(bp, nil, func(k, v []byte) (bool, error) {
		ps := parts(k, bp)
		q, err := counterValue(v)
		if err != nil || len(ps) != 2 {
			return false, fmt.Errorf("batch total %q: bad", k)
		}
		if q <= 0 {
			return true, nil
		}
		d, err := batchDates(views, ps[0], ps[1])
		if err != nil || d.Expires.IsZero() {
			return err == nil, err
		}
		switch {
		case !d.Expires.After(now):
			out = append(out, Alert{Kind: AlertExpired, Product: ps[0], Batch: ps[1], Qty: q, Expires: d.Expires})
		case !d.Expires.After(warn):
			out = append(out, Alert{Kind: AlertExpiring, Product: ps[0], Batch: ps[1], Qty: q, Expires: d.Expires})
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	ep := prefix("eb", wh)
	var backed []string
	err = views.Scan(ep, nil, func(k, _ []byte) (bool, error) {
		backed = append(backed, string(k[len(ep):]))
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range backed {
		free, err := freeStock(views, w, p)
		if err != nil {
			return nil, err
		}
		if free < 0 {
			out = append(out, Alert{Kind: AlertEscrowDeficit, Product: p, Qty: -free})
		}
	}
	slices.SortStableFunc(out, func(a, b Alert) int {
		return cmpStrings(a.Kind, b.Kind, a.Product, b.Product, a.Batch, b.Batch)
	})
	return out, nil
}

// cmpStrings compares pairs in turn: (a1, b1), then (a2, b2), ...
func cmpStrings(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i] != pairs[i+1] {
			if pairs[i] < pairs[i+1] {
				return -1
			}
			return 1
		}
	}
	return 0
}
