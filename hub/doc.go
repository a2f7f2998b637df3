// Package hub is head office's replica: a Raft cluster (hashicorp/raft,
// 1, 3 or 5 voters) whose state machine keeps, in Pebble, the global log
// of every node's events, the (origin, seq) dedup index, the node
// registry and the cluster version. Nodes push their events to the leader
// (several batches in flight, proposed in seq order: pushorder.go) and
// pull the global log from any member, filtered to their scopes
// (scope.go); a stream sends each event's bytes as the log stores them,
// and the streams that follow the head read its latest entries from
// memory (tail.go).
//
// Log first. A Push is answered once its events are in the Raft log and
// the state machine has appended them to the global log: a few writes per
// event, read and written as wire bytes (rawpush.go), whatever the store
// holds. Everything else follows behind:
//
//   - the projection (projection.go) applies every event to the views head
//     office's pages and reports read, in batches, on every member, and
//     records the position it reflects; a read that must see a write waits
//     for it (WaitProjected);
//   - the hub's own decisions (tasks such as escrow grants, reactions to
//     pushed events) are made inside the state machine at a log position,
//     from decision views of the few kinds they read (kinds.HubDecides),
//     kept on the commit path so that every member decides alike;
//   - head office's own commands (commands.go) commit through Raft as
//     events of origin "hub" with the user as actor.
//
// Scopes (scope.go): a node pulls only the events of its scopes — its
// branch, the warehouses it owns and sells from, the couriers it serves,
// and company-wide events — which the hub works out from its projection
// (Config.NodeScopes); a scope gained later streams its history first, and
// an entity a node starts to follow (through a courier) its earlier events,
// found through the projection's entity index.
//
// Snapshots (bootstrap.go): beside the projection, every member keeps the
// company views — the company-wide events alone, applied as a node applies
// them, with the index entries a snapshot ships (replication.
// OpenShippedViews) — at the same position. A new node, one
// that lost its disk, or one the log's retention overtook, streams them
// (resumable, checksummed) instead of replaying the log, then takes its
// own scopes' history up to their position and tails.
//
// Retention (retain.go): company-wide events older than the rule
// (Config.RetainEvents) are dropped from the log once every registered
// node has applied them, or the operator released it (ctl retention); a
// node behind the point is refused its Pull and takes a snapshot. Scoped
// events stay: they are the history a node gaining a scope is sent.
//
// Layout of a member's data directory:
//
//	raft/wal/         Raft log and stable store (raft-wal segments, fsynced;
//	                  raftlog.go copies an earlier release's raft/raft.db)
//	raft/snapshots/   Raft snapshots (streamed Pebble iterations)
//	state/            the state machine (Pebble; keys in fsm.go)
//
// The state machine is applied without fsync: the Raft log is the durable
// record, and on restart Raft replays what Pebble may have lost. Before a
// snapshot lets Raft drop log entries, the state machine syncs Pebble.
//
// The hub knows no domain: it is given the event kinds, tasks, reactions
// and node scopes it runs (Config.Registry and the rest), and the product's
// services and pages it serves beside its own (Config.Mount) — package
// wiring hands it this release's.
//
// Rolling upgrades (upgrade.go): members report what their build can run;
// the leader commits the intersection as the cluster version, and events
// of kinds outside it are committed and parked until it includes them.
package hub
