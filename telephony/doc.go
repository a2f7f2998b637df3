// Package telephony is the call-centre domain of Branchline: phone
// extensions, trunks and ACD queues (技能组) as replicated configuration;
// call detail records, callback tasks (呼损回呼) and text messages to
// phones as replicated events; the ACD's agent-selection strategies and
// the KPIs of a day as pure functions.
//
// Like every domain package it turns commands into events and events into
// views through replication.Tx only. It knows nothing of SIP wire
// formats, Badger, HTTP or clocks: the SIP adapter (telephony/pbx) runs
// calls, measures time and Execs what this package decides into the
// node's store. That split is what lets call handling stay local to a
// node (nothing waits on the hub) while records and callbacks replicate.
//
// Merge rules used (ARCHITECTURE.md): configuration fields are
// last-writer-wins registers (rule 1); queue membership is an add-wins
// set (rule 3); a call record is written once by the node that handled
// the call; callback and message status are workflows decided by a fixed
// precedence (done beats assigned, delivered beats failed) — rule 4.
package telephony
