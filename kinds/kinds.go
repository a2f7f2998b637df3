// Package kinds is this release's list of what replicas run: every kind
// of event they apply to their views (Registry), and the decisions the hub
// and the nodes make by themselves (tasks, reactions) with the scopes the
// hub serves a node. The node and the hub know no domain: cmd/branchline
// (through package wiring) hands them these, so that every replica applies
// exactly the same kinds the same way.
package kinds

import (
	"strings"

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

// HubTasks returns the hub's tasks by name. Every hub member runs the
// same set; a name once used must keep its meaning, since the Raft log
// names the task it runs.
func HubTasks() map[string]replication.HubTask {
	return map[string]replication.HubTask{
		// Grants branches their shares of each warehouse's offered stock.
		"warehouse.rebalance": warehouse.Rebalance,
	}
}

// HubReactions returns the hub's reactions by name, run in name order on
// every pushed event. Like a task's, a reaction's name once used must keep
// its meaning: a release that changes what a reaction decides gives it a
// new name, so that members of both releases never decide differently.
func HubReactions() map[string]replication.HubReaction {
	return map[string]replication.HubReaction{
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

// NodeTasks returns the tasks every node runs periodically.
func NodeTasks() map[string]replication.NodeTask {
	return map[string]replication.NodeTask{
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
