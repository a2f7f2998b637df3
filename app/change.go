package app

import (
	"context"

	"branchline/access"
	"branchline/fault"
	"branchline/replication"
)

// MaxPageSize bounds list pages.
const MaxPageSize = 500

// PageSize checks a requested page size: 0 means def, more than
// MaxPageSize means MaxPageSize, negative is invalid.
func PageSize(n, def int) (int, error) {
	switch {
	case n < 0:
		return 0, fault.Invalidf("page_size", "negative", "must not be negative")
	case n == 0:
		return def, nil
	case n > MaxPageSize:
		return MaxPageSize, nil
	}
	return n, nil
}

// Audited is a command that records what it changed: the drafts of the
// change and what its audit entry says of it — the values it changed,
// with what they were, which the command knows from the views it read to
// decide the change.
type Audited func(views replication.Tx) ([]replication.Draft, access.AuditNote, error)

// ExecAudited runs cmd as c and, if it changes anything, records the
// audit entry of the change (action on target, by c, at node) in the
// change's first event, as a compound event (replication/compound.go): a
// change is never without its audit entry, nor an entry without its
// change, and an edit of one record is one event. The entry goes where
// the change goes: to every replica that holds the record it is about.
func ExecAudited(ctx context.Context, store Store, c Caller, node, action, target string, cmd Audited) ([]*replication.Event, error) {
	return store.Exec(ctx, c.User, func(views replication.Tx) ([]replication.Draft, error) {
		drafts, note, err := cmd(views)
		if err != nil || len(drafts) == 0 {
			return nil, err
		}
		entry := access.AuditDraft(action, target, note.Detail, access.WithSource(node, c.Remote), access.WithChanges(note.Changes...))
		if drafts[0].Attached != nil {
			return append(drafts, entry), nil
		}
		drafts[0].Attached = &entry
		return drafts, nil
	})
}

// Page is one page of a list and the token of the next ("" on the last).
type Page[T any] struct {
	Items []T
	Next  string
}
