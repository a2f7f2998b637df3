package replication

import "time"

// Decisions a replica makes by itself from its views, besides applying
// events. The product lists them (package kinds); the node and the hub run
// those they are given.

// HubTask is a decision the hub makes itself (hub.Task): deterministic,
// from the views and the time of the Raft entry that runs it.
type HubTask = func(views Tx, now time.Time) ([]Draft, error)

// HubReaction is a decision the hub makes about a pushed event as it is
// committed (hub.Reaction).
type HubReaction = func(views Tx, ev *Event) ([]Draft, error)

// NodeTask is a decision a node makes by itself, periodically, from its
// own views (node is the node's id). A task with a Feed is given the
// entities the feed says changed since its last complete run (nil on the
// first run: all of them); it says whether it dealt with them all.
type NodeTask struct {
	Feed string
	Run  func(views Tx, node string, changed []string) (drafts []Draft, complete bool, err error)
}
