package hub

import (
	"context"
	"fmt"
	"slices"
	"time"

	hubv1 "branchline/gen/branchline/hub/v1"
	"branchline/replication"
	"branchline/rpc"
)

// Commands is the hub's app.Store: what head office does on a hub page
// or RPC — adds a zone, sets a tariff — becomes events of origin "hub"
// with the user as actor, committed through Raft and replicated to every
// node like any branch's events. It is what api services run on at the
// hub, as a node's Store is at a branch.
type Commands struct{ h *Hub }

// Commands is where head office's use cases run on this member.
func (h *Hub) Commands() Commands { return Commands{h} }

// View reads the projection once it reflects everything this member
// knows to be committed (waiting a moment at most): so that a page the
// user is sent to after a command, at whichever member, shows it.
func (s Commands) View(fn func(views replication.Tx) error) error {
	s.h.readBarrier(2 * time.Second)
	return s.h.fsm.read(func(tx replication.Tx) error { return fn(replication.ReadViews(tx)) })
}

// Exec decides the events of cmd on the leader's views, caught up with
// everything committed, commits them as the hub's, and returns once the
// views show them, so that the page the user is sent to next shows the
// change. Another command committed between the decision and the commit
// is ordered before it, as on a node: merge rules, not locks, settle
// concurrent edits.
func (s Commands) Exec(ctx context.Context, actor string, cmd replication.Command) ([]*replication.Event, error) {
	h := s.h
	if !h.IsLeader() {
		return nil, fmt.Errorf("%w: this hub member does not lead; retry at the leader", rpc.ErrUnavailable)
	}
	if err := h.raft.Barrier(10 * time.Second).Error(); err != nil {
		return nil, fmt.Errorf("%w: %v", rpc.ErrUnavailable, err)
	}
	if err := h.fsm.WaitProjected(ctx, h.fsm.state().Head); err != nil {
		return nil, err
	}
	ce := &hubv1.CommitEvents{Actor: actor}
	// Members of a release before scopes drop the drafts' scopes: set them
	// only once every member runs the scope rules.
	active, err := h.fsm.ActiveCapabilities()
	if err != nil {
		return nil, err
	}
	scoped := slices.Contains(active, ScopeRules)
	err = h.fsm.read(func(tx replication.Tx) error {
		views := replication.ReadViews(tx)
		drafts, err := cmd(views)
		if err != nil {
			return err
		}
		for _, d := range splitAttached(drafts, slices.Contains(active, replication.CompoundCapability)) {
			kind, body, err := replication.EncodeDraft(d)
			if err != nil {
				return fmt.Errorf("encode %s: %w", d.Kind, err)
			}
			// Who needs the event is decided here, from the views the
			// command read, and travels in the entry.
			var scopes []string
			if scoped {
				scopes, err = h.reg.Scopes(views, &replication.Event{Origin: replication.HubOrigin, Kind: kind, Entity: d.Entity, Body: body})
				if err != nil {
					return err
				}
			}
			ce.Drafts = append(ce.Drafts, &hubv1.Draft{Kind: kind, Entity: d.Entity, Body: body, Scopes: scopes})
		}
		return nil
	})
	if err != nil || len(ce.Drafts) == 0 {
		return nil, err
	}
	res, err := h.apply(&hubv1.Command{Op: &hubv1.Command_CommitEvents{CommitEvents: ce}})
	if err != nil {
		return nil, h.commandError(err)
	}
	committed := res.(*hubv1.CommitEventsResult).GetEvents()
	out := make([]*replication.Event, len(committed))
	for i, c := range committed {
		out[i] = replication.FromProto(c.GetEvent())
	}
	if len(committed) > 0 {
		if err := h.fsm.WaitProjected(ctx, committed[len(committed)-1].GetPosition()); err != nil {
			return out, err
		}
	}
	h.log.Info("head office command committed", "actor", actor, "events", len(out))
	return out, nil
}

// readBarrier waits, at most timeout, until this member has applied every
// entry it knows committed and its projection shows them.
func (h *Hub) readBarrier(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	commit := h.raft.CommitIndex()
	for h.raft.AppliedIndex() < commit && ctx.Err() == nil {
		select {
		case <-h.fsm.Changed():
		case <-time.After(5 * time.Millisecond): // entries without a command change nothing
		case <-ctx.Done():
		}
	}
	_ = h.fsm.WaitProjected(ctx, h.fsm.state().Head) // stale is better than nothing after the timeout
}

// splitAttached returns drafts as events of a cluster that cannot apply
// compound events yet (some member runs an earlier release): each
// attached fact becomes an event of its own after its change's.
func splitAttached(drafts []replication.Draft, compound bool) []replication.Draft {
	if compound {
		return drafts
	}
	var out []replication.Draft
	for _, d := range drafts {
		a := d.Attached
		d.Attached = nil
		out = append(out, d)
		if a != nil {
			out = append(out, replication.Draft{Kind: a.Kind, Entity: a.Entity, Body: a.Body})
		}
	}
	return out
}
