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
//
// # Scopes (who needs which event)
//
// Every event names the scopes that need it (replication/scope.go), decided
// once where it is made (scope.go):
//
//	kind                          scopes              why
//	extension/trunk/queue .set,   company             one company-wide namespace (numbers, names,
//	  .removed                                        DIDs) that every switch reads whole: a
//	queue.member_added/_removed   company             phone registers at any node with the HA1 set
//	                                                  anywhere, the ACD looks up the queue of a DID
//	                                                  and its members and overflow queues by name,
//	                                                  and nothing in it names a branch to scope it
//	                                                  to (configuration made at the hub has none)
//	call.ended, calls.refused     b:origin            a call belongs to the branch whose switch
//	                                                  handled it
//	call.wrap_up_ended            b:record's origin   the same branch's agent, after the call
//	callback.created              b:origin            the branch that lost the call calls back
//	callback.assigned, .done      b:created's origin  wherever it is worked, it stays that
//	                                                  branch's task
//	message.queued, .status       b:queued's origin,  the branch that sent it follows it; the
//	                              c:extension's user  node the user's phone registers at (a
//	                                                  courier's, on the road) delivers it
//
// The hub is no branch: what it makes has no b: scope.
//
// What changes at a node that holds only its own calls (nothing reads call
// records to decide anything outside this package's node): the call
// records list, the day's KPIs and the refused-call count on a node's board
// are that branch's (the hub holds every branch's, for company-wide
// figures); the
// caller-based strategy rings the agent who last served the caller at this
// branch (before, a caller served last at another branch, by an agent who
// is not at this switch, fell back to the fallback strategy); the ACD's
// count of the calls each agent answered today, rebuilt from the records
// after a restart, counts this branch's calls, as it counts them live.
// The screen pop reads customers only (crm). A message's status goes where
// the message went as the extension's user is when the status is written:
// rebinding an extension to another user meanwhile leaves the first user's
// nodes with the message pending.
package telephony
