package warehouse

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
)

// Event kinds of reservations.
const (
	KindReservationMade     = "warehouse.reservation.made"
	KindReservationReleased = "warehouse.reservation.released"
	KindReservationShipped  = "warehouse.reservation.shipped"
)

// Reservation states, decided by the facts seen: shipped beats released
// beats active. (Commands never make both a release and a shipment: only
// the holder does either.)
const (
	ReservationActive   = "active"
	ReservationReleased = "released"
	ReservationShipped  = "shipped"
)

// Reservation is stock promised to an order (sold, not shipped).
type Reservation struct {
	ID        string
	Warehouse string
	// Product is what was sold; Lines what is reserved (its components
	// when it is a bundle).
	Product string
	Qty     int64
	Lines   []Line
	Ref     string
	Note    string
	Status  string
	// Escrow says the reservation debits Node's escrow share.
	Escrow bool
	// Node is the node that made the reservation.
	Node string
	// Notice is the shipping notice that handed it to the warehouse's
	// owner, if any.
	Notice  string
	Shipped []Line
	Created time.Time
}

// Holder returns the node that may release or ship r: the node that made
// it, until a shipping notice hands it to the owner of w.
func (r *Reservation) Holder(w *Warehouse) string {
	if r.Notice != "" {
		return w.Owner
	}
	return r.Node
}

// ReserveSpec is a reservation to make: Qty of Product from Warehouse for
// Ref (an order number).
type ReserveSpec struct {
	Warehouse string
	Product   string
	Qty       int64
	Ref       string
	Note      string
}

// ReservationEntity is the entity of reservation id.
func ReservationEntity(id string) string { return "reservation/" + id }

func resKey(id string) []byte         { return key("r", id) }
func resReleasedKey(id string) []byte { return key("rr", id) }
func resShippedKey(id string) []byte  { return key("rs", id) }
func resNoticeKey(id string) []byte   { return key("rn", id) }
func reservedKey(wh, p string) []byte { return key("rv", wh, p) }
func localResKey(wh, p string) []byte { return key("rl", wh, p) }
func resIndexes(m *whv1.ReservationMade, id string) [][]byte {
	out := [][]byte{}
	if ValidCode(m.GetWarehouse()) {
		out = append(out, key("ri", m.GetWarehouse(), rev(id)))
	}
	if m.GetRef() != "" && checkLine("ref", m.GetRef(), maxRef, false) == nil {
		out = append(out, key("rf", m.GetRef(), rev(id)))
	}
	return out
}

// Reserve decides the event making reservation id (a new ULID) at node.
// When the warehouse has sellers (escrow on) and node is one of them — or
// is not its owner — the reservation debits node's escrow share and is
// refused with insufficient_share when the share is short, even offline.
// At the owner without a share it takes the owner's free stock (good
// stock − safety − reserved − promised to escrow), insufficient_stock
// when short. Other nodes cannot reserve a warehouse without sellers.
func Reserve(views replication.Tx, node, id string, r ReserveSpec, now time.Time) (replication.Draft, error) {
	if err := checkULID("id", id); err != nil {
		return replication.Draft{}, err
	}
	if err := checkLine("ref", r.Ref, maxRef, true); err != nil {
		return replication.Draft{}, err
	}
	if err := checkNote("note", r.Note); err != nil {
		return replication.Draft{}, err
	}
	if err := checkQty("quantity", r.Qty); err != nil {
		return replication.Draft{}, err
	}
	w, err := needWarehouse(views, "warehouse", r.Warehouse)
	if err != nil {
		return replication.Draft{}, err
	}
	p, err := needProduct(views, "product", r.Product)
	if err != nil {
		return replication.Draft{}, err
	}
	if ok, err := exists(views, resKey(id)); err != nil || ok {
		return replication.Draft{}, cmpErr(err, fmt.Errorf("reservation %s exists: %w", id, fault.ErrConflict))
	}
	ps, err := expand(views, p, r.Qty)
	if err != nil {
		return replication.Draft{}, err
	}
	useShare := len(w.Sellers) > 0 && (node != w.Owner || w.IsSeller(node))
	if !useShare && node != w.Owner {
		return replication.Draft{}, fmt.Errorf("warehouse %s has no sellers: only its owner %s reserves its stock: %w", w.ID, w.Owner, fault.ErrDenied)
	}
	b := &whv1.ReservationMade{Warehouse: w.ID, Ref: r.Ref, Product: p.ID, Qty: r.Qty, Escrow: useShare, Note: r.Note, AtMs: ms(now)}
	for _, pt := range ps {
		if useShare {
			bal, err := replication.GetCounter(views, shareKey(w.ID, pt.product.ID, node))
			if err != nil {
				return replication.Draft{}, err
			}
			if bal < pt.qty {
				return replication.Draft{}, fault.Invalidf("quantity", "insufficient_share",
					"%d of %s wanted, the share of node %s in %s holds %d", pt.qty, pt.product.ID, node, w.ID, max(bal, 0))
			}
		} else {
			free, err := freeStock(views, w, pt.product.ID)
			if err != nil {
				return replication.Draft{}, err
			}
			if free < pt.qty {
				return replication.Draft{}, fault.Invalidf("quantity", "insufficient_stock",
					"%d of %s wanted, %d available in %s", pt.qty, pt.product.ID, max(free, 0), w.ID)
			}
		}
		b.Lines = append(b.Lines, &whv1.Line{Product: pt.product.ID, Qty: pt.qty, Bundle: pt.bundle})
	}
	return replication.Draft{Kind: KindReservationMade, Entity: ReservationEntity(id), Body: b}, nil
}

// held reads reservation id for a transition by node: it must be active
// and held by node.
func held(views replication.Tx, node, id string) (*Reservation, *Warehouse, error) {
	r, err := GetReservation(views, id)
	if err != nil {
		return nil, nil, err
	}
	if r.Status != ReservationActive {
		return nil, nil, fmt.Errorf("reservation %s is %s: %w", id, r.Status, fault.ErrConflict)
	}
	w, err := GetWarehouse(views, r.Warehouse)
	if err != nil {
		return nil, nil, err
	}
	if h := r.Holder(w); h != node {
		return nil, nil, fmt.Errorf("reservation %s is held by node %s: %w", id, h, fault.ErrDenied)
	}
	return r, w, nil
}

// Release decides the event cancelling reservation id at node, which must
// hold it. An escrow reservation's quantity goes back to its node's share.
func Release(views replication.Tx, node, id, note string) (replication.Draft, error) {
	if err := checkNote("note", note); err != nil {
		return replication.Draft{}, err
	}
	if _, _, err := held(views, node, id); err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindReservationReleased, Entity: ReservationEntity(id), Body: &whv1.ReservationReleased{Note: note}}, nil
}

// Ship decides the event issuing reservation id (type "order") at node,
// which must own the warehouse and hold the reservation: one made there,
// or handed over by a shipping notice. Batches are picked first in, first
// out from the good bins.
func Ship(views replication.Tx, node, id string, now time.Time) (replication.Draft, error) {
	r, w, err := held(views, node, id)
	if err != nil {
		return replication.Draft{}, err
	}
	if w.Owner != node {
		return replication.Draft{}, fmt.Errorf("warehouse %s ships at node %s: %w", w.ID, w.Owner, fault.ErrDenied)
	}
	return shipDraft(newPicker(views, w), r, "", now)
}

func shipDraft(pk *picker, r *Reservation, notice string, now time.Time) (replication.Draft, error) {
	b := &whv1.ReservationShipped{Warehouse: r.Warehouse, Escrow: r.Escrow, Notice: notice, AtMs: ms(now), Ref: r.Ref}
	for _, l := range r.Lines {
		p, err := GetProduct(pk.views, l.Product)
		if err != nil {
			return replication.Draft{}, err
		}
		ls, err := pk.take(p, pk.w.GoodBins(), "", l.Qty, l.Bundle)
		if err != nil {
			return replication.Draft{}, fmt.Errorf("reservation %s: %w", r.ID, err)
		}
		b.Lines = append(b.Lines, ls...)
	}
	return replication.Draft{Kind: KindReservationShipped, Entity: ReservationEntity(r.ID), Body: b}, nil
}

func reservationID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, "reservation/")
	return id, ok && replication.ValidULID(id)
}

// resFacts are the facts of a reservation a replica has seen; its
// contribution to the counters is a function of them.
type resFacts struct {
	made     *whv1.ReservationMade
	node     string // origin of made
	released bool
	shipped  bool
}

func factsOf(tx replication.Tx, id string) (resFacts, error) {
	var f resFacts
	r, ok, err := getFirst(tx, resKey(id))
	if err != nil {
		return f, err
	}
	if ok {
		var m whv1.ReservationMade
		if proto.Unmarshal(r.Value, &m) == nil {
			f.made, f.node = &m, r.Stamp.Origin
		}
	}
	if f.released, err = exists(tx, resReleasedKey(id)); err != nil {
		return f, err
	}
	f.shipped, err = exists(tx, resShippedKey(id))
	return f, err
}

// contribute adds sign × the reservation's contribution: its lines are
// reserved while active; an escrow reservation debits its node's share
// unless it was released without being shipped.
func (f resFacts) contribute(tx replication.Tx, sign int64) error {
	if f.made == nil || !ValidCode(f.made.GetWarehouse()) {
		return nil
	}
	wh, escrow := f.made.GetWarehouse(), f.made.GetEscrow()
	active := !f.released && !f.shipped
	debit := escrow && (f.shipped || !f.released)
	for _, l := range f.made.GetLines() {
		p, q := l.GetProduct(), l.GetQty()
		if !ValidCode(p) || q <= 0 {
			continue
		}
		if active {
			keys := [][]byte{reservedKey(wh, p)}
			if !escrow {
				keys = append(keys, localResKey(wh, p))
			}
			if err := addCounters(tx, sign*q, keys...); err != nil {
				return err
			}
		}
		if debit && replication.ValidNodeID(f.node) {
			if err := addCounters(tx, -sign*q, shareKey(wh, p, f.node), shareByNodeKey(f.node, wh, p)); err != nil {
				return err
			}
			if err := reindexEscrow(tx, wh, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// changeFacts runs write (which records one fact) and updates the counters
// by the difference it makes to the reservation's contribution.
func changeFacts(tx replication.Tx, id string, write func() error) error {
	before, err := factsOf(tx, id)
	if err != nil {
		return err
	}
	if err := write(); err != nil {
		return err
	}
	after, err := factsOf(tx, id)
	if err != nil {
		return err
	}
	if err := before.contribute(tx, -1); err != nil {
		return err
	}
	return after.contribute(tx, 1)
}

func checkReservationMade(ev *replication.Event, b *whv1.ReservationMade) error {
	if err := checkCode("warehouse", b.GetWarehouse(), "warehouse"); err != nil {
		return err
	}
	if err := checkCode("product", b.GetProduct(), "product"); err != nil {
		return err
	}
	if err := checkQty("quantity", b.GetQty()); err != nil {
		return err
	}
	if err := checkLines("lines", b.GetLines(), 1, false); err != nil {
		return err
	}
	if err := checkLine("ref", b.GetRef(), maxRef, true); err != nil {
		return err
	}
	if b.GetAtMs() <= 0 {
		return fault.Invalidf("at_ms", "required", "is required")
	}
	return checkNote("note", b.GetNote())
}

func applyReservationMade(tx replication.Tx, ev *replication.Event, b *whv1.ReservationMade) error {
	id, ok := reservationID(ev)
	if !ok {
		return nil
	}
	return changeFacts(tx, id, func() error {
		won, prev, had, err := recordFirst(tx, resKey(id), b, ev)
		if err != nil || !won {
			return err
		}
		if had {
			var old whv1.ReservationMade
			if proto.Unmarshal(prev.Value, &old) == nil {
				for _, k := range resIndexes(&old, id) {
					if err := tx.Delete(k); err != nil {
						return err
					}
				}
			}
		}
		for _, k := range resIndexes(b, id) {
			if err := tx.Set(k, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

func checkReservationReleased(ev *replication.Event, b *whv1.ReservationReleased) error {
	return checkNote("note", b.GetNote())
}

func applyReservationReleased(tx replication.Tx, ev *replication.Event, b *whv1.ReservationReleased) error {
	id, ok := reservationID(ev)
	if !ok {
		return nil
	}
	return changeFacts(tx, id, func() error {
		_, _, _, err := setFirst(tx, resReleasedKey(id), []byte(b.GetNote()), replication.StampOf(ev))
		return err
	})
}

func checkReservationShipped(ev *replication.Event, b *whv1.ReservationShipped) error {
	if err := checkCode("warehouse", b.GetWarehouse(), "warehouse"); err != nil {
		return err
	}
	if err := checkLines("lines", b.GetLines(), -1, true); err != nil {
		return err
	}
	if n := b.GetNotice(); n != "" && !replication.ValidULID(n) {
		return fault.Invalidf("notice", "bad_id", "%q is not a notice", n)
	}
	if b.GetAtMs() <= 0 {
		return fault.Invalidf("at_ms", "required", "is required")
	}
	return checkLine("ref", b.GetRef(), maxRef, false)
}

func applyReservationShipped(tx replication.Tx, ev *replication.Event, b *whv1.ReservationShipped) error {
	id, ok := reservationID(ev)
	if !ok {
		return nil
	}
	err := changeFacts(tx, id, func() error {
		_, _, _, err := recordFirst(tx, resShippedKey(id), b, ev)
		return err
	})
	if err != nil {
		return err
	}
	_, err = commitRecord(tx, ev, id+sufShip, &whv1.MoveRecord{Escrow: b.GetEscrow(), Move: &whv1.StockMoved{
		Warehouse: b.GetWarehouse(), Direction: DirIssue, Type: IssueOrder, Lines: b.GetLines(), Ref: b.GetRef(), AtMs: b.GetAtMs()}})
	return err
}

// GetReservation reads reservation id.
func GetReservation(views replication.Tx, id string) (*Reservation, error) {
	if !replication.ValidULID(id) {
		return nil, fmt.Errorf("reservation %q: %w", id, fault.ErrNotFound)
	}
	f, err := factsOf(views, id)
	if err != nil {
		return nil, err
	}
	if f.made == nil {
		return nil, fmt.Errorf("reservation %s: %w", id, fault.ErrNotFound)
	}
	m := f.made
	r := &Reservation{ID: id, Warehouse: m.GetWarehouse(), Product: m.GetProduct(), Qty: m.GetQty(), Lines: linesFrom(m.GetLines()),
		Ref: m.GetRef(), Note: m.GetNote(), Escrow: m.GetEscrow(), Node: f.node, Created: fromMs(m.GetAtMs()), Status: ReservationActive}
	switch {
	case f.shipped:
		r.Status = ReservationShipped
		var s whv1.ReservationShipped
		if _, _, err := readFirst(views, resShippedKey(id), &s); err != nil {
			return nil, err
		}
		r.Shipped = linesFrom(s.GetLines())
	case f.released:
		r.Status = ReservationReleased
	}
	n, ok, err := getFirst(views, resNoticeKey(id))
	if err != nil {
		return nil, err
	}
	if ok {
		r.Notice = string(n.Value)
	}
	return r, nil
}

// ListReservations returns up to limit reservations of warehouse wh, or
// (when ref is given) of ref, newest first, after the page token.
func ListReservations(views replication.Tx, wh, ref, token string, limit int) ([]*Reservation, string, error) {
	var p []byte
	switch {
	case ref != "":
		if err := checkLine("ref", ref, maxRef, true); err != nil {
			return nil, "", err
		}
		p = prefix("rf", ref)
	case wh != "":
		if err := checkCode("warehouse", wh, "warehouse"); err != nil {
			return nil, "", err
		}
		p = prefix("ri", wh)
	default:
		return nil, "", fault.Invalidf("warehouse", "required", "name a warehouse or a ref")
	}
	var out []*Reservation
	next, err := pageOf(views, p, token, limit, func(k, _ []byte) (bool, error) {
		r, err := GetReservation(views, rev(string(k[len(p):])))
		if err != nil {
			return false, err
		}
		if wh != "" && r.Warehouse != wh {
			return false, nil
		}
		out = append(out, r)
		return true, nil
	})
	return out, next, err
}
