package warehouse

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	whv1 "branchline/gen/branchline/warehouse/v1"
	"branchline/replication"
)

// Event kinds of shipping notices (发货通知单).
const (
	KindNoticeCreated   = "warehouse.notice.created"
	KindNoticeConfirmed = "warehouse.notice.confirmed"
)

// Notice states.
const (
	NoticePending   = "pending"
	NoticeConfirmed = "confirmed"
)

// maxNoticeReservations bounds the reservations of one notice.
const maxNoticeReservations = 200

// NoticeSpec is a shipping notice to create: reservations of one warehouse
// to ship, for Ref (an order; one order may ship in several notices).
type NoticeSpec struct {
	Warehouse    string
	Ref          string
	Reservations []string
	Note         string
}

// Notice is a shipping notice. Creating it hands its reservations to the
// warehouse's owner, which alone may then ship or release them; that
// hand-over is what keeps a branch's release and the warehouse's
// shipment from racing.
type Notice struct {
	ID           string
	Warehouse    string
	Ref          string
	Reservations []string
	Note         string
	Status       string
	// Node is the node that made it.
	Node      string
	Created   time.Time
	Confirmed time.Time
}

// NoticeEntity is the entity of notice id.
func NoticeEntity(id string) string { return "notice/" + id }

func noticeKey(id string) []byte          { return key("n", id) }
func noticeConfirmedKey(id string) []byte { return key("nc", id) }
func noticeIndexKey(wh, id string) []byte { return key("ni", wh, rev(id)) }

// CreateNotice decides the event creating shipping notice id (a new ULID)
// at node, which must hold every reservation listed: active, of the
// warehouse, made at node and in no other notice (or, at the owner,
// already held by it).
func CreateNotice(views replication.Tx, node, id string, s NoticeSpec, now time.Time) (replication.Draft, error) {
	if err := checkULID("id", id); err != nil {
		return replication.Draft{}, err
	}
	if err := checkLine("ref", s.Ref, maxRef, false); err != nil {
		return replication.Draft{}, err
	}
	if err := checkNote("note", s.Note); err != nil {
		return replication.Draft{}, err
	}
	if ok, err := exists(views, noticeKey(id)); err != nil || ok {
		return replication.Draft{}, cmpErr(err, fmt.Errorf("notice %s exists: %w", id, fault.ErrConflict))
	}
	if _, err := needWarehouse(views, "warehouse", s.Warehouse); err != nil {
		return replication.Draft{}, err
	}
	if len(s.Reservations) == 0 || len(s.Reservations) > maxNoticeReservations {
		return replication.Draft{}, fault.Invalidf("reservations", "bad_count", "1 to %d reservations", maxNoticeReservations)
	}
	res := slices.Clone(s.Reservations)
	slices.Sort(res)
	if len(slices.Compact(res)) != len(s.Reservations) {
		return replication.Draft{}, fault.Invalidf("reservations", "duplicate", "a reservation is listed twice")
	}
	for _, rid := range s.Reservations {
		if err := checkULID("reservations", rid); err != nil {
			return replication.Draft{}, err
		}
		r, _, err := held(views, node, rid)
		if isNotFound(err) {
			return replication.Draft{}, fault.Invalidf("reservations", "unknown_reservation", "no reservation %s", rid)
		}
		if err != nil {
			return replication.Draft{}, err
		}
		if r.Warehouse != s.Warehouse {
			return replication.Draft{}, fault.Invalidf("reservations", "other_warehouse", "reservation %s is of warehouse %s", rid, r.Warehouse)
		}
		if r.Notice != "" {
			return replication.Draft{}, fmt.Errorf("reservation %s is on notice %s: %w", rid, r.Notice, fault.ErrConflict)
		}
	}
	return replication.Draft{Kind: KindNoticeCreated, Entity: NoticeEntity(id), Body: &whv1.NoticeCreated{
		Warehouse: s.Warehouse, Ref: s.Ref, Reservations: s.Reservations, Note: s.Note, AtMs: ms(now)}}, nil
}

// ConfirmNotice decides the events confirming notice id at node, which
// must own the warehouse: one shipment per reservation still active on it
// (batches picked first in, first out, none taken twice), then the
// confirmation. A reservation that cannot be picked refuses the whole
// confirmation.
func ConfirmNotice(views replication.Tx, node, id string, now time.Time) ([]replication.Draft, error) {
	n, err := GetNotice(views, id)
	if err != nil {
		return nil, err
	}
	if n.Status == NoticeConfirmed {
		return nil, fmt.Errorf("notice %s is confirmed: %w", id, fault.ErrConflict)
	}
	w, err := ownWarehouse(views, "warehouse", n.Warehouse, node)
	if err != nil {
		return nil, err
	}
	pk := newPicker(views, w)
	var out []replication.Draft
	for _, rid := range n.Reservations {
		r, err := GetReservation(views, rid)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if r.Status != ReservationActive || r.Notice != id {
			continue
		}
		d, err := shipDraft(pk, r, id, now)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return append(out, replication.Draft{Kind: KindNoticeConfirmed, Entity: NoticeEntity(id), Body: &whv1.NoticeConfirmed{AtMs: ms(now)}}), nil
}

func noticeID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, "notice/")
	return id, ok && replication.ValidULID(id)
}

func checkNoticeCreated(ev *replication.Event, b *whv1.NoticeCreated) error {
	if err := checkCode("warehouse", b.GetWarehouse(), "warehouse"); err != nil {
		return err
	}
	if len(b.GetReservations()) == 0 || len(b.GetReservations()) > maxNoticeReservations {
		return fault.Invalidf("reservations", "bad_count", "1 to %d reservations", maxNoticeReservations)
	}
	for _, r := range b.GetReservations() {
		if !replication.ValidULID(r) {
			return fault.Invalidf("reservations", "bad_id", "%q is not a reservation", r)
		}
	}
	if b.GetAtMs() <= 0 {
		return fault.Invalidf("at_ms", "required", "is required")
	}
	return checkText(b.GetRef(), b.GetNote())
}

func applyNoticeCreated(tx replication.Tx, ev *replication.Event, b *whv1.NoticeCreated) error {
	id, ok := noticeID(ev)
	if !ok || !ValidCode(b.GetWarehouse()) {
		return nil
	}
	v, err := marshal.Marshal(b)
	if err != nil {
		return err
	}
	s := replication.StampOf(ev)
	won, prev, had, err := setFirst(tx, noticeKey(id), v, s)
	if err != nil {
		return err
	}
	if won {
		if had {
			var old whv1.NoticeCreated
			if proto.Unmarshal(prev.Value, &old) == nil && ValidCode(old.GetWarehouse()) {
				if err := tx.Delete(noticeIndexKey(old.GetWarehouse(), id)); err != nil {
					return err
				}
			}
		}
		if err := tx.Set(noticeIndexKey(b.GetWarehouse(), id), nil); err != nil {
			return err
		}
	}
	// Each reservation belongs to the first notice (by stamp) listing it.
	for _, r := range b.GetReservations() {
		if !replication.ValidULID(r) {
			continue
		}
		if _, _, _, err := setFirst(tx, resNoticeKey(r), []byte(id), s); err != nil {
			return err
		}
	}
	return nil
}

func checkNoticeConfirmed(ev *replication.Event, _ *whv1.NoticeConfirmed) error {
	return nil
}

func applyNoticeConfirmed(tx replication.Tx, ev *replication.Event, b *whv1.NoticeConfirmed) error {
	id, ok := noticeID(ev)
	if !ok {
		return nil
	}
	_, _, _, err := recordFirst(tx, noticeConfirmedKey(id), b, ev)
	return err
}

// GetNotice reads notice id.
func GetNotice(views replication.Tx, id string) (*Notice, error) {
	var c whv1.NoticeCreated
	st, err := readRecord(views, "notice", id, noticeKey, &c)
	if err != nil {
		return nil, err
	}
	n := &Notice{ID: id, Warehouse: c.GetWarehouse(), Ref: c.GetRef(), Reservations: c.GetReservations(), Note: c.GetNote(),
		Status: NoticePending, Node: st.Origin, Created: fromMs(c.GetAtMs())}
	var cf whv1.NoticeConfirmed
	if _, ok, err := readFirst(views, noticeConfirmedKey(id), &cf); err != nil {
		return nil, err
	} else if ok {
		n.Status, n.Confirmed = NoticeConfirmed, fromMs(cf.GetAtMs())
	}
	return n, nil
}

// ListNotices returns up to limit notices of warehouse wh, newest first,
// after the page token.
func ListNotices(views replication.Tx, wh, token string, limit int) ([]*Notice, string, error) {
	return listNewest(views, "ni", wh, token, limit, GetNotice)
}
