// Package access is who may do what: users, departments (a tree), roles
// with permissions, data scopes and time windows, personal API tokens, the
// names of the branches, and the audit log. All of it is replicated, so
// that anyone can log in at any branch during a WAN outage. Like every
// domain package it turns commands into events and events into views
// through replication.Tx, and knows nothing of storage, HTTP or SIP.
//
// Commands (CreateUser, MoveDepartment, …) read the views and return event
// drafts; they never hash passwords or draw random secrets themselves —
// callers do that before Store.Exec (HashPassword, NewTokenSecret), so that
// the store's single writer is not held up and a command run twice decides
// the same events. Appliers read no clock.
//
// How concurrent changes at different branches merge:
//
//   - Fields of users, departments and roles: last writer wins per field,
//     by (hlc, origin). A role's permissions are one register each; its
//     time windows are one register as a whole.
//   - Usernames are unique, but two branches offline may give one name to
//     two users. Every user's current username is a claim stamped with the
//     write that set it; the oldest claim, by (hlc, origin), owns the name.
//     The others keep their records but cannot log in or use tokens until
//     an administrator renames them; UsernameConflicts lists them (and
//     User.UsernameOwner marks them) at every replica alike.
//   - Role membership: an add-wins set per user; removing a role removes
//     the assignments the remover had seen, so one made concurrently at
//     another branch survives.
//   - Department moves: each command refuses a move below the department
//     itself. Concurrent moves that together would form a cycle are
//     resolved by replaying every move in (hlc, origin) order and skipping
//     any that would put a department below itself: the later move loses
//     everywhere (see applyMove).
//   - Default roles (DefaultRoles): every fresh node seeds them at fixed
//     ids, with registers stamped below any real write, so that nodes
//     seeding offline make one set and a seed never undoes an edit (see
//     SeedRoles).
//   - Branch names: one last-writer-wins register per branch (its node
//     id), company-wide.
//   - Tokens: created once, revoked once; a revocation is final.
//   - Audit entries: facts, kept by (hlc, origin), newest first.
//
// Login throttling (Throttle) is deliberately node-local and not
// replicated.
package access
