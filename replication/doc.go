// Package replication holds what every replica of Branchline shares: the
// event envelope, the hybrid logical clock, identifiers, the Tx interface
// that stores implement, the registry of appliers by kind, and the merge
// rules that make replicas converge without coordination.
//
// A node turns each local command into events and applies them to its
// views in one transaction; the hub applies the same events in the order
// it committed them. Because every applier obeys one of the merge rules
// (per-field last-writer-wins, summed deltas, add-wins sets), any two
// replicas that applied the same set of events hold the same views, in
// whatever order events of different origins arrived. The Digest makes
// that checkable.
//
// This package knows nothing of Badger, Pebble, Raft or HTTP: node and hub
// implement Tx over their stores, and the wire protocol lives in
// gen/branchline/replication/v1.
package replication
