package api

import (
	"context"

	"branchline/access"
	"branchline/app"
	"branchline/auth"
	"branchline/replication"
)

// Store is what the services need of a replica's event store.
type Store = app.Store

// StoreAuditor records the audit entries of what happens outside any use
// case's change: logins, failed logins and logouts. Each entry is one
// replicated access.audit.recorded event. (A use case returns its audit
// entry with the drafts of the change it records, app.ExecAudited.)
type StoreAuditor struct {
	Store Store
	Node  string // the node's id, recorded as the entry's source
}

// RecordAs records an entry by a named actor, for actions whose actor is
// not an authenticated caller: logins, failed logins, logouts. The
// client's address is the one ctx carries (auth.WithRemoteAddr).
func (a StoreAuditor) RecordAs(ctx context.Context, user, action, target, detail string) error {
	_, err := a.Store.Exec(ctx, user, func(replication.Tx) ([]replication.Draft, error) {
		return []replication.Draft{access.AuditDraft(action, target, detail,
			access.WithActor(user), access.WithSource(a.Node, auth.RemoteAddrFrom(ctx)))}, nil
	})
	return err
}
