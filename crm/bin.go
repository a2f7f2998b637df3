package crm

import (
	"fmt"

	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

// Event kinds of the recycle bin (客户回收站).
const (
	KindCustomerDeleted  = "crm.customer.deleted"
	KindCustomerRestored = "crm.customer.restored"
)

// The recycle bin state of a customer is one last-writer-wins register,
// "D"+actor when deleted and "A"+actor when alive again (restored, or made
// the winner of a merge). Deleting touches no field: an edit made
// concurrently with a delete is kept and shows once the customer is
// restored. Who deleted and when are the deleting event's actor and HLC.

// DeleteCustomer decides the event that moves customer id to the recycle
// bin. It hides the customer from lists, search, type-ahead, phone lookup
// and duplicate checks.
func DeleteCustomer(views replication.Tx, id string) (replication.Draft, error) {
	c, err := GetCustomer(views, id)
	if err != nil {
		return replication.Draft{}, err
	}
	if c.Deleted {
		return replication.Draft{}, fmt.Errorf("customer %s is already in the recycle bin: %w", c.ID, fault.ErrConflict)
	}
	return replication.Draft{Kind: KindCustomerDeleted, Entity: Entity(c.ID), Body: &crmv1.CustomerDeleted{}}, nil
}

// RestoreCustomer decides the event that takes customer id out of the
// recycle bin.
func RestoreCustomer(views replication.Tx, id string) (replication.Draft, error) {
	c, err := GetCustomer(views, id)
	if err != nil {
		return replication.Draft{}, err
	}
	if !c.Deleted {
		return replication.Draft{}, fmt.Errorf("customer %s is not in the recycle bin: %w", c.ID, fault.ErrConflict)
	}
	return replication.Draft{Kind: KindCustomerRestored, Entity: Entity(c.ID), Body: &crmv1.CustomerRestored{}}, nil
}

// ListDeleted returns up to limit customers of the recycle bin with ids
// after the given one, in id order.
func ListDeleted(views replication.Tx, after string, limit int) ([]*Customer, error) {
	return listIndexed(views, binPrefix(), after, limit)
}

func checkDeleted(ev *replication.Event, _ *crmv1.CustomerDeleted) error {
	if _, ok := entityID(ev); !ok {
		return fault.Invalidf("entity", "bad_id", "%q is not a customer entity", ev.Entity)
	}
	return nil
}

func checkRestored(ev *replication.Event, _ *crmv1.CustomerRestored) error {
	if _, ok := entityID(ev); !ok {
		return fault.Invalidf("entity", "bad_id", "%q is not a customer entity", ev.Entity)
	}
	return nil
}

func applyDeleted(tx replication.Tx, ev *replication.Event, _ *crmv1.CustomerDeleted) error {
	return setBinState(tx, ev, 'D', TimelineDeleted)
}

func applyRestored(tx replication.Tx, ev *replication.Event, _ *crmv1.CustomerRestored) error {
	return setBinState(tx, ev, 'A', TimelineRestored)
}

func setBinState(tx replication.Tx, ev *replication.Event, state byte, timelineKind string) error {
	id, ok := entityID(ev)
	if !ok {
		return nil
	}
	rep, err := Resolve(tx, id)
	if err != nil {
		return err
	}
	if _, _, err := replication.SetRegister(tx, binStateKey(rep), append([]byte{state}, ev.Actor...), replication.StampOf(ev)); err != nil {
		return err
	}
	if err := AddTimeline(tx, rep, EntryFor(ev, timelineKind, "", id)); err != nil {
		return err
	}
	return nil
}
