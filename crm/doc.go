// Package crm is the customer side of Branchline: customers and their
// contacts, blacklist, orders, pickups and dispatch, callbacks, complaints,
// knowledge base and notices.
//
// It is domain code: commands read the views through replication.Tx and
// return event drafts; appliers turn events into views. It must not import
// storage (Badger, Pebble), transport (HTTP, Connect, SIP) or clocks: the
// store that runs a command stamps its events, and appliers are pure.
//
// # How customer events merge
//
// Every applier gives the same views whatever order events of different
// origins arrive in (ARCHITECTURE.md, "Merge rules"):
//
//   - Fields, custom field values, contact fields and the attributes of
//     custom field definitions: each is its own last-writer-wins register,
//     ordered by (hlc, origin). Concurrent edits of different fields all
//     survive. A creation keeps all the fields it sets in one register
//     keyed by its stamp; a field reads as the later by stamp of its own
//     register and of the creation registers that name it (record.go).
//   - Created: a register about the id itself; it never moves.
//   - Recycle bin: one register per customer, "deleted by actor" or
//     "alive". Deleting touches no field, so an edit concurrent with a
//     delete is kept and shows after a restore. Who deleted and when are
//     the event's actor and HLC.
//   - Contacts: removal wins. A removed contact keeps only its tombstone;
//     an add or update of it, arriving before or after the removal, writes
//     nothing, so a concurrent update never resurrects it.
//   - Timeline: entries are keyed by the identity of the event that made
//     them (hlc, origin, seq, kind); writing one is idempotent and
//     commutes with everything.
//   - Merge (rule 5, see merge.go): merge events are edges loser → winner;
//     a group's representative is found by replaying its edges in stamp
//     order with union-find, which makes cycles (X into Y here, Y into X
//     there) impossible and depends only on the set of merges. Every other
//     id of the group redirects to it, and all the group's data lives
//     there: appliers keyed by customer id resolve the id first, and a
//     merge moves the old representatives' records, contacts and timelines
//     to the new one, folding registers by stamp. An edit of the loser made
//     concurrently with the merge therefore ends on the winner everywhere.
//     The merge event writes, at its own stamp, only the fields where the
//     fold would not give what the user chose, and marks the winner alive:
//     a concurrent edit or delete stamped later than the merge wins, an
//     earlier one loses to the user's choice.
//   - Indexes (index.go: live list, recycle bin, phone numbers, substring
//     grams, names, equality attributes) are recomputed from the
//     customer's current state after each change and diffed with what was
//     written before, so they never depend on arrival order.
package crm
