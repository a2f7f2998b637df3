// Package node assembles a branch or warehouse node: the Badger event store
// and views, the sync client that pushes the node's events to the hub and
// pulls everyone else's, the local administrator, the API, metrics and
// health endpoints. Domain packages (crm, warehouse, telephony) plug in
// their appliers and services here.
package node
