// Package pickup is pickups and courier dispatch (叫件 / 派件): pickup
// requests with offline numbering, zones (片区) and couriers, automatic
// assignment by zone and load, the pickup workflow with its conflict
// records, tracking (查件), rate plans (报价), deposits and monthly
// settlement (预缴金/押金, 月结) and the branch and head-office reports.
//
// It is domain code: commands read the views through replication.Tx and
// return event drafts; appliers turn events into views. It must not import
// storage (Badger, Pebble), transport (HTTP, Connect, SIP) or read the
// clock: commands take the time and the node as arguments, and appliers
// are pure. Authorisation by permission is the caller's job; the domain
// checks ownership: a courier acts only on pickups assigned to them, and
// agents and dispatchers cancel, reassign, check and edit only at the
// pickup's branch.
//
// # Numbers
//
// A pickup is numbered "P-{node}-{yyMMdd}-{n}" and its waybill
// "{node}-{yyMMdd}-{n}", where n counts the pickups the node booked that
// (local) day. The counter is a view keyed by (origin, day) that only the
// created events of that origin advance (it keeps the highest n seen), and
// a node always holds all of its own events, so numbers are gapless and
// unique per node without asking the hub; node ids are unique, so numbers
// are unique across the company.
//
// # Workflow
//
// Each transition is its own event and its own fact (ARCHITECTURE rule
// 4), kept with its actor and HLC in the status history. The status is
// the first of this precedence whose fact holds, whatever order the
// events arrived in:
//
//	checked > picked_up > cancelled > failed > accepted > notified > assigned > new
//
// so a pick-up made while the branch cancelled during an outage stands,
// and the cancel becomes a conflict record. Assigned is one register per
// pickup: a reassignment replaces it. Notified, accepted and failed are
// kept per courier and count only for the current courier when made after
// the assignment, so a reassignment starts the courier's steps afresh
// (which is also how a failed pickup is retried). Cancelled beats failed:
// a cancel closes a failed pickup for good.
//
// Conflicts are derived from the facts on every replica and listed for
// the branch (Conflicts): a cancel beaten by a pick-up or check; a failure
// beaten by a pick-up; a reassignment beaten by the pick-up of the courier
// it took the pickup from; an acceptance or reassignment made after a
// cancel its author had not seen.
//
// # How pickup events merge
//
// Every applier gives the same views whatever order events of different
// origins arrive in (ARCHITECTURE.md, "Merge rules"):
//
//   - Created: one register per pickup, plus indexes written
//     idempotently (number and waybill → id, keeping the lowest id if ever
//     two claimed one; the per-(origin, day) counter keeps the maximum).
//   - Edits of descriptive fields: a last-writer-wins register per field.
//   - Transitions: a last-writer-wins register per fact, as above.
//   - History: every transition is kept under its event's identity, so it
//     is idempotent and commutes; it lists losing transitions too.
//   - Derived state and indexes (status, open pickups per courier, a
//     courier's pickups, the day index, conflicts, the monthly account
//     charge) are recomputed from the facts after each event and diffed
//     with what was written before, so they never depend on arrival order.
//     Account balances are counters that receive the difference of each
//     pickup's charge, which telescopes to the sum of the final charges.
//   - Account facts (crm.account.pickup_recorded, fact.go): a customer's
//     booking, and each transition of a monthly pickup, comes with a
//     company-wide copy of what the customer's figures need, made just
//     before it. The figures of such a booking are derived from its facts
//     alone by the same decide, diffed as above; a transition's register
//     takes its fact's stamp so that both order transitions alike.
//     Bookings of earlier releases have no facts and count as above.
//   - Zones and couriers: a last-writer-wins register per field; the zones
//     a courier covers are an add-wins set. Rate plans and the discount
//     tiers are one register each (a tariff table is edited as a whole).
//   - Accounts: deposits, payments and refunds are signed deltas (rule 2);
//     the monthly volume of a customer is a counter advanced once per
//     booking (by its account fact, or by the created event of an earlier
//     release) and never decremented (a cancelled pickup still counted
//     towards the month's volume when it was booked).
//
// # Scopes
//
// A pickup's events go to its branch and its couriers' nodes (scope.go);
// zones, couriers, rate plans and accounts, account facts included, go
// everywhere. A node serves the couriers whose branches name it
// (ServedScopes).
package pickup
