// Package hub is head office's replica: a Raft cluster (hashicorp/raft,
// 1, 3 or 5 voters) whose state machine keeps, in Pebble, the global log of
// every node's events, the (origin, seq) dedup index, the node registry and
// the same views nodes keep. Nodes push their events to the leader and
// pull the global log from any member.
//
// Layout of a member's data directory:
//
//	raft/raft.db      Raft log and stable store (raft-boltdb, fsynced)
//	raft/snapshots/   Raft snapshots (streamed Pebble iterations)
//	state/            the state machine (Pebble)
//
// The state machine is applied without fsync: the Raft log is the durable
// record, and on restart Raft replays what Pebble may have lost. Before a
// snapshot lets Raft drop log entries, the state machine syncs Pebble.
package hub
