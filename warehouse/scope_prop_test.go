package warehouse

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"branchline/replication"
)

// TestScopedDecisions: scoping changes no decision. In the escrow world
// of TestEscrowProp, busier (busyStep), at points of a random history,
// each node decides —
// reserves, releases, hands over, returns surplus; the owner offers, ships
// and confirms — once on every event made so far and once on only the
// events of the scopes the hub would serve it (its branch, the warehouses
// it owns, the escrows it sells from, the company's) and its own: the
// decisions are the same, and the two replicas' digests agree on each of
// those scopes, which the node therefore holds whole.
func TestScopedDecisions(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := newEscrowWorld(t)
		trail := append([]*replication.Event(nil), e.w.log...) // the world's set-up, made at W
		for _, r := range e.every {
			r.sink = func(ev *replication.Event) {
				e.all.receive(t, ev)
				trail = append(trail, ev)
			}
		}
		for _, n := range append(e.nodes, e.hub) {
			n.pull(t, e.w, -1)
		}
		steps := rapid.IntRange(20, 120).Draw(t, "steps")
		for i := range steps {
			e.busyStep(t)
			if i%20 == 19 || i == steps-1 {
				for _, n := range append([]*replica{e.w}, e.nodes...) {
					e.compareScoped(t, n.name, trail)
				}
			}
		}
	})
}

// busyStep is a step of TestEscrowProp's world, or more often one that
// keeps stock flowing to the sellers and their reservations moving, so
// that most histories hold sales, releases by either holder, notices and
// returns.
func (e *escrowWorld) busyStep(t *rapid.T) {
	now := e.s.advance(time.Duration(rapid.IntRange(1, 60).Draw(t, "secs")) * time.Second)
	node := func() *replica { return rapid.SampledFrom(e.nodes).Draw(t, "node") }
	switch rapid.IntRange(0, 9).Draw(t, "busy") {
	case 0, 1:
		e.step(t)
		return
	case 2:
		exchange(t, e.every...)
	case 3:
		e.act(t, e.w, "receive", now)
		e.act(t, e.w, "offer", now)
		e.hub.pull(t, e.w, -1)
		e.hub.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Rebalance(v, now) })
		n := node()
		n.pull(t, e.w, -1)
		n.pull(t, e.hub, -1)
	case 4, 5:
		e.act(t, node(), "reserve", now)
	case 6:
		e.act(t, node(), rapid.SampledFrom([]string{"release", "notice", "surplus"}).Draw(t, "node-action"), now)
	case 7:
		for _, n := range e.nodes {
			e.w.pull(t, n, -1)
		}
		e.act(t, e.w, rapid.SampledFrom([]string{"release", "ship", "confirm"}).Draw(t, "w-action"), now)
	default:
		e.act(t, e.w, "reserve", now)
	}
	e.invariant(t)
}

// heldScopes are the scopes the hub serves node, from the full view.
func heldScopes(t *rapid.T, views replication.Tx, node string) []string {
	owned, err := OwnedScopes(views, node)
	if err != nil {
		t.Fatal(err)
	}
	sold, err := SellerScopes(views, node)
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]string{replication.BranchScope(node)}, owned...), sold...)
}

// compareScoped compares node's decisions on every event of trail with
// its decisions on those it would hold.
func (e *escrowWorld) compareScoped(t *rapid.T, node string, trail []*replication.Event) {
	full := e.all.view()
	held := heldScopes(t, full, node)
	part := newReplica(t, e.s, node, e.reg)
	var mine []*replication.Event
	for _, ev := range trail {
		if ev.Origin == node || replication.InScopes(ev.Scopes, held) {
			mine = append(mine, ev)
		}
	}
	part.receive(t, mine...)
	for _, s := range append(held, replication.CompanyScope) {
		if e.all.views.EventDigest(s) != part.views.EventDigest(s) {
			t.Fatalf("%s does not hold scope %q whole", node, s)
		}
	}
	scoped := part.view()
	// What the decisions read: the node's shares, and where it sells, the
	// whole escrow it splits with the other sellers.
	w := must(GetWarehouse(full, "A"))
	for _, p := range escrowProducts {
		a, b := must(loadEscrow(full, w, p)), must(loadEscrow(scoped, w, p))
		if a.shares[node] != b.shares[node] {
			t.Fatalf("share of %s in %s: %d; scoped %d", node, p, a.shares[node], b.shares[node])
		}
		if w.IsSeller(node) && fmt.Sprint(a.pool, a.shares, a.targets) != fmt.Sprint(b.pool, b.shares, b.targets) {
			t.Fatalf("escrow of %s at seller %s: %d %v %v; scoped %d %v %v", p, node, a.pool, a.shares, a.targets, b.pool, b.shares, b.targets)
		}
	}
	same := func(what string, decide func(v replication.Tx) ([]replication.Draft, error), exact bool) {
		t.Helper()
		a, errA := decide(full)
		b, errB := decide(scoped)
		switch {
		case (errA == nil) != (errB == nil):
			t.Fatalf("%s at %s: with every event %v, %v; scoped %v, %v", what, node, a, errA, b, errB)
		case errA != nil && exact && errA.Error() != errB.Error():
			t.Fatalf("%s at %s refused differently: %v; scoped %v", what, node, errA, errB)
		case !sameDrafts(a, b):
			t.Fatalf("%s at %s: with every event %v; scoped %v", what, node, a, b)
		}
	}
	same("surplus", func(v replication.Tx) ([]replication.Draft, error) { return Surplus(v, node) }, true)
	id := e.g.next()
	for _, p := range []string{"P", "Q", "K"} {
		qs := []int64{1, 2, 3, 5}
		if p != "K" { // just what the share holds, and one more
			bal := must(replication.GetCounter(full, shareKey("A", p, node)))
			qs = append(qs, max(bal, 1), max(bal+1, 1))
		}
		for _, q := range qs {
			same(fmt.Sprintf("reserve %d %s", q, p), func(v replication.Tx) ([]replication.Draft, error) {
				return one(Reserve(v, node, id, ReserveSpec{Warehouse: "A", Product: p, Qty: q, Ref: "SO"}, e.s.now))
			}, true)
		}
	}
	rs, _, err := ListReservations(full, "A", "", "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Node != node && node != e.w.name {
			continue // another branch's: not this node's business
		}
		// A branch's reservation shipped after its notice is active in its
		// scoped view (a shipment is a stock move of the warehouse, which
		// it does not hold): both refuse, one as held by the owner, the
		// other as shipped.
		same("release "+r.ID, func(v replication.Tx) ([]replication.Draft, error) { return one(Release(v, node, r.ID, "")) }, false)
		same("notice of "+r.ID, func(v replication.Tx) ([]replication.Draft, error) {
			return one(CreateNotice(v, node, id, NoticeSpec{Warehouse: "A", Ref: "SO", Reservations: []string{r.ID}}, e.s.now))
		}, false)
		same("ship "+r.ID, func(v replication.Tx) ([]replication.Draft, error) { return one(Ship(v, node, r.ID, e.s.now)) }, false)
	}
	if node != e.w.name {
		return
	}
	same("offer", func(v replication.Tx) ([]replication.Draft, error) { return Offer(v, node) }, true)
	ns, _, err := ListNotices(full, "A", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		same("confirm "+n.ID, func(v replication.Tx) ([]replication.Draft, error) { return ConfirmNotice(v, node, n.ID, e.s.now) }, true)
	}
}

func sameDrafts(a, b []replication.Draft) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Kind != b[i].Kind || a[i].Entity != b[i].Entity || !proto.Equal(a[i].Body, b[i].Body) {
			return false
		}
	}
	return true
}

// TestScopedDecisionsNeedTheEscrowScope: without the escrow scope (had
// escrow events gone only to the owner and the branch whose share they
// move), a seller's surplus would change: it could not see the pool and
// the other sellers' shares it splits with them.
func TestScopedDecisionsNeedTheEscrowScope(t *testing.T) {
	w := newWorld(t)
	hub := newReplica(t, w.s, replication.HubOrigin, w.reg)
	n1 := newReplica(t, w.s, "n1", w.reg)
	n2 := newReplica(t, w.s, "n2", w.reg)
	w.receive(t, w.wa, "A", ReceiptLine{Product: "P2", Bin: "G1", Qty: 10})
	addSellers(t, w.wa, "A", "n1", "n2")
	w.wa.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Offer(v, "wa") })
	exchange(t, w.wa, hub)
	hub.must(t, func(v replication.Tx) ([]replication.Draft, error) { return Rebalance(v, w.s.now) })
	exchange(t, w.wa, hub, n1, n2)
	// n1 sells 4 of its 5: n2's fair share is now 3 of 6.
	n1.must(t, func(v replication.Tx) ([]replication.Draft, error) {
		return one(Reserve(v, "n1", newID(), ReserveSpec{Warehouse: "A", Product: "P2", Qty: 4, Ref: "SO-1"}, w.s.now))
	})
	exchange(t, w.wa, hub, n1, n2)
	surplus := func(held ...string) []replication.Draft {
		part := newReplica(t, w.s, "n2", w.reg)
		for _, r := range []*replica{w.wa, hub, n1, n2} { // each origin in order
			for _, ev := range r.log {
				if ev.Origin == "n2" || replication.InScopes(ev.Scopes, held) {
					part.receive(t, ev)
				}
			}
		}
		return must(Surplus(part.view(), "n2"))
	}
	want := must(Surplus(n2.view(), "n2"))
	if len(want) != 1 || want[0].Body.(interface{ GetQty() int64 }).GetQty() != 2 {
		t.Fatalf("n2 returns %v; want 2", want)
	}
	if got := surplus("b:n2", "e:A"); !sameDrafts(got, want) {
		t.Fatalf("with the escrow scope n2 returns %v; want %v", got, want)
	}
	if got := surplus("b:n2"); sameDrafts(got, want) {
		t.Fatalf("without the escrow scope n2 still returns %v: the escrow scope is not needed", got)
	}
}
