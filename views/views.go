// Package views lists every kind of event Branchline's replicas apply to
// their views. Node and hub build their registry here, so that both apply
// exactly the same kinds the same way.
package views

import (
	"strings"
	"time"

	"branchline/access"
	"branchline/crm"
	"branchline/crm/pickup"
	"branchline/replication"
	"branchline/telephony"
	"branchline/warehouse"
)

// Registry returns a registry of every kind.
func Registry() *replication.Registry {
	r := replication.NewRegistry()
	crm.RegisterCustomers(r)
	crm.RegisterParams(r)
	crm.RegisterBlacklist(r)
	crm.RegisterMembers(r)
	access.Register(r)
	telephony.Register(r)
	pickup.Register(r)
	warehouse.Register(r)
	return r
}

// HubTask is a decision the hub makes itself (hub.Task): deterministic,
// from the views and the time of the Raft entry that runs it.
type HubTask = func(views replication.Tx, now time.Time) ([]replication.Draft, error)

// HubTasks returns the hub's tasks by name. Every hub member runs the
// same set; a name once used must keep its meaning, since the Raft log
// names the task it runs.
func HubTasks() map[string]HubTask {
	return map[string]HubTask{
		// Grants branches their shares of each warehouse's offered stock.
		"warehouse.rebalance": warehouse.Rebalance,
	}
}

// HubReaction is a decision the hub makes about a pushed event as it is
// committed (hub.Reaction).
type HubReaction = func(views replication.Tx, ev *replication.Event) ([]replication.Draft, error)

// HubReactions returns the hub's reactions by name, run in name order on
// every pushed event. Like a task's, a reaction's name once used must keep
// its meaning: a release that changes what a reaction decides gives it a
// new name, so that members of both releases never decide differently.
func HubReactions() map[string]HubReaction {
	return map[string]HubReaction{
		// Stock released into a pool by a node that does not own the
		// warehouse is taken back before anyone is granted it.
		"warehouse.refuse_foreign_release": warehouse.RefuseForeignRelease,
	}
}

// HubDecides says which event kinds the hub's tasks and reactions read:
// the hub's state machine applies them on the commit path, so that every
// member decides at the same log position from the same state; every
// other kind reaches the hub's views behind the commit. Escrow decisions
// read the warehouse's own kinds only.
func HubDecides(kind string) bool { return strings.HasPrefix(kind, "warehouse.") }

// NodeTask is a decision a node makes by itself, periodically, from its
// own views (node is the node's id). A task with a Feed is given the
// entities the feed says changed since its last complete run (nil on the
// first run: all of them); it says whether it dealt with them all.
type NodeTask struct {
	Feed string
	Run  func(views replication.Tx, node string, changed []string) (drafts []replication.Draft, complete bool, err error)
}

// NodeTasks returns the tasks every node runs periodically.
func NodeTasks() map[string]NodeTask {
	return map[string]NodeTask{
		// A warehouse's owner offers its free stock to the hub's pool.
		"warehouse.offer": {Feed: warehouse.OfferFeed.Name, Run: warehouse.OfferChanged},
		// A branch gives back unreserved share above its target (it reads
		// only the shares it holds).
		"warehouse.surplus": {Run: func(v replication.Tx, node string, _ []string) ([]replication.Draft, bool, error) {
			d, err := warehouse.Surplus(v, node)
			return d, true, err
		}},
	}
}

// NodeScopes are the scopes, besides its branch, the hub serves a node:
// the warehouses it owns and the couriers it serves.
func NodeScopes(views replication.Tx, node string) ([]string, error) {
	var out []string
	for _, f := range []func(replication.Tx, string) ([]string, error){warehouse.OwnedScopes, warehouse.SellerScopes, pickup.ServedScopes} {
		s, err := f(views, node)
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
	return out, nil
}
