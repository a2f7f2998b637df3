package pickup

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/crm"
	"branchline/fault"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/replication"
)

// fact is one workflow transition as its register holds it.
type fact struct {
	ok      bool
	actor   string
	stamp   replication.Stamp
	courier string
	text    string // reason, note or message id
	weight  int64
	price   int64
	auto    bool
}

func (f fact) at() time.Time {
	if !f.ok {
		return time.Time{}
	}
	return f.stamp.HLC.Time()
}

// facts of one pickup. Notified, accepted and failed are read for the
// current courier only: they are kept per courier.
type facts struct {
	assigned, notified, accepted, picked, checked, cancelled, failed fact
}

// perCourier reports whether the facts of status are kept per courier.
func perCourier(status string) bool {
	return status == StatusNotified || status == StatusAccepted || status == StatusFailed
}

func readFact(views replication.Tx, key []byte, status string) (fact, error) {
	reg, ok, err := replication.GetRegister(views, key)
	if err != nil || !ok {
		return fact{}, err
	}
	ss, body, ok := unpack(reg.Value, 1)
	if !ok {
		return fact{}, fmt.Errorf("bad %s fact %q", status, key)
	}
	f := fact{ok: true, actor: ss[0], stamp: reg.Stamp}
	var m proto.Message
	switch status {
	case StatusAssigned:
		m = &pickupv1.PickupAssigned{}
	case StatusNotified:
		m = &pickupv1.PickupNotified{}
	case StatusAccepted:
		m = &pickupv1.PickupAccepted{}
	case StatusPickedUp:
		m = &pickupv1.PickupPickedUp{}
	case StatusChecked:
		m = &pickupv1.PickupChecked{}
	case StatusCancelled:
		m = &pickupv1.PickupCancelled{}
	case StatusFailed:
		m = &pickupv1.PickupFailed{}
	}
	if err := proto.Unmarshal(body, m); err != nil {
		return fact{}, fmt.Errorf("bad %s fact %q: %w", status, key, err)
	}
	switch b := m.(type) {
	case *pickupv1.PickupAssigned:
		f.courier, f.auto = b.GetCourier(), b.GetAuto()
	case *pickupv1.PickupNotified:
		f.courier, f.text = b.GetCourier(), b.GetMessageId()
	case *pickupv1.PickupAccepted:
		f.courier = b.GetCourier()
	case *pickupv1.PickupPickedUp:
		f.courier, f.weight, f.price = b.GetCourier(), b.GetWeightGrams(), b.GetPriceFen()
	case *pickupv1.PickupChecked:
		f.text = b.GetNote()
	case *pickupv1.PickupCancelled:
		f.text = b.GetReason()
	case *pickupv1.PickupFailed:
		f.courier, f.text = b.GetCourier(), b.GetReason()
	}
	return f, nil
}

// load reads what the views hold of pickup id: the created body (if it
// has arrived) and the facts, and decides its status. Edits and history
// are read by Get.
func load(views replication.Tx, id string) (*Pickup, error) {
	p := &Pickup{ID: id}
	reg, ok, err := replication.GetRegister(views, createdKey(id))
	if err != nil {
		return nil, err
	}
	if ok {
		ss, enc, ok := unpack(reg.Value, 1)
		var b pickupv1.PickupCreated
		if !ok {
			return nil, fmt.Errorf("pickup %s: bad created register", id)
		}
		if err := proto.Unmarshal(enc, &b); err != nil {
			return nil, fmt.Errorf("pickup %s: %w", id, err)
		}
		p.known, p.accountFact = true, b.GetCountedByAccountFact()
		p.Number, p.Waybill, p.Day = b.GetNumber(), b.GetWaybill(), b.GetDay()
		p.Sender, p.Receiver = partyFrom(b.GetSender()), partyFrom(b.GetReceiver())
		p.Destination, p.Route, p.Goods, p.Note = b.GetDestination(), b.GetRoute(), b.GetGoods(), b.GetNote()
		p.WeightGrams, p.Pieces, p.Payment, p.Price = b.GetWeightGrams(), b.GetPieces(), b.GetPayment(), b.GetPriceFen()
		p.Quote = breakdownFrom(p.Destination, p.WeightGrams, b.GetQuote())
		p.Customer, p.Zone = b.GetCustomer(), b.GetZone()
		p.Branch, p.EnteredBy, p.Entered = reg.Stamp.Origin, ss[0], reg.Stamp.HLC.Time()
	}
	err = p.facts.fill(func(status, courier string) (fact, error) {
		if perCourier(status) {
			return readFact(views, factKey(id, status, courier), status)
		}
		return readFact(views, factKey(id, status), status)
	})
	if err != nil {
		return nil, err
	}
	p.decide()
	return p, nil
}

// fill reads a pickup's facts through get, which returns the register of
// a status (for a courier, for the statuses kept per courier): notified,
// accepted and failed are read for the courier assigned only.
func (f *facts) fill(get func(status, courier string) (fact, error)) error {
	var err error
	for _, s := range []struct {
		status string
		f      *fact
	}{
		{StatusAssigned, &f.assigned}, {StatusPickedUp, &f.picked}, {StatusChecked, &f.checked}, {StatusCancelled, &f.cancelled},
	} {
		if *s.f, err = get(s.status, ""); err != nil {
			return err
		}
	}
	if !f.assigned.ok {
		return nil
	}
	for _, s := range []struct {
		status string
		f      *fact
	}{{StatusNotified, &f.notified}, {StatusAccepted, &f.accepted}, {StatusFailed, &f.failed}} {
		if *s.f, err = get(s.status, f.assigned.courier); err != nil {
			return err
		}
	}
	return nil
}

// decide computes the status, the fields that follow from the facts, the
// monthly charge and the conflicts. It depends on nothing but the facts,
// so every replica holding the same facts decides the same.
func (p *Pickup) decide() {
	f := &p.facts
	// Notified, accepted and failed count for the current courier when
	// made after the assignment: a reassignment starts afresh.
	effective := func(x fact) bool { return x.ok && f.assigned.ok && x.stamp.After(f.assigned.stamp) }
	notified, accepted, failed := effective(f.notified), effective(f.accepted), effective(f.failed)
	switch {
	case f.checked.ok:
		p.Status = StatusChecked
	case f.picked.ok:
		p.Status = StatusPickedUp
	case f.cancelled.ok:
		p.Status = StatusCancelled
	case failed:
		p.Status = StatusFailed
	case accepted:
		p.Status = StatusAccepted
	case notified:
		p.Status = StatusNotified
	case f.assigned.ok:
		p.Status = StatusAssigned
	default:
		p.Status = StatusNew
	}
	if f.assigned.ok {
		p.Courier, p.AssignedBy, p.AssignedAt, p.AutoAssigned = f.assigned.courier, f.assigned.actor, f.assigned.at(), f.assigned.auto
	}
	if notified {
		p.NotifiedAt, p.MessageID = f.notified.at(), f.notified.text
	}
	if accepted {
		p.AcceptedAt = f.accepted.at()
	}
	if failed {
		p.FailedBy, p.FailedAt, p.FailReason = f.failed.courier, f.failed.at(), f.failed.text
	}
	if f.picked.ok {
		p.PickedUpBy, p.PickedUpAt, p.ActualWeight, p.ActualPrice = f.picked.courier, f.picked.at(), f.picked.weight, f.picked.price
	}
	if f.checked.ok {
		p.CheckedBy, p.CheckedAt, p.CheckNote = f.checked.actor, f.checked.at(), f.checked.text
	}
	if f.cancelled.ok {
		p.CancelledBy, p.CancelledAt, p.CancelReason = f.cancelled.actor, f.cancelled.at(), f.cancelled.text
	}
	p.Charge = 0
	if p.known && p.Payment == PaymentMonthly && p.Customer != "" && p.Status != StatusCancelled && p.Status != StatusFailed {
		p.Charge = p.Price
		if f.picked.ok {
			p.Charge = p.ActualPrice
		}
	}

	p.Conflicts = nil
	lost := func(status string, x fact, detail string, won string, w fact) {
		p.Conflicts = append(p.Conflicts, Conflict{Pickup: p.ID, Number: p.Number, Branch: p.Branch,
			Lost: status, LostBy: x.actor, LostAt: x.at(), Detail: detail, Won: won, WonBy: w.actor, WonAt: w.at()})
	}
	done, doneStatus := f.picked, StatusPickedUp
	if !done.ok {
		done, doneStatus = f.checked, StatusChecked
	}
	switch p.Status {
	case StatusPickedUp, StatusChecked:
		// A cancel or failure beaten by the pick-up (made during an
		// outage, unseen by the other side).
		if f.cancelled.ok {
			lost(StatusCancelled, f.cancelled, f.cancelled.text, doneStatus, done)
		}
		if failed {
			lost(StatusFailed, f.failed, f.failed.text, doneStatus, done)
		}
		// A reassignment beaten by the pick-up of the courier it took the
		// pickup from: the courier could not have seen it.
		if f.picked.ok && f.assigned.ok && f.assigned.courier != f.picked.courier {
			lost(StatusAssigned, f.assigned, f.assigned.courier, StatusPickedUp, f.picked)
		}
	case StatusCancelled:
		// Steps taken after the cancel by someone who had not seen it.
		if f.assigned.ok && f.assigned.stamp.After(f.cancelled.stamp) {
			lost(StatusAssigned, f.assigned, f.assigned.courier, StatusCancelled, f.cancelled)
		}
		if accepted && f.accepted.stamp.After(f.cancelled.stamp) {
			lost(StatusAccepted, f.accepted, "", StatusCancelled, f.cancelled)
		}
	}
}

func isOpen(status string) bool {
	return status == StatusAssigned || status == StatusNotified || status == StatusAccepted
}

// state is the derived record of the pickup.
func (p *Pickup) state() *pickupv1.PickupState {
	st := &pickupv1.PickupState{Status: p.Status, Courier: p.Courier, Picker: p.PickedUpBy,
		Conflicts: int32(len(p.Conflicts)), FailedBy: p.FailedBy}
	if p.known {
		st.Branch, st.Customer, st.Payment, st.Day = p.Branch, p.Customer, p.Payment, p.Day
		st.UtcDay, st.CreatedMs = utcDay(p.Entered.UnixMilli()), p.Entered.UnixMilli()
		st.PriceFen, st.ActualFen, st.ChargeFen = p.Price, p.ActualPrice, p.Charge
		st.AccountFact = p.accountFact
	}
	return st
}

// readState reads the derived record of pickup id.
func readState(views replication.Tx, id string) (*pickupv1.PickupState, bool, error) {
	st, ok, err := readRecord(views, stateKey(id))
	if err != nil {
		return nil, false, fmt.Errorf("pickup %s state: %w", id, err)
	}
	return st, ok, nil
}

// readRecord reads a PickupState at key; empty when there is none.
func readRecord(views replication.Tx, key []byte) (*pickupv1.PickupState, bool, error) {
	b, err := views.Get(key)
	if errors.Is(err, replication.ErrNotFound) {
		return &pickupv1.PickupState{}, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var st pickupv1.PickupState
	if err := proto.Unmarshal(b, &st); err != nil {
		return nil, false, err
	}
	return &st, true, nil
}

func toggle(tx replication.Tx, key []byte, on bool) error {
	if on {
		return tx.Set(key, nil)
	}
	return tx.Delete(key)
}

// recompute derives pickup id's state from its facts after one of its
// events and brings the indexes and (for a booking the account facts do
// not count) the account counters in line, by difference with the state
// derived before. The state depends only on the facts, so the views do
// not depend on arrival order; counters get the difference of each
// charge, which sums to the final charges.
func recompute(tx replication.Tx, id string) error {
	p, err := load(tx, id)
	if err != nil {
		return err
	}
	ns := p.state()
	old, _, err := readState(tx, id)
	if err != nil {
		return err
	}
	keysOf := func(st *pickupv1.PickupState) [][]byte {
		var ks [][]byte
		if st.GetUtcDay() != "" {
			ks = append(ks, dayKey(st.GetUtcDay(), id))
		}
		if isOpen(st.GetStatus()) && st.GetCourier() != "" {
			ks = append(ks, openKey(st.GetCourier(), id))
		}
		for _, c := range []string{st.GetCourier(), st.GetPicker()} {
			if c != "" {
				ks = append(ks, mineKey(c, id))
			}
		}
		if st.GetConflicts() > 0 && st.GetBranch() != "" {
			ks = append(ks, conflictKey(st.GetBranch(), id))
		}
		return ks
	}
	oldKeys, newKeys := keysOf(old), keysOf(ns)
	for _, k := range oldKeys {
		if !slices.ContainsFunc(newKeys, func(n []byte) bool { return string(n) == string(k) }) {
			if err := toggle(tx, k, false); err != nil {
				return err
			}
		}
	}
	for _, k := range newKeys {
		if !slices.ContainsFunc(oldKeys, func(o []byte) bool { return string(o) == string(k) }) {
			if err := toggle(tx, k, true); err != nil {
				return err
			}
		}
	}
	if err := moveLine(tx, id, countedHere(old), countedHere(ns)); err != nil {
		return err
	}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(ns)
	if err != nil {
		return err
	}
	return tx.Set(stateKey(id), enc)
}

// countedHere is what the pickup's own appliers count of state st: all of
// it for a booking of an earlier release, nothing for one the account
// facts count (see fact.go).
func countedHere(st *pickupv1.PickupState) *pickupv1.PickupState {
	if st.GetAccountFact() {
		return &pickupv1.PickupState{}
	}
	return st
}

// charge adds sign × the state's monthly charge to its customer's
// unsettled balance and month.
func charge(tx replication.Tx, st *pickupv1.PickupState, sign int64) error {
	if st.GetChargeFen() == 0 || st.GetCustomer() == "" || len(st.GetDay()) != 8 {
		return nil
	}
	amount := sign * st.GetChargeFen()
	if _, err := replication.AddCounter(tx, balanceKey(st.GetCustomer()), amount); err != nil {
		return err
	}
	_, err := replication.AddCounter(tx, monthKey(st.GetCustomer(), st.GetDay()[:6], monthCharges), amount)
	return err
}

// Commands of the workflow. Each refuses what the local views make
// impossible: ErrDenied for the wrong courier or branch, ErrConflict for
// a transition the status does not allow. Each returns the transition's
// event, preceded, for a monthly pickup the account follows, by its
// account fact (see fact.go): record them in one transaction, in order.

func atBranch(p *Pickup, node string) error {
	if p.Branch != node {
		return fmt.Errorf("pickup %s belongs to branch %s: %w", p.Number, p.Branch, fault.ErrDenied)
	}
	return nil
}

func assignedTo(p *Pickup, courier string) error {
	if p.Courier == "" || p.Courier != courier {
		return fmt.Errorf("pickup %s is not assigned to %s: %w", p.Number, courier, fault.ErrDenied)
	}
	return nil
}

func refuse(p *Pickup, verb string) error {
	return fmt.Errorf("cannot %s pickup %s: it is %s: %w", verb, p.Number, p.Status, fault.ErrConflict)
}

// AssignWaiting decides the automatic assignment of pickup id, booked at
// node when no courier of its zone was on duty: the zone's courier on
// duty with the fewest open pickups now. It makes no event when the
// pickup is no longer waiting or its zone still has nobody on duty.
func AssignWaiting(views replication.Tx, id, node string) ([]replication.Draft, error) {
	p, err := Get(views, id)
	if err != nil {
		return nil, err
	}
	if p.Branch != node || p.Status != StatusNew || p.Courier != "" || p.Zone == "" {
		return nil, nil
	}
	courier, err := AutoCourier(views, p.Zone)
	if err != nil || courier == "" {
		return nil, err
	}
	return transition(p, KindAssigned, &pickupv1.PickupAssigned{Courier: courier, Auto: true}), nil
}

// Reassign decides the event giving pickup id to courier, by hand, at
// node (the pickup's branch). A failed pickup may be reassigned (to the
// same courier too): that retries it.
func Reassign(views replication.Tx, id, node, courier string) ([]replication.Draft, error) {
	p, err := Get(views, id)
	if err != nil {
		return nil, err
	}
	if err := atBranch(p, node); err != nil {
		return nil, err
	}
	switch {
	case p.Status == StatusPickedUp || p.Status == StatusChecked || p.Status == StatusCancelled:
		return nil, refuse(p, "reassign")
	case p.Courier == courier && p.Status != StatusFailed:
		return nil, fmt.Errorf("pickup %s is assigned to %s already: %w", p.Number, courier, fault.ErrConflict)
	}
	if !ValidUser(courier) {
		return nil, fault.Invalidf("courier", "bad_user", "%q is not a user name", courier)
	}
	if _, ok, err := GetCourier(views, courier); err != nil {
		return nil, err
	} else if !ok {
		return nil, fault.Invalidf("courier", "unknown_courier", "no courier %q", courier)
	}
	return transition(p, KindAssigned, &pickupv1.PickupAssigned{Courier: courier}), nil
}

// Notify decides the event recording that the dispatch message
// messageID (a telephony message id) was queued to the pickup's courier.
// The node calls it after queuing the SIP MESSAGE.
func Notify(views replication.Tx, id, messageID string) ([]replication.Draft, error) {
	if !replication.ValidULID(messageID) {
		return nil, fault.Invalidf("message_id", "bad_id", "%q is not a message id", messageID)
	}
	p, err := Get(views, id)
	if err != nil {
		return nil, err
	}
	if !isOpen(p.Status) {
		return nil, refuse(p, "notify")
	}
	return transition(p, KindNotified, &pickupv1.PickupNotified{Courier: p.Courier, MessageId: messageID}), nil
}

// Accept decides the event of courier accepting pickup id.
func Accept(views replication.Tx, id, courier string) ([]replication.Draft, error) {
	p, err := Get(views, id)
	if err != nil {
		return nil, err
	}
	if err := assignedTo(p, courier); err != nil {
		return nil, err
	}
	if p.Status != StatusAssigned && p.Status != StatusNotified {
		return nil, refuse(p, "accept")
	}
	return transition(p, KindAccepted, &pickupv1.PickupAccepted{Courier: courier}), nil
}

// PickUp decides the event of courier picking up pickup id, weighed at
// weightGrams and charged priceFen; priceFen 0 prices the actual weight
// by the customer's plan with the booking's volume discount.
func PickUp(views replication.Tx, id, courier string, weightGrams, priceFen int64) ([]replication.Draft, error) {
	p, err := Get(views, id)
	if err != nil {
		return nil, err
	}
	if err := assignedTo(p, courier); err != nil {
		return nil, err
	}
	if !isOpen(p.Status) {
		return nil, refuse(p, "pick up")
	}
	if weightGrams <= 0 || weightGrams > MaxWeightGrams {
		return nil, fault.Invalidf("weight_grams", "bad_weight", "the weight must be 1 to %d grams, not %d", MaxWeightGrams, weightGrams)
	}
	if priceFen < 0 || priceFen > maxPrice {
		return nil, fault.Invalidf("price_fen", "bad_amount", "must be 0 to %d fen", int64(maxPrice))
	}
	if priceFen == 0 {
		b, err := planPrice(views, p.Customer, p.Destination, weightGrams)
		if err != nil {
			return nil, err
		}
		pct := p.Quote.DiscountPercent
		if pct == 0 {
			pct = 100
		}
		if priceFen = percentOf(b.Planned, pct); priceFen > maxPrice {
			return nil, fault.Invalidf("weight_grams", "bad_price", "the price %d fen is beyond any tariff", priceFen)
		}
	}
	return transition(p, KindPickedUp, &pickupv1.PickupPickedUp{Courier: courier, WeightGrams: weightGrams, PriceFen: priceFen}), nil
}

// Fail decides the event of courier failing to pick up pickup id.
func Fail(views replication.Tx, id, courier, reason string) ([]replication.Draft, error) {
	reason, err := line("reason", reason, maxReason, true)
	if err != nil {
		return nil, err
	}
	p, err := Get(views, id)
	if err != nil {
		return nil, err
	}
	if err := assignedTo(p, courier); err != nil {
		return nil, err
	}
	if !isOpen(p.Status) {
		return nil, refuse(p, "fail")
	}
	return transition(p, KindFailed, &pickupv1.PickupFailed{Courier: courier, Reason: reason}), nil
}

// Check decides the event of the branch checking (核对) picked-up pickup
// id, at node.
func Check(views replication.Tx, id, node, note string) ([]replication.Draft, error) {
	note, err := line("note", note, maxNote, false)
	if err != nil {
		return nil, err
	}
	p, err := Get(views, id)
	if err != nil {
		return nil, err
	}
	if err := atBranch(p, node); err != nil {
		return nil, err
	}
	if p.Status != StatusPickedUp {
		return nil, refuse(p, "check")
	}
	return transition(p, KindChecked, &pickupv1.PickupChecked{Note: note}), nil
}

// Cancel decides the event cancelling pickup id at node, for reason. A
// picked-up pickup cannot be cancelled; if it was picked up meanwhile
// elsewhere, the pick-up stands and the cancel becomes a conflict.
func Cancel(views replication.Tx, id, node, reason string) ([]replication.Draft, error) {
	reason, err := line("reason", reason, maxReason, true)
	if err != nil {
		return nil, err
	}
	p, err := notTakenAtBranch(views, id, node, "cancel")
	if err != nil {
		return nil, err
	}
	return transition(p, KindCancelled, &pickupv1.PickupCancelled{Reason: reason}), nil
}

// notTakenAtBranch reads pickup id for action by the branch at node, which
// only a pickup not yet picked up, checked or cancelled takes.
func notTakenAtBranch(views replication.Tx, id, node, action string) (*Pickup, error) {
	p, err := Get(views, id)
	if err != nil {
		return nil, err
	}
	if err := atBranch(p, node); err != nil {
		return nil, err
	}
	if p.Status == StatusPickedUp || p.Status == StatusChecked || p.Status == StatusCancelled {
		return nil, refuse(p, action)
	}
	return p, nil
}

// Edit decides the event changing descriptive fields of pickup id at
// node: sender_* and receiver_* (name, phone, address, company,
// postcode), route, goods, note, pieces.
func Edit(views replication.Tx, id, node string, fields map[string]string) (replication.Draft, error) {
	fields = maps.Clone(fields)
	for _, who := range []string{"sender", "receiver"} {
		if v, ok := fields[who+"_phone"]; ok {
			var err error
			if fields[who+"_phone"], err = normalPhone(who+".phone", v); err != nil {
				return replication.Draft{}, err
			}
		}
	}
	vals, err := canonicalEdit(fields)
	if err != nil {
		return replication.Draft{}, err
	}
	p, err := notTakenAtBranch(views, id, node, "edit")
	if err != nil {
		return replication.Draft{}, err
	}
	// No account fact: what an edit changes is on no statement.
	return replication.Draft{Kind: KindFieldSet, Entity: Entity(p.ID), Body: &pickupv1.PickupFieldSet{Fields: vals}}, nil
}

func checkPickupEntity(ev *replication.Event) error {
	if _, ok := pickupID(ev); !ok {
		return fmt.Errorf("entity %q is not a pickup", ev.Entity)
	}
	return nil
}

func checkCourierRef(c string) error {
	if !ValidUser(c) {
		return fault.Invalidf("courier", "bad_user", "%q is not a user name", c)
	}
	return nil
}

func checkReason(field, r string, required bool) error {
	_, err := line(field, r, maxReason, required)
	return err
}

func checkAssigned(ev *replication.Event, b *pickupv1.PickupAssigned) error {
	return errors.Join(checkPickupEntity(ev), checkCourierRef(b.GetCourier()))
}

func checkNotified(ev *replication.Event, b *pickupv1.PickupNotified) error {
	err := errors.Join(checkPickupEntity(ev), checkCourierRef(b.GetCourier()))
	if !replication.ValidULID(b.GetMessageId()) {
		err = errors.Join(err, fault.Invalidf("message_id", "bad_id", "%q is not a message id", b.GetMessageId()))
	}
	return err
}

func checkAccepted(ev *replication.Event, b *pickupv1.PickupAccepted) error {
	return errors.Join(checkPickupEntity(ev), checkCourierRef(b.GetCourier()))
}

func checkPickedUp(ev *replication.Event, b *pickupv1.PickupPickedUp) error {
	err := errors.Join(checkPickupEntity(ev), checkCourierRef(b.GetCourier()))
	if b.GetWeightGrams() <= 0 || b.GetWeightGrams() > MaxWeightGrams {
		err = errors.Join(err, fault.Invalidf("weight_grams", "bad_weight", "must be 1 to %d grams", MaxWeightGrams))
	}
	if b.GetPriceFen() < 0 || b.GetPriceFen() > maxPrice {
		err = errors.Join(err, fault.Invalidf("price_fen", "bad_amount", "must be 0 to %d fen", int64(maxPrice)))
	}
	return err
}

func checkChecked(ev *replication.Event, b *pickupv1.PickupChecked) error {
	return errors.Join(checkPickupEntity(ev), checkReason("note", b.GetNote(), false))
}

func checkCancelled(ev *replication.Event, b *pickupv1.PickupCancelled) error {
	return errors.Join(checkPickupEntity(ev), checkReason("reason", b.GetReason(), true))
}

func checkFailed(ev *replication.Event, b *pickupv1.PickupFailed) error {
	return errors.Join(checkPickupEntity(ev), checkCourierRef(b.GetCourier()), checkReason("reason", b.GetReason(), true))
}

// applyFact records a transition: its register (per courier for the
// kinds kept so; stamped as transitionStamp says), its history step, and
// the derived state.
func applyFact(tx replication.Tx, ev *replication.Event, status, courier string, body proto.Message, detail string) error {
	id, ok := pickupID(ev)
	if !ok || (perCourier(status) && !ValidUser(courier)) {
		return nil
	}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(body)
	if err != nil {
		return err
	}
	key := factKey(id, status)
	if perCourier(status) {
		key = factKey(id, status, courier)
	}
	stamp, err := transitionStamp(tx, ev, id, body)
	if err != nil {
		return err
	}
	if _, _, err := replication.SetRegister(tx, key, pack(enc, ev.Actor), stamp); err != nil {
		return err
	}
	if err := addHistory(tx, ev, id, status, detail); err != nil {
		return err
	}
	return recompute(tx, id)
}

func applyAssigned(tx replication.Tx, ev *replication.Event, b *pickupv1.PickupAssigned) error {
	if !ValidUser(b.GetCourier()) {
		return nil
	}
	return applyFact(tx, ev, StatusAssigned, b.GetCourier(), b, b.GetCourier())
}

func applyNotified(tx replication.Tx, ev *replication.Event, b *pickupv1.PickupNotified) error {
	return applyFact(tx, ev, StatusNotified, b.GetCourier(), b, b.GetCourier())
}

func applyAccepted(tx replication.Tx, ev *replication.Event, b *pickupv1.PickupAccepted) error {
	return applyFact(tx, ev, StatusAccepted, b.GetCourier(), b, b.GetCourier())
}

func applyPickedUp(tx replication.Tx, ev *replication.Event, b *pickupv1.PickupPickedUp) error {
	return applyFact(tx, ev, StatusPickedUp, b.GetCourier(), b,
		fmt.Sprintf("%s %s %s", b.GetCourier(), kg(b.GetWeightGrams()), crm.Yuan(b.GetPriceFen())))
}

func applyChecked(tx replication.Tx, ev *replication.Event, b *pickupv1.PickupChecked) error {
	return applyFact(tx, ev, StatusChecked, "", b, b.GetNote())
}

func applyCancelled(tx replication.Tx, ev *replication.Event, b *pickupv1.PickupCancelled) error {
	return applyFact(tx, ev, StatusCancelled, "", b, b.GetReason())
}

func applyFailed(tx replication.Tx, ev *replication.Event, b *pickupv1.PickupFailed) error {
	return applyFact(tx, ev, StatusFailed, b.GetCourier(), b, b.GetReason())
}

// Conflicts lists the conflicts of the pickups of branch ("" for every
// branch), newest pickup first.
func Conflicts(views replication.Tx, branch string) ([]Conflict, error) {
	prefix := conflictPrefix
	if branch != "" {
		prefix = replication.Prefix("pk", "cfl", branch)
	}
	var ids []string
	err := views.Scan(prefix, nil, func(k, _ []byte) (bool, error) {
		ids = append(ids, replication.LastPart(k))
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	var out []Conflict
	for _, id := range ids {
		p, err := load(views, id)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Conflicts...)
	}
	return out, nil
}
