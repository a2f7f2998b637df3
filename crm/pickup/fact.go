package pickup

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/replication"
)

// KindPickupRecorded is the account fact of a pickup (body AccountPickup,
// entity "account/{customer}"): company-wide, while the pickup's own
// events stay at its branch and couriers.
const KindPickupRecorded = "crm.account.pickup_recorded"

// Account facts of pickups.
//
// A customer's monthly volume (the quote's discount tier), unsettled
// balance, month charges and statement are company-wide: any branch books
// and quotes for any customer, and warns when the unsettled amount passes
// the deposit. A pickup's events go only to its branch and its couriers'
// nodes (scope.go), so the command that books a customer's pickup, and
// each command that moves a monthly pickup along its workflow, also makes
// an account fact carrying what those figures need. A booking marked
// counted_by_account_fact is counted from its facts alone, on every
// replica, whether or not it holds the pickup's events; the pickup's own
// appliers leave its figures alone. Bookings of earlier releases carry no
// mark and no facts, and count through the pickup's appliers as before.
//
// The figures agree with the workflow. The account keeps every fact of a
// pickup (one register per fact event) and decides the pickup from them
// with the workflow's own decide: the same precedence of facts, the same
// per-courier registers, the same charge. The one thing the two could see
// differently is the order of concurrent transitions, since a fact is
// another event than its transition, with its own stamp. So a command
// makes each fact just before its transition (same origin, seq one less),
// and the transition's register takes its fact's stamp (transitionStamp):
// the workflow orders transitions by their facts' stamps, as the account
// does. Causality holds for those stamps too: a node that saw a transition
// saw its fact first (an origin's events arrive in order), so what it
// stamps later orders after the fact.
//
// Each pickup counts once. What the account counts of a pickup — its
// month's volume, its charge, its statement line — is a record derived
// from the set of its facts (pk as), and each change of the record adds
// the difference to the counters (rule 2) and moves the statement index:
// the counters hold the sum of the final records, whatever the order the
// facts came in. The pickup's appliers count only unmarked bookings, so a
// replica holding both counts a marked pickup through its facts only.
//
// Upgrades. A node of an earlier release parks the fact, a kind it does
// not know, and with it every later event of the fact's origin: it never
// counts a marked booking the old way, nor makes a transition of it
// without a fact (it does not hold the booking), and applies both once
// it knows the kind.
//
// Views:
//
//	pk \0 af \0 pickup \0 origin \0 seq -> register, the fact's stamp: pack(AccountPickup, customer)
//	pk \0 as \0 pickup                  -> PickupState: what the account counts of the pickup (derived)
func accountFactKey(id, origin string, seq uint64) []byte {
	return replication.Key("pk", "af", id, origin, strconv.FormatUint(seq, 10))
}
func accountFactPrefix(id string) []byte { return replication.Prefix("pk", "af", id) }
func accountStateKey(id string) []byte   { return replication.Key("pk", "as", id) }

// followed reports whether the account follows p's workflow: a monthly
// pickup whose booking the account facts count.
func (p *Pickup) followed() bool {
	return p.known && p.accountFact && p.Payment == PaymentMonthly && p.Customer != ""
}

// accountFact is the draft of the account fact b of customer's pickup.
func accountFact(customer string, b *pickupv1.AccountPickup) replication.Draft {
	return replication.Draft{Kind: KindPickupRecorded, Entity: AccountEntity(customer), Body: b}
}

// bookingFact is the account fact of booking body as pickup id.
func bookingFact(id string, b *pickupv1.PickupCreated) *pickupv1.AccountPickup {
	return &pickupv1.AccountPickup{Pickup: id, Status: StatusNew, Number: b.GetNumber(), Waybill: b.GetWaybill(),
		Day: b.GetDay(), Destination: b.GetDestination(), Payment: b.GetPayment(), WeightGrams: b.GetWeightGrams(),
		PriceFen: b.GetPriceFen()}
}

// transitionFact is the account fact of a transition body of pickup id;
// nil for a body that is not a transition.
func transitionFact(id string, body proto.Message) *pickupv1.AccountPickup {
	f := &pickupv1.AccountPickup{Pickup: id}
	switch b := body.(type) {
	case *pickupv1.PickupAssigned:
		f.Status, f.Courier = StatusAssigned, b.GetCourier()
	case *pickupv1.PickupNotified:
		f.Status, f.Courier = StatusNotified, b.GetCourier()
	case *pickupv1.PickupAccepted:
		f.Status, f.Courier = StatusAccepted, b.GetCourier()
	case *pickupv1.PickupPickedUp:
		f.Status, f.Courier, f.WeightGrams, f.PriceFen = StatusPickedUp, b.GetCourier(), b.GetWeightGrams(), b.GetPriceFen()
	case *pickupv1.PickupFailed:
		f.Status, f.Courier = StatusFailed, b.GetCourier()
	case *pickupv1.PickupChecked:
		f.Status = StatusChecked
	case *pickupv1.PickupCancelled:
		f.Status = StatusCancelled
	default:
		return nil
	}
	return f
}

// transition is the drafts of a transition of p: the transition, preceded
// by its account fact when the account follows p.
func transition(p *Pickup, kind string, body proto.Message) []replication.Draft {
	d := replication.Draft{Kind: kind, Entity: Entity(p.ID), Body: body}
	f := transitionFact(p.ID, body)
	if !p.followed() || f == nil {
		return []replication.Draft{d}
	}
	return []replication.Draft{accountFact(p.Customer, f), d}
}

// transitionStamp is the stamp the register of transition ev (body) of
// pickup id takes: its account fact's when the event just before it at
// its origin is that fact, so that the workflow orders transitions as the
// account does; else its own.
func transitionStamp(tx replication.Tx, ev *replication.Event, id string, body proto.Message) (replication.Stamp, error) {
	own := replication.StampOf(ev)
	want := transitionFact(id, body)
	if want == nil || ev.Seq <= 1 {
		return own, nil
	}
	reg, ok, err := replication.GetRegister(tx, accountFactKey(id, ev.Origin, ev.Seq-1))
	if err != nil || !ok {
		return own, err
	}
	got, _, err := decodeAccountFact(reg)
	if err != nil {
		return own, err
	}
	if !proto.Equal(got, want) {
		return own, nil
	}
	return reg.Stamp, nil
}

func decodeAccountFact(reg replication.Register) (*pickupv1.AccountPickup, string, error) {
	ss, enc, ok := unpack(reg.Value, 1)
	if !ok {
		return nil, "", fmt.Errorf("bad account fact")
	}
	var b pickupv1.AccountPickup
	if err := proto.Unmarshal(enc, &b); err != nil {
		return nil, "", fmt.Errorf("account fact: %w", err)
	}
	return &b, ss[0], nil
}

// checkAccountPickup validates an account fact made at origin: the
// booking's fields for a booking, the courier (and for a pick-up the
// weight and price) for a transition, nothing else.
func checkAccountPickup(origin string, b *pickupv1.AccountPickup) error {
	if !replication.ValidULID(b.GetPickup()) {
		return fault.Invalidf("pickup", "bad_id", "%q is not a pickup id", b.GetPickup())
	}
	booking := b.GetNumber() != "" || b.GetWaybill() != "" || b.GetDay() != "" || b.GetDestination() != "" || b.GetPayment() != ""
	weighed := b.GetWeightGrams() != 0 || b.GetPriceFen() != 0
	switch s := b.GetStatus(); s {
	case StatusNew:
		day, number := b.GetDay(), b.GetNumber()
		switch {
		case !validDay(day):
			return fault.Invalidf("day", "bad_day", "%q is not a day", day)
		case !strings.HasPrefix(number, "P-"+origin+"-"+day[2:]+"-") || b.GetWaybill() != number[2:] || len(number) > 100:
			return fault.Invalidf("number", "bad_number", "%q/%q is not a number of %s on %s", number, b.GetWaybill(), origin, day)
		case !slices.Contains(Payments, b.GetPayment()):
			return fault.Invalidf("payment", "bad_payment", "%q is not monthly, cash or collect", b.GetPayment())
		case b.GetCourier() != "":
			return fault.Invalidf("courier", "not_canonical", "a booking names no courier")
		}
		if _, err := line("destination", b.GetDestination(), maxDest, true); err != nil {
			return err
		}
	case StatusAssigned, StatusNotified, StatusAccepted, StatusFailed, StatusPickedUp:
		if err := checkCourierRef(b.GetCourier()); err != nil {
			return err
		}
		if booking || (s != StatusPickedUp && weighed) {
			return fault.Invalidf("body", "not_canonical", "a %s fact carries only its courier", s)
		}
	case StatusChecked, StatusCancelled:
		if booking || weighed || b.GetCourier() != "" {
			return fault.Invalidf("body", "not_canonical", "a %s fact carries nothing", s)
		}
	default:
		return fault.Invalidf("status", "bad_status", "%q is not a status", s)
	}
	if b.GetStatus() == StatusNew || b.GetStatus() == StatusPickedUp {
		switch {
		case b.GetWeightGrams() <= 0 || b.GetWeightGrams() > MaxWeightGrams:
			return fault.Invalidf("weight_grams", "bad_weight", "must be 1 to %d grams", MaxWeightGrams)
		case b.GetPriceFen() < 0 || b.GetPriceFen() > maxPrice:
			return fault.Invalidf("price_fen", "bad_amount", "must be 0 to %d fen", int64(maxPrice))
		}
	}
	return nil
}

func checkPickupRecorded(ev *replication.Event, b *pickupv1.AccountPickup) error {
	if _, ok := accountID(ev); !ok {
		return fmt.Errorf("entity %q is not an account", ev.Entity)
	}
	return checkAccountPickup(ev.Origin, b)
}

func applyPickupRecorded(tx replication.Tx, ev *replication.Event, b *pickupv1.AccountPickup) error {
	customer, ok := accountID(ev)
	if !ok || checkAccountPickup(ev.Origin, b) != nil {
		return nil
	}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(b)
	if err != nil {
		return err
	}
	key := accountFactKey(b.GetPickup(), ev.Origin, ev.Seq)
	if _, _, err := replication.SetRegister(tx, key, pack(enc, customer), replication.StampOf(ev)); err != nil {
		return err
	}
	return recomputeAccount(tx, b.GetPickup())
}

// factKeyOf names a transition's register among a pickup's facts, as the
// workflow keys them: per courier for notified, accepted and failed.
func factKeyOf(status, courier string) string {
	if perCourier(status) {
		return status + "\x00" + courier
	}
	return status
}

// accountPickup is pickup id as its account facts tell it: the booking
// (known is false without it) and the workflow's facts, each the last
// writer of its register as the workflow keeps them, decided by the
// workflow's decide.
func accountPickup(views replication.Tx, id string) (*Pickup, error) {
	p := &Pickup{ID: id}
	var booked replication.Stamp
	regs := map[string]fact{}
	err := views.Scan(accountFactPrefix(id), nil, func(_, v []byte) (bool, error) {
		reg, err := replication.DecodeRegister(v)
		if err != nil {
			return false, fmt.Errorf("pickup %s: %w", id, err)
		}
		b, customer, err := decodeAccountFact(reg)
		if err != nil {
			return false, fmt.Errorf("pickup %s: %w", id, err)
		}
		if b.GetStatus() == StatusNew {
			if p.known && !reg.Stamp.After(booked) {
				return true, nil
			}
			booked, p.known, p.accountFact = reg.Stamp, true, true
			p.Number, p.Waybill, p.Day, p.Destination = b.GetNumber(), b.GetWaybill(), b.GetDay(), b.GetDestination()
			p.Payment, p.WeightGrams, p.Price, p.Customer = b.GetPayment(), b.GetWeightGrams(), b.GetPriceFen(), customer
			p.Branch, p.Entered = reg.Stamp.Origin, reg.Stamp.HLC.Time()
			return true, nil
		}
		k := factKeyOf(b.GetStatus(), b.GetCourier())
		if cur, ok := regs[k]; ok && !reg.Stamp.After(cur.stamp) {
			return true, nil
		}
		regs[k] = fact{ok: true, stamp: reg.Stamp, courier: b.GetCourier(), weight: b.GetWeightGrams(), price: b.GetPriceFen()}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if err := p.facts.fill(func(status, courier string) (fact, error) { return regs[factKeyOf(status, courier)], nil }); err != nil {
		return nil, err
	}
	p.decide()
	return p, nil
}

func readAccountState(views replication.Tx, id string) (*pickupv1.PickupState, error) {
	st, _, err := readRecord(views, accountStateKey(id))
	if err != nil {
		return nil, fmt.Errorf("pickup %s account: %w", id, err)
	}
	return st, nil
}

// recomputeAccount derives what the account counts of pickup id from its
// facts after one of them and moves the counters and the statement index
// by the difference with what it counted before.
func recomputeAccount(tx replication.Tx, id string) error {
	p, err := accountPickup(tx, id)
	if err != nil {
		return err
	}
	ns := &pickupv1.PickupState{}
	if p.known {
		ns = p.state()
	}
	old, err := readAccountState(tx, id)
	if err != nil {
		return err
	}
	if ov, nv := volumeKeyOf(old), volumeKeyOf(ns); string(ov) != string(nv) {
		for _, v := range []struct {
			key   []byte
			delta int64
		}{{ov, -1}, {nv, 1}} {
			if v.key == nil {
				continue
			}
			if _, err := replication.AddCounter(tx, v.key, v.delta); err != nil {
				return err
			}
		}
	}
	if err := moveLine(tx, id, old, ns); err != nil {
		return err
	}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(ns)
	if err != nil {
		return err
	}
	return tx.Set(accountStateKey(id), enc)
}

// volumeKeyOf is the monthly volume counter a pickup's record counts in:
// every booking of a customer, whatever its payment and status; nil for
// none.
func volumeKeyOf(st *pickupv1.PickupState) []byte {
	if st.GetCustomer() == "" || len(st.GetDay()) != 8 {
		return nil
	}
	return volumeKey(st.GetCustomer(), st.GetDay()[:6])
}

// lineKeyOf is the statement index entry of a pickup's record: monthly
// pickups of a customer; nil for none.
func lineKeyOf(st *pickupv1.PickupState, id string) []byte {
	if st.GetPayment() != PaymentMonthly || st.GetCustomer() == "" || len(st.GetDay()) != 8 {
		return nil
	}
	return customerPickupKey(st.GetCustomer(), st.GetDay()[:6], id)
}

// moveLine brings a pickup's charge and statement line from record old to
// record ns: the charge's difference into the balance and the month, the
// index entry moved if it changed.
func moveLine(tx replication.Tx, id string, old, ns *pickupv1.PickupState) error {
	if ok, nk := lineKeyOf(old, id), lineKeyOf(ns, id); string(ok) != string(nk) {
		if ok != nil {
			if err := tx.Delete(ok); err != nil {
				return err
			}
		}
		if nk != nil {
			if err := tx.Set(nk, nil); err != nil {
				return err
			}
		}
	}
	if err := charge(tx, old, -1); err != nil {
		return err
	}
	return charge(tx, ns, 1)
}
