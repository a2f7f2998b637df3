// Package node assembles a branch or warehouse node: the Badger event store
// and views, the sync client that pushes the node's events to the hub and
// pulls everyone else's, the local administrator, the API, metrics and
// health endpoints. Domain packages (crm, warehouse, telephony) plug in
// their appliers and services here.
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
