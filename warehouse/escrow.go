package warehouse

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
)

// Event kinds of escrow. Released and returned are written by the holder
// whose balance they debit (the owner's free stock, a node's share);
// granted, reclaimed and target only by the hub.
const (
	KindEscrowReleased  = "warehouse.escrow.released"
	KindEscrowGranted   = "warehouse.escrow.granted"
	KindEscrowReturned  = "warehouse.escrow.returned"
	KindEscrowReclaimed = "warehouse.escrow.reclaimed"
	KindEscrowTarget    = "warehouse.escrow.target"
)

// MaxEscrowDrafts bounds the events one run of Offer, Surplus or
// Rebalance makes; the next run carries on.
const MaxEscrowDrafts = 1000

// EscrowEntity is the entity of the escrow of product in warehouse wh.
func EscrowEntity(wh, product string) string { return "escrow/" + wh + "/" + product }

func poolKey(wh, p string) []byte              { return key("ep", wh, p) }
func shareKey(wh, p, node string) []byte       { return key("es", wh, p, node) }
func shareByNodeKey(node, wh, p string) []byte { return key("esn", node, wh, p) }
func escrowReleasedKey(wh, p string) []byte    { return key("er", wh, p) }
func escrowReclaimedKey(wh, p string) []byte   { return key("ec", wh, p) }
func backingKey(wh, p string) []byte           { return key("eb", wh, p) }
func targetKey(wh, p string) []byte            { return key("et", wh, p) }
func escrowOf(ev *replication.Event) (wh, p string, ok bool) {
	rest, ok := strings.CutPrefix(ev.Entity, "escrow/")
	if !ok {
		return "", "", false
	}
	wh, p, ok = strings.Cut(rest, "/")
	return wh, p, ok && ValidCode(wh) && ValidCode(p)
}

// goodOnHand is the stock of product in the good bins of w.
func goodOnHand(views replication.Tx, w *Warehouse, product string) (int64, error) {
	var good int64
	p := prefix("s", w.ID, product)
	err := views.Scan(p, nil, func(k, v []byte) (bool, error) {
		ps := parts(k, p)
		if len(ps) != 2 {
			return true, nil
		}
		if b, ok := w.Bin(ps[0]); !ok || b.Kind != BinGood {
			return true, nil
		}
		q, err := counterValue(v)
		good += q
		return err == nil, err
	})
	return good, err
}

// freeStock is the owner's stock of product that nobody was promised:
// good stock − safety − reserved at the owner (not from escrow) − what the
// escrow still promises (released − reclaimed − shipped from escrow
// reservations). The owner's view of each term is exact or larger than
// the truth (only the hub's reclaims, which it may not have seen yet,
// lower the backing), so what it decides from it is safe.
func freeStock(views replication.Tx, w *Warehouse, product string) (int64, error) {
	good, err := goodOnHand(views, w, product)
	if err != nil {
		return 0, err
	}
	lim, err := getLimit(views, w.ID, product)
	if err != nil {
		return 0, err
	}
	local, err := replication.GetCounter(views, localResKey(w.ID, product))
	if err != nil {
		return 0, err
	}
	backing, err := replication.GetCounter(views, backingKey(w.ID, product))
	if err != nil {
		return 0, err
	}
	return good - lim.Safety - local - backing, nil
}

// OfferFeed names the (warehouse, product) pairs whose free stock may have
// changed — "wh\0product", or "wh\0*" when the warehouse itself changed
// (its bins, sellers or owner) — so that a node offers from what changed
// (OfferChanged) instead of reading every product on hand every run.
var OfferFeed = replication.Feed{Name: "warehouse.offer", Watch: watchOffer}

var (
	offerPairs = [][]byte{prefix("s"), prefix("lim"), prefix("rl"), prefix("eb")}
	offerWhole = [][]byte{prefix("w"), prefix("bin"), prefix("sel")}
)

func watchOffer(k []byte) (string, bool) {
	for _, p := range offerPairs {
		if rest, ok := bytes.CutPrefix(k, p); ok {
			wh, rest, ok1 := bytes.Cut(rest, []byte{0})
			product, _, _ := bytes.Cut(rest, []byte{0})
			return string(wh) + "\x00" + string(product), ok1 && len(product) > 0
		}
	}
	for _, p := range offerWhole {
		if rest, ok := bytes.CutPrefix(k, p); ok {
			wh, _, _ := bytes.Cut(rest, []byte{0})
			return string(wh) + "\x00*", len(wh) > 0
		}
	}
	return "", false
}

// OfferChanged is Offer for the pairs of OfferFeed that changed; nil means
// every pair (a first run). complete says it looked at all of them: a run
// that reached MaxEscrowDrafts stops early and leaves the rest (the feed's
// entries stay, and the next run looks again — offering is idempotent,
// since what was released no longer counts as free).
func OfferChanged(views replication.Tx, node string, changed []string) (drafts []replication.Draft, complete bool, err error) {
	if changed == nil {
		out, err := Offer(views, node)
		return out, len(out) < MaxEscrowDrafts, err
	}
	ws := map[string]*Warehouse{}
	done := map[string]bool{}
	var out []replication.Draft
	for _, c := range changed {
		wh, product, _ := strings.Cut(c, "\x00")
		w, ok := ws[wh]
		if !ok {
			var err error
			if w, err = GetWarehouse(views, wh); isNotFound(err) {
				continue
			} else if err != nil {
				return nil, false, err
			}
			ws[wh] = w
		}
		if w.Owner != node || len(w.Sellers) == 0 {
			continue
		}
		products := []string{product}
		if product == "*" {
			products = nil
			p := prefix("t", w.ID)
			err := views.Scan(p, nil, func(k, _ []byte) (bool, error) {
				products = append(products, string(k[len(p):]))
				return true, nil
			})
			if err != nil {
				return nil, false, err
			}
		}
		for _, product := range products {
			if done[wh+"\x00"+product] {
				continue
			}
			done[wh+"\x00"+product] = true
			free, err := freeStock(views, w, product)
			if err != nil {
				return nil, false, err
			}
			if free > 0 {
				out = append(out, replication.Draft{Kind: KindEscrowReleased, Entity: EscrowEntity(w.ID, product),
					Body: &whv1.EscrowReleased{Qty: min(free, MaxQty)}})
			}
			if len(out) >= MaxEscrowDrafts {
				return out, false, nil
			}
		}
	}
	return out, true, nil
}

// Offer decides the events by which node releases the free stock of the
// warehouses it owns that have sellers into the hub's pool, reading every
// product on hand (see OfferChanged). It makes at most MaxEscrowDrafts
// events.
func Offer(views replication.Tx, node string) ([]replication.Draft, error) {
	ws, err := ListWarehouses(views)
	if err != nil {
		return nil, err
	}
	var out []replication.Draft
	for _, w := range ws {
		if w.Owner != node || len(w.Sellers) == 0 {
			continue
		}
		p := prefix("t", w.ID)
		err := views.Scan(p, nil, func(k, _ []byte) (bool, error) {
			product := string(k[len(p):])
			free, err := freeStock(views, w, product)
			if err != nil {
				return false, err
			}
			if free > 0 {
				out = append(out, replication.Draft{Kind: KindEscrowReleased, Entity: EscrowEntity(w.ID, product),
					Body: &whv1.EscrowReleased{Qty: min(free, MaxQty)}})
			}
			return len(out) < MaxEscrowDrafts, nil
		})
		if err != nil || len(out) >= MaxEscrowDrafts {
			return out, err
		}
	}
	return out, nil
}

// escrowState is one (warehouse, product) escrow as a replica sees it.
type escrowState struct {
	w       *Warehouse
	product string
	pool    int64
	shares  map[string]int64
	targets map[string]int64 // recorded by the hub; nil when none
}

func loadEscrow(views replication.Tx, w *Warehouse, product string) (*escrowState, error) {
	e := &escrowState{w: w, product: product, shares: map[string]int64{}}
	var err error
	if e.pool, err = replication.GetCounter(views, poolKey(w.ID, product)); err != nil {
		return nil, err
	}
	p := prefix("es", w.ID, product)
	err = views.Scan(p, nil, func(k, v []byte) (bool, error) {
		q, err := counterValue(v)
		e.shares[string(k[len(p):])] = q
		return err == nil, err
	})
	if err != nil {
		return nil, err
	}
	r, ok, err := replication.GetRegister(views, targetKey(w.ID, product))
	if err != nil {
		return nil, err
	}
	if ok {
		var t whv1.EscrowTargets
		if err := proto.Unmarshal(r.Value, &t); err != nil {
			return nil, fmt.Errorf("escrow targets of %s in %s: %w", product, w.ID, err)
		}
		e.targets = map[string]int64{}
		for _, nq := range t.GetTargets() {
			e.targets[nq.GetNode()] = nq.GetQty()
		}
	}
	return e, nil
}

// fair splits what the sellers may promise (the pool and their shares)
// evenly among them (sorted by id; the first ones get one more of the
// remainder). The hub's targets and each node's own idea of its share are
// this one function of a view.
func (e *escrowState) fair() map[string]int64 {
	sellers := e.w.Sellers
	total := max(e.pool, 0)
	for _, s := range sellers {
		total += max(e.shares[s], 0)
	}
	out := make(map[string]int64, len(sellers))
	if len(sellers) == 0 {
		return out
	}
	k := int64(len(sellers))
	for i, s := range sellers {
		out[s] = total / k
		if int64(i) < total%k {
			out[s]++
		}
	}
	return out
}

// Surplus decides the events by which node returns to the pool the part
// of its shares above its target: all of it where it no longer sells,
// else what is above the lower of the hub's target and its fair share in
// its own view (so a share that sales elsewhere made too large goes back).
// The lead runs it periodically on each node.
func Surplus(views replication.Tx, node string) ([]replication.Draft, error) {
	p := prefix("esn", node)
	ws := map[string]*Warehouse{}
	var out []replication.Draft
	err := views.Scan(p, nil, func(k, v []byte) (bool, error) {
		ps := parts(k, p)
		bal, err := counterValue(v)
		if err != nil || len(ps) != 2 {
			return false, fmt.Errorf("share %q: bad", k)
		}
		if bal <= 0 {
			return true, nil
		}
		w, ok := ws[ps[0]]
		if !ok {
			if w, err = GetWarehouse(views, ps[0]); isNotFound(err) {
				return true, nil
			} else if err != nil {
				return false, err
			}
			ws[ps[0]] = w
		}
		back := bal
		if w.IsSeller(node) {
			e, err := loadEscrow(views, w, ps[1])
			if err != nil {
				return false, err
			}
			keep := e.fair()[node]
			if t, ok := e.targets[node]; ok && e.targets != nil && t < keep {
				keep = t
			}
			back = bal - keep
		}
		if back > 0 {
			out = append(out, replication.Draft{Kind: KindEscrowReturned, Entity: EscrowEntity(ps[0], ps[1]), Body: &whv1.EscrowReturned{Qty: back}})
		}
		return len(out) < MaxEscrowDrafts, nil
	})
	return out, err
}

// Rebalance decides the hub's escrow events, from the hub's view. For
// each (warehouse, product) whose pool holds stock: without sellers the
// pool goes back to the owner (reclaimed); where the owner's free stock is
// negative (stock lost after it was released) the pool covers the deficit
// first; the rest is split evenly among the sellers (targets, recorded
// when they change) and granted from the pool to sellers below target.
// Escrows whose recorded targets no longer add up to what the sellers
// hold (sales since) get fresh targets. The lead runs it as a command
// inside the hub's Raft state machine, so every hub member decides alike
// and a leader change cannot spend the pool twice. now stamps the
// targets. It makes at most MaxEscrowDrafts events; the next run goes on.
func Rebalance(views replication.Tx, now time.Time) ([]replication.Draft, error) {
	ws := map[string]*Warehouse{}
	done := map[string]bool{}
	var out []replication.Draft
	visit := func(p []byte) error {
		return views.Scan(p, nil, func(k, _ []byte) (bool, error) {
			ps := parts(k, p)
			if len(ps) != 2 || done[ps[0]+"\x00"+ps[1]] {
				return true, nil
			}
			done[ps[0]+"\x00"+ps[1]] = true
			w, ok := ws[ps[0]]
			if !ok {
				var err error
				if w, err = GetWarehouse(views, ps[0]); isNotFound(err) {
					return true, nil
				} else if err != nil {
					return false, err
				}
				ws[ps[0]] = w
			}
			ds, err := rebalanceOne(views, w, ps[1], now)
			out = append(out, ds...)
			return err == nil && len(out) < MaxEscrowDrafts, err
		})
	}
	if err := visit(prefix("ep")); err != nil || len(out) >= MaxEscrowDrafts {
		return out, err
	}
	return out, visit(prefix("ed"))
}

// rebalanceOne decides the hub's events for the escrow of product in w.
func rebalanceOne(views replication.Tx, w *Warehouse, product string, now time.Time) ([]replication.Draft, error) {
	e, err := loadEscrow(views, w, product)
	if err != nil {
		return nil, err
	}
	ent := EscrowEntity(w.ID, product)
	var out []replication.Draft
	reclaim := func(q int64) {
		out = append(out, replication.Draft{Kind: KindEscrowReclaimed, Entity: ent, Body: &whv1.EscrowReclaimed{Qty: q}})
		e.pool -= q
	}
	if e.pool > 0 && len(w.Sellers) == 0 {
		reclaim(e.pool)
		return out, nil
	}
	if e.pool > 0 {
		free, err := freeStock(views, w, product)
		if err != nil {
			return nil, err
		}
		if free < 0 {
			reclaim(min(e.pool, -free))
		}
	}
	fair := e.fair()
	if len(w.Sellers) > 0 && !sameTargets(fair, e.targets) {
		t := &whv1.EscrowTargets{AtMs: ms(now)}
		for _, s := range w.Sellers {
			t.Targets = append(t.Targets, &whv1.NodeQty{Node: s, Qty: fair[s]})
		}
		out = append(out, replication.Draft{Kind: KindEscrowTarget, Entity: ent, Body: t})
	}
	for _, s := range w.Sellers {
		need := fair[s] - max(e.shares[s], 0)
		if need <= 0 || e.pool <= 0 {
			continue
		}
		g := min(need, e.pool)
		e.pool -= g
		out = append(out, replication.Draft{Kind: KindEscrowGranted, Entity: ent, Body: &whv1.EscrowGranted{Node: s, Qty: g}})
	}
	return out, nil
}

// staleKey marks an escrow whose recorded targets no longer add up to
// what its pool and the targeted nodes hold.
func staleKey(wh, p string) []byte { return key("ed", wh, p) }

// reindexEscrow recomputes the stale mark of an escrow from its pool,
// shares and targets, after any of them changed: a function of the
// current state, so the same on every replica whatever the order.
func reindexEscrow(tx replication.Tx, wh, p string) error {
	r, ok, err := replication.GetRegister(tx, targetKey(wh, p))
	if err != nil {
		return err
	}
	stale := false
	if ok {
		var t whv1.EscrowTargets
		if proto.Unmarshal(r.Value, &t) == nil {
			pool, err := replication.GetCounter(tx, poolKey(wh, p))
			if err != nil {
				return err
			}
			held, want := max(pool, 0), int64(0)
			for _, nq := range t.GetTargets() {
				want += nq.GetQty()
				if !replication.ValidNodeID(nq.GetNode()) {
					continue
				}
				sh, err := replication.GetCounter(tx, shareKey(wh, p, nq.GetNode()))
				if err != nil {
					return err
				}
				held += max(sh, 0)
			}
			stale = held != want
		}
	}
	if stale {
		return tx.Set(staleKey(wh, p), nil)
	}
	return tx.Delete(staleKey(wh, p))
}

func sameTargets(a, b map[string]int64) bool {
	if b == nil || len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func checkEscrowEntity(ev *replication.Event) error {
	if _, _, ok := escrowOf(ev); !ok {
		return fmt.Errorf("entity %q is not an escrow", ev.Entity)
	}
	return nil
}

func checkHub(ev *replication.Event) error {
	if ev.Origin != replication.HubOrigin {
		return fmt.Errorf("%s is made by the hub only: %w", ev.Kind, fault.ErrDenied)
	}
	return nil
}

// RefuseForeignRelease is the hub's reaction to a committed event: a
// release into the pool written by a node that does not own the
// warehouse — as the hub's state has it at that point of the global log —
// is taken back at once by a reclaim naming that node, before any grant
// could hand it out. The hub runs it inside its state machine after each
// pushed event, so every member decides alike; the node's outbox is never
// refused for it. A node only releases what it decided it owns from events
// the hub committed before (its own, or pulled from the hub), so the
// owner's own releases are never refused.
func RefuseForeignRelease(views replication.Tx, ev *replication.Event) ([]replication.Draft, error) {
	if ev.Kind != KindEscrowReleased {
		return nil, nil
	}
	wh, _, ok := escrowOf(ev)
	if !ok {
		return nil, nil
	}
	var b whv1.EscrowReleased
	if err := proto.Unmarshal(ev.Body, &b); err != nil || b.GetQty() <= 0 {
		return nil, nil // the applier ignored it too
	}
	w, err := GetWarehouse(views, wh)
	if err != nil && !errors.Is(err, fault.ErrNotFound) {
		return nil, err
	}
	if w != nil && w.Owner == ev.Origin {
		return nil, nil
	}
	return []replication.Draft{{Kind: KindEscrowReclaimed, Entity: ev.Entity,
		Body: &whv1.EscrowReclaimed{Qty: b.GetQty(), RefusedOrigin: ev.Origin}}}, nil
}

func checkEscrowReleased(ev *replication.Event, b *whv1.EscrowReleased) error {
	if err := checkEscrowEntity(ev); err != nil {
		return err
	}
	return checkQty("qty", b.GetQty())
}

func applyEscrowReleased(tx replication.Tx, ev *replication.Event, b *whv1.EscrowReleased) error {
	wh, p, ok := escrowOf(ev)
	if !ok || b.GetQty() <= 0 {
		return nil
	}
	if err := addCounters(tx, b.GetQty(), poolKey(wh, p), escrowReleasedKey(wh, p), backingKey(wh, p)); err != nil {
		return err
	}
	return reindexEscrow(tx, wh, p)
}

func checkEscrowGranted(ev *replication.Event, b *whv1.EscrowGranted) error {
	if err := checkEscrowEntity(ev); err != nil {
		return err
	}
	if err := checkHub(ev); err != nil {
		return err
	}
	if err := checkNode("node", b.GetNode()); err != nil {
		return err
	}
	return checkQty("qty", b.GetQty())
}

func applyEscrowGranted(tx replication.Tx, ev *replication.Event, b *whv1.EscrowGranted) error {
	wh, p, ok := escrowOf(ev)
	if !ok || ev.Origin != replication.HubOrigin || b.GetQty() <= 0 || !replication.ValidNodeID(b.GetNode()) {
		return nil
	}
	if err := addCounters(tx, -b.GetQty(), poolKey(wh, p)); err != nil {
		return err
	}
	if err := addCounters(tx, b.GetQty(), shareKey(wh, p, b.GetNode()), shareByNodeKey(b.GetNode(), wh, p)); err != nil {
		return err
	}
	return reindexEscrow(tx, wh, p)
}

func checkEscrowReturned(ev *replication.Event, b *whv1.EscrowReturned) error {
	if err := checkEscrowEntity(ev); err != nil {
		return err
	}
	return checkQty("qty", b.GetQty())
}

func applyEscrowReturned(tx replication.Tx, ev *replication.Event, b *whv1.EscrowReturned) error {
	wh, p, ok := escrowOf(ev)
	if !ok || b.GetQty() <= 0 {
		return nil
	}
	if err := addCounters(tx, -b.GetQty(), shareKey(wh, p, ev.Origin), shareByNodeKey(ev.Origin, wh, p)); err != nil {
		return err
	}
	if err := addCounters(tx, b.GetQty(), poolKey(wh, p)); err != nil {
		return err
	}
	return reindexEscrow(tx, wh, p)
}

func checkEscrowReclaimed(ev *replication.Event, b *whv1.EscrowReclaimed) error {
	if err := checkEscrowEntity(ev); err != nil {
		return err
	}
	if err := checkHub(ev); err != nil {
		return err
	}
	return checkQty("qty", b.GetQty())
}

func applyEscrowReclaimed(tx replication.Tx, ev *replication.Event, b *whv1.EscrowReclaimed) error {
	wh, p, ok := escrowOf(ev)
	if !ok || ev.Origin != replication.HubOrigin || b.GetQty() <= 0 {
		return nil
	}
	if err := addCounters(tx, -b.GetQty(), poolKey(wh, p), backingKey(wh, p)); err != nil {
		return err
	}
	if err := addCounters(tx, b.GetQty(), escrowReclaimedKey(wh, p)); err != nil {
		return err
	}
	return reindexEscrow(tx, wh, p)
}

func checkEscrowTargets(ev *replication.Event, b *whv1.EscrowTargets) error {
	if err := checkEscrowEntity(ev); err != nil {
		return err
	}
	if err := checkHub(ev); err != nil {
		return err
	}
	if len(b.GetTargets()) > 1000 {
		return fault.Invalidf("targets", "too_many", "at most 1000")
	}
	seen := map[string]bool{}
	for _, t := range b.GetTargets() {
		if err := checkNode("targets", t.GetNode()); err != nil {
			return err
		}
		if seen[t.GetNode()] || t.GetQty() < 0 {
			return fault.Invalidf("targets", "bad_target", "node %s twice or negative", t.GetNode())
		}
		seen[t.GetNode()] = true
	}
	return nil
}

func applyEscrowTargets(tx replication.Tx, ev *replication.Event, b *whv1.EscrowTargets) error {
	wh, p, ok := escrowOf(ev)
	if !ok || ev.Origin != replication.HubOrigin {
		return nil
	}
	v, err := marshal.Marshal(b)
	if err != nil {
		return err
	}
	if _, _, err = replication.SetRegister(tx, targetKey(wh, p), v, replication.StampOf(ev)); err != nil {
		return err
	}
	return reindexEscrow(tx, wh, p)
}

// Share is one node's escrow share.
type Share struct {
	Node      string
	Balance   int64
	HasTarget bool
	Target    int64
}

// Escrow is what sellers may promise of a product in a warehouse, as this
// replica sees it.
type Escrow struct {
	Warehouse string
	Product   string
	// Released is what the owner put in over time; Reclaimed what the hub
	// gave back to it.
	Released  int64
	Reclaimed int64
	// Pool is held by the hub, not yet granted.
	Pool   int64
	Shares []Share
	// Backing is what the escrow still promises: released − reclaimed −
	// shipped from escrow reservations.
	Backing int64
	// Free is the owner's stock nobody was promised.
	Free int64
	// Held says the replica holds the warehouse's stock moves; a replica
	// that does not (a seller: see Escrow.Unheld) shows no Backing or Free.
	Held bool
}

// Unheld drops what only the warehouse's stock moves tell, for a replica
// that holds the escrow but not the moves.
func (e *Escrow) Unheld() {
	e.Backing, e.Free, e.Held = 0, 0, false
}

// GetEscrow reads the escrow of product in warehouse wh: pool, the share
// of every seller and of every node holding one, targets.
func GetEscrow(views replication.Tx, wh, product string) (*Escrow, error) {
	w, err := GetWarehouse(views, wh)
	if err != nil {
		return nil, err
	}
	if _, err := GetProduct(views, product); err != nil {
		return nil, err
	}
	e, err := loadEscrow(views, w, product)
	if err != nil {
		return nil, err
	}
	out := &Escrow{Warehouse: wh, Product: product, Pool: e.pool}
	for k, dst := range map[string]*int64{
		string(escrowReleasedKey(wh, product)):  &out.Released,
		string(escrowReclaimedKey(wh, product)): &out.Reclaimed,
		string(backingKey(wh, product)):         &out.Backing,
	} {
		if *dst, err = replication.GetCounter(views, []byte(k)); err != nil {
			return nil, err
		}
	}
	if out.Free, err = freeStock(views, w, product); err != nil {
		return nil, err
	}
	nodes := slices.Clone(w.Sellers)
	for n := range e.shares {
		nodes = append(nodes, n)
	}
	for n := range e.targets {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	for _, n := range slices.Compact(nodes) {
		t, has := e.targets[n]
		out.Shares = append(out.Shares, Share{Node: n, Balance: e.shares[n], HasTarget: has, Target: t})
	}
	return out, nil
}

// ListEscrow returns the escrows of up to limit products of warehouse wh
// that were ever released, in product order, after the page token.
func ListEscrow(views replication.Tx, wh, token string, limit int) ([]*Escrow, string, error) {
	if _, err := GetWarehouse(views, wh); err != nil {
		return nil, "", err
	}
	p := prefix("er", wh)
	var out []*Escrow
	next, err := pageOf(views, p, token, limit, func(k, _ []byte) (bool, error) {
		e, err := GetEscrow(views, wh, string(k[len(p):]))
		if isNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		out = append(out, e)
		return true, nil
	})
	return out, next, err
}
