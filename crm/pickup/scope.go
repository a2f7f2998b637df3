package pickup

import (
	"google.golang.org/protobuf/proto"

	pickupv1 "branchline/gen/branchline/pickup/v1"
	"branchline/replication"
)

// Scopes of pickup events (issue 13: partial replication). A pickup's
// events belong to its branch, b:{branch} — the origin of its created
// event — and follow its couriers, c:{courier}, to the nodes that serve
// them (see ServedScopes): the courier it is assigned to, the one it is
// being given to or taken from by a reassignment, and the one who picked
// it up. Zones, couriers, rate plans and accounts are company-wide, and
// so are the account facts of pickups (KindPickupRecorded), which is how
// every branch sees a customer's volume, balance and statement; so are
// the events of a monthly pickup booked before account facts, which
// count in the customer's figures themselves.

// registerScopes sets the scope rules of the pickup kinds.
func registerScopes(r *replication.Registry) {
	replication.ScopeBy(r, KindCreated, createdScopes)
	for _, k := range []string{KindFieldSet, KindAssigned, KindNotified, KindAccepted, KindPickedUp,
		KindChecked, KindCancelled, KindFailed} {
		replication.ScopeBy(r, k, pickupScopes)
	}
}

// createdScopes: a booking is its branch's, the node that makes it. Its
// courier, if the booking assigns one, gets it with the assignment (the
// hub sends a node that gains a courier's scope the pickup's history).
func createdScopes(_ replication.Tx, ev *replication.Event) ([]string, error) {
	return replication.NormalScopes(replication.BranchScope(ev.Origin)), nil
}

// pickupScopes: a later event of a pickup is its branch's (as the
// pickup's state records it) and its couriers': the one assigned as the
// views stand before the event, the one who picked it up, and the courier
// the event names (the new one, for an assignment).
func pickupScopes(views replication.Tx, ev *replication.Event) ([]string, error) {
	branch := ev.Origin
	var couriers []string
	if id, ok := pickupID(ev); ok {
		st, _, err := readState(views, id)
		if err != nil {
			return nil, err
		}
		if st.GetPayment() == PaymentMonthly && st.GetCustomer() != "" && !st.GetAccountFact() {
			// Booked by a release before account facts: its booking
			// went everywhere and its own events count it in the
			// customer's figures on every replica, so they still go
			// everywhere.
			return nil, nil
		}
		if st.GetBranch() != "" {
			branch = st.GetBranch()
		}
		couriers = append(couriers, st.GetCourier(), st.GetPicker())
	}
	couriers = append(couriers, eventCourier(ev))
	var scopes []string
	for _, c := range couriers {
		if ValidUser(c) {
			scopes = append(scopes, replication.CourierScope(c))
		}
	}
	return replication.NormalScopes(replication.BranchScope(branch), scopes...), nil
}

// eventCourier is the courier a transition's body names, "" for none (or
// a body that does not decode: the check refuses it).
func eventCourier(ev *replication.Event) string {
	var m interface {
		proto.Message
		GetCourier() string
	}
	switch ev.Kind {
	case KindAssigned:
		m = &pickupv1.PickupAssigned{}
	case KindNotified:
		m = &pickupv1.PickupNotified{}
	case KindAccepted:
		m = &pickupv1.PickupAccepted{}
	case KindPickedUp:
		m = &pickupv1.PickupPickedUp{}
	case KindFailed:
		m = &pickupv1.PickupFailed{}
	default:
		return ""
	}
	if proto.Unmarshal(ev.Body, m) != nil {
		return ""
	}
	return m.GetCourier()
}
