// Package node is a branch or warehouse node's runtime, knowing no domain:
// the Badger event store and views, the sync client that pushes the
// node's events to the hub and pulls everyone else's (and rebuilds or
// bootstraps the views from it), the node's periodic tasks, its local
// administrator and web sessions, metrics and health endpoints. It is
// given the event kinds and tasks (Config.Registry, Config.Tasks) and the
// HTTP handler it serves (Serve); package wiring builds those from the
// domains, the API and the pages.
//
// The store (store.go) has one writer that groups concurrent requests into
// one transaction and one fsync; its transaction reads through a B-tree
// overlay of its own writes on a Badger snapshot (overlay.go). Indexes are
// built behind the commit by the indexer (indexer.go) from markers the
// writes leave. The replicated state lives in generations (generation.go):
// the node can rebuild its views from the hub beside the ones it serves
// and swap to them in one transaction (rebuild.go). Writes stop, with
// fault.ErrExhausted, while the data volume is under its reserve
// (volume.Guard); clocks are bounded (replication.Clock).
package node
