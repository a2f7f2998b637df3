// Package views lists every kind of event Branchline's replicas apply to
// their views. Node and hub build their registry here, so that both apply
// exactly the same kinds the same way.
package views

import (
	"time"

	"branchline/access"
	"branchline/crm"
	"branchline/replication"
	"branchline/telephony"
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
	return r
}

// HubTask is a decision the hub makes itself (hub.Task): deterministic,
// from the views and the time of the Raft entry that runs it.
type HubTask = func(views replication.Tx, now time.Time) ([]replication.Draft, error)

// HubTasks returns the hub's tasks by name. Every hub member runs the
// same set; a name once used must keep its meaning, since the Raft log
// names the task it runs.
func HubTasks() map[string]HubTask {
	return map[string]HubTask{}
}

// NodeTask is a decision a node makes by itself, periodically, from its
// own views (node is the node's id).
type NodeTask = func(views replication.Tx, node string) ([]replication.Draft, error)

// NodeTasks returns the tasks every node runs periodically.
func NodeTasks() map[string]NodeTask {
	return map[string]NodeTask{}
}
