// Package crm is the customer side of Branchline: customers and their
// contacts, blacklist, orders, pickups and dispatch, callbacks, complaints,
// knowledge base and notices.
//
// It is domain code: commands read the views through replication.Tx and
// return event drafts; appliers turn events into views. It must not import
// storage (Badger, Pebble), transport (HTTP, Connect, SIP) or clocks: the
// store that runs a command stamps its events, and appliers are pure.
package crm
