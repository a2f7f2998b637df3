package warehouse

import (
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"branchline/replication"
)

// escrowWorld is a warehouse node W, the hub and 2-3 branch nodes, each
// with its own store, receiving subsets of each other's events; all sees
// every event as soon as it is made (the truth no replica has).
type escrowWorld struct {
	s       *sim
	reg     *replication.Registry
	w, hub  *replica
	nodes   []*replica // branches
	every   []*replica // w, hub, branches
	all     *replica
	sellers []string
	g       *idGen
}

var escrowProducts = []string{"P", "Q"}

func newEscrowWorld(t *rapid.T) *escrowWorld {
	s := newSim()
	reg := newRegistry()
	e := &escrowWorld{s: s, reg: reg, g: &idGen{}}
	e.all = newReplica(t, s, "all", reg)
	sink := func(ev *replication.Event) { e.all.receive(t, ev) }
	e.w = newReplica(t, s, "ww", reg)
	e.hub = newReplica(t, s, replication.HubOrigin, reg)
	e.every = []*replica{e.w, e.hub}
	for i := range rapid.IntRange(2, 3).Draw(t, "branches") {
		n := newReplica(t, s, []string{"n1", "n2", "n3"}[i], reg)
		e.nodes = append(e.nodes, n)
		e.every = append(e.every, n)
	}
	for _, r := range e.every {
		r.sink = sink
	}
	for _, p := range []Product{{ID: "P", Name: "pen"}, {ID: "Q", Name: "ink"}, {ID: "K", Name: "pen set", Components: []Component{{"P", 1}, {"Q", 2}}}} {
		e.w.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(SetProduct(v, p, nil)) })
	}
	e.w.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(SetWarehouse(v, Warehouse{ID: "A", Name: "Main", Owner: "ww"}, nil))
	})
	e.w.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(SetBin(v, "A", Bin{ID: "G"})) })
	for _, n := range e.nodes {
		e.sellers = append(e.sellers, n.name)
	}
	if rapid.Bool().Draw(t, "w-sells") {
		e.sellers = append(e.sellers, "ww")
	}
	slices.Sort(e.sellers)
	addSellers(t, e.w, "A", e.sellers...)
	return e
}

// invariant checks the truth: no balance is negative, and the escrow
// reservations active or shipped never exceed what W released minus what
// the hub gave back.
func (e *escrowWorld) invariant(t *rapid.T) {
	v := e.all.view()
	promised := map[string]int64{}
	rs, _, err := ListReservations(v, "A", "", "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Escrow && r.Status != ReservationReleased {
			for _, l := range r.Lines {
				promised[l.Product] += l.Qty
			}
		}
	}
	for _, p := range escrowProducts {
		es, err := GetEscrow(v, "A", p)
		if err != nil {
			t.Fatal(err)
		}
		if es.Pool < 0 {
			t.Fatalf("pool of %s is %d", p, es.Pool)
		}
		for _, sh := range es.Shares {
			if sh.Balance < 0 {
				t.Fatalf("share of %s at %s is %d: a holder spent more than it was given", p, sh.Node, sh.Balance)
			}
		}
		if promised[p] > es.Released-es.Reclaimed {
			t.Fatalf("%d of %s promised, %d released − %d reclaimed", promised[p], p, es.Released, es.Reclaimed)
		}
	}
}

// heldBy lists the active reservations r holds, in r's view.
func heldBy(t *rapid.T, r *replica, pending bool) []*Reservation {
	rs, _, err := ListReservations(r.view(), "A", "", "", 10000)
	if err != nil && !isNotFound(err) {
		t.Fatal(err)
	}
	w, err := GetWarehouse(r.view(), "A")
	if err != nil {
		return nil
	}
	var out []*Reservation
	for _, res := range rs {
		if res.Status == ReservationActive && res.Holder(w) == r.name && (!pending || res.Notice == "") {
			out = append(out, res)
		}
	}
	return out
}

func (e *escrowWorld) step(t *rapid.T) {
	now := e.s.advance(time.Duration(rapid.IntRange(1, 60).Draw(t, "secs")) * time.Second)
	switch rapid.IntRange(0, 5).Draw(t, "what") {
	case 0, 1:
		from := rapid.SampledFrom(e.every).Draw(t, "from")
		to := rapid.SampledFrom(e.every).Draw(t, "to")
		n := -1
		if rapid.Bool().Draw(t, "partial") {
			n = rapid.IntRange(1, 8).Draw(t, "n")
		}
		if from != to {
			to.pull(t, from, n)
		}
	case 2:
		e.act(t, e.w, rapid.SampledFrom([]string{"receive", "offer", "ship", "confirm", "reserve", "release", "notice", "surplus"}).Draw(t, "w-action"), now)
	case 3:
		e.hub.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Rebalance(v, now) })
	default:
		n := rapid.SampledFrom(e.nodes).Draw(t, "node")
		e.act(t, n, rapid.SampledFrom([]string{"reserve", "surplus", "notice", "release"}).Draw(t, "action"), now)
	}
	e.invariant(t)
}

func (e *escrowWorld) act(t *rapid.T, r *replica, action string, now time.Time) {
	product := rapid.SampledFrom([]string{"P", "Q", "K"}).Draw(t, "product")
	qty := int64(rapid.IntRange(1, 3).Draw(t, "qty"))
	switch action {
	case "reserve":
		id := e.g.next()
		_, _ = r.exec(t, func(v replication.Tx) ([]replication.Draft, error) { // refused when short: fine
			return one(Reserve(v, r.name, id, ReserveSpec{Warehouse: "A", Product: product, Qty: qty, Ref: "SO"}, now))
		})
	case "release":
		if rs := heldBy(t, r, false); len(rs) > 0 {
			res := rapid.SampledFrom(rs).Draw(t, "res")
			r.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(Release(v, r.name, res.ID, "")) })
		}
	case "notice":
		if rs := heldBy(t, r, true); len(rs) > 0 {
			res := rapid.SampledFrom(rs).Draw(t, "res")
			id := e.g.next()
			r.must(t, func(v replication.Tx) ([]replication.Draft, error) {
				return one(CreateNotice(v, r.name, id, NoticeSpec{Warehouse: "A", Ref: "SO", Reservations: []string{res.ID}}, now))
			})
		}
	case "surplus":
		r.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Surplus(v, r.name) })
	case "receive":
		p := rapid.SampledFrom(escrowProducts).Draw(t, "stock")
		id := e.g.next()
		r.must(t, func(v replication.Tx) ([]replication.Draft, error) {
			return one(RecordReceipt(v, "ww", id, Receipt{Warehouse: "A", Type: ReceiptPurchase, Lines: []ReceiptLine{{Product: p, Bin: "G", Qty: qty * 6}}}, now))
		})
	case "offer":
		r.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Offer(v, "ww") })
		w, err := GetWarehouse(r.view(), "A")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range escrowProducts {
			if free, err := freeStock(r.view(), w, p); err != nil || free < 0 {
				t.Fatalf("W released more than its free stock: free %d, %v", free, err)
			}
		}
	case "ship":
		// Physical stock is never short for a reservation W holds.
		if rs := heldBy(t, r, false); len(rs) > 0 {
			res := rapid.SampledFrom(rs).Draw(t, "res")
			r.must(t, func(v replication.Tx) ([]replication.Draft, error) { return one(Ship(v, "ww", res.ID, now)) })
		}
	case "confirm":
		ns, _, err := ListNotices(r.view(), "A", "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range ns {
			if n.Status == NoticePending {
				r.must(t, func(v replication.Tx) ([]replication.Draft, error) { return ConfirmNotice(v, "ww", n.ID, now) })
				break
			}
		}
	}
}

// TestEscrowProp: W, the hub and 2-3 branches act on partial views under
// any partition — W receives and offers stock, the hub rebalances, the
// branches reserve against their shares, release, hand reservations over
// by notice and return surplus, W ships. At every step no holder's
// balance is negative and the escrow reservations active or shipped never
// exceed what W released (which never exceeded its free stock), W never
// lacks the stock to ship a reservation it holds, and after healing (all
// events everywhere; Rebalance, Surplus everywhere, Rebalance) the pool is
// spent, every seller holds its target, and all replicas are identical.
func TestEscrowProp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := newEscrowWorld(t)
		for _, n := range append(e.nodes, e.hub) {
			n.pull(t, e.w, -1)
		}
		for range rapid.IntRange(60, 200).Draw(t, "steps") {
			e.step(t)
		}
		// Heal.
		exchange(t, e.every...)
		e.hub.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Rebalance(v, e.s.now) })
		exchange(t, e.every...)
		for _, n := range e.every {
			if n != e.hub {
				n.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Surplus(v, n.name) })
			}
		}
		exchange(t, e.every...)
		e.hub.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Rebalance(v, e.s.now) })
		exchange(t, e.every...)
		e.invariant(t)
		d := e.all.digest(t)
		for _, r := range e.every {
			if r.digest(t) != d {
				t.Fatalf("%s differs after healing", r.name)
			}
		}
		for _, p := range escrowProducts {
			es, err := GetEscrow(e.hub.view(), "A", p)
			if err != nil {
				t.Fatal(err)
			}
			if es.Pool != 0 {
				t.Fatalf("pool of %s holds %d after healing: %+v", p, es.Pool, es)
			}
			for _, sh := range es.Shares {
				if !slices.Contains(e.sellers, sh.Node) {
					continue
				}
				if d := sh.Balance - sh.Target; !sh.HasTarget && es.Released > 0 || d > 1 || d < -1 {
					t.Fatalf("share of %s at %s is %d, target %d: %+v", p, sh.Node, sh.Balance, sh.Target, es)
				}
			}
		}
	})
}
