package telephony

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/replication"
)

// The scopes of the telephony kinds (replication/scope.go); doc.go says
// why. Kinds without a rule here are company-wide: extensions, trunks,
// queues and queue members. A rule runs once, where the event is made, on
// the views of the command's batch.

func registerScopes(r *replication.Registry) {
	replication.ScopeBy(r, KindCallEnded, originScopes)
	replication.ScopeBy(r, KindCallsRefused, originScopes)
	replication.ScopeBy(r, KindCallbackCreated, originScopes)
	replication.ScopeBy(r, KindWrapUpEnded, func(views replication.Tx, ev *replication.Event) ([]string, error) {
		id, ok := callID(ev)
		if !ok {
			return nil, fmt.Errorf("entity %q is not a call", ev.Entity)
		}
		reg, found, err := replication.GetRegister(views, recKey(id))
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("call %s: %w", id, fault.ErrNotFound)
		}
		return branchScopes(reg.Stamp.Origin), nil
	})
	callbackScopes := func(views replication.Tx, ev *replication.Event) ([]string, error) {
		id, ok := cbID(ev)
		if !ok {
			return nil, fmt.Errorf("entity %q is not a callback", ev.Entity)
		}
		reg, found, err := replication.GetRegister(views, cbKey(id))
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("callback %s: %w", id, fault.ErrNotFound)
		}
		return branchScopes(reg.Stamp.Origin), nil
	}
	replication.ScopeBy(r, KindCallbackAssigned, callbackScopes)
	replication.ScopeBy(r, KindCallbackDone, callbackScopes)
	replication.ScopeBy(r, KindMessageQueued, func(views replication.Tx, ev *replication.Event) ([]string, error) {
		var b telv1.MessageQueued
		if err := proto.Unmarshal(ev.Body, &b); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		return messageScopes(views, ev.Origin, b.GetExtension())
	})
	replication.ScopeBy(r, KindMessageStatus, func(views replication.Tx, ev *replication.Event) ([]string, error) {
		id, ok := msgID(ev)
		if !ok {
			return nil, fmt.Errorf("entity %q is not a message", ev.Entity)
		}
		reg, found, err := replication.GetRegister(views, msgKey(id))
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("message %s: %w", id, fault.ErrNotFound)
		}
		var q telv1.MessageQueued
		if err := proto.Unmarshal(reg.Value, &q); err != nil {
			return nil, fmt.Errorf("message %s: %w", id, err)
		}
		return messageScopes(views, reg.Stamp.Origin, q.GetExtension())
	})
}

// branchScopes are the scopes of node's branch records: its branch; none
// for the hub, which is no branch.
func branchScopes(node string) []string {
	if node == replication.HubOrigin {
		return nil
	}
	return replication.NormalScopes(replication.BranchScope(node))
}

// originScopes: the event is a record of the branch that made it.
func originScopes(_ replication.Tx, ev *replication.Event) ([]string, error) {
	return branchScopes(ev.Origin), nil
}

// messageScopes: a message to a phone is the records of the branch that
// queued it, and follows the user of its extension (c:), since it is
// delivered by whichever node that user's phone registers at — a
// courier's, out on the road.
func messageScopes(views replication.Tx, origin, ext string) ([]string, error) {
	e, ok, err := GetExtension(views, ext)
	if err != nil {
		return nil, err
	}
	var more []string
	if ok && ValidUser(e.User) {
		more = append(more, replication.CourierScope(e.User))
	}
	if origin == replication.HubOrigin {
		return replication.NormalScopes(replication.CompanyScope, more...), nil
	}
	return replication.NormalScopes(replication.BranchScope(origin), more...), nil
}
