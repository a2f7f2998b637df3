package accessapp

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/fault"
	"branchline/internal/keyset"
	"branchline/replication"
)

// The audit log as a list (审计日志): the entries of a window of days,
// filtered by action and actor, searched, sorted by a column, a page at a
// time, with the exact number the filter keeps.
//
// What a page costs is bounded by the window, not by the log: the window
// is at most MaxAuditWindow long, and the list reads its entries from the
// narrowest of the log's indexes (ListAudit: the actor's, else the
// action's, else the whole log's, newest first, as they are kept), names
// their actors, filters and orders them in memory. The total is their
// number. A window holding more than maxListedAudit entries is refused
// with a request to narrow it.

// Columns of the audit list.
const (
	AuditByTime   = "time"
	AuditByActor  = "actor"
	AuditByAction = "action"
)

// AuditColumns are the columns the audit list sorts by; time first, its
// default order newest first.
var AuditColumns = []string{AuditByTime, AuditByActor, AuditByAction}

// MaxAuditWindow is the longest window an audit list reads;
// DefaultAuditDays the days it lists when it is given no window.
const (
	MaxAuditWindow   = 92 * 24 * time.Hour
	DefaultAuditDays = 30
)

// maxListedAudit bounds the entries of a window a list reads.
var maxListedAudit = 20000

// AuditList asks for a page of the audit list: the entries of an action
// and an actor (when set) recorded in [From, To) — a zero start is
// DefaultAuditDays before the end; a zero end is now, or MaxAuditWindow
// after the start — whose actor, actor's name, action, target, detail or
// a value it changed (not a phone number) holds Text, in Order.
type AuditList struct {
	Action, Actor string
	From, To      time.Time
	Text          string
	keyset.Order
	Limit int
}

// AuditPage is a page of the audit list and the number of entries it
// lists.
type AuditPage struct {
	Items      []access.AuditEntry
	Total      int
	Prev, Next string
	// From and To are the window read.
	From, To time.Time
}

// AuditList reads a page of the audit list; it needs access.AuditRead.
func (s *Admin) AuditList(_ context.Context, c app.Caller, q AuditList) (AuditPage, error) {
	if err := c.Require(access.AuditRead); err != nil {
		return AuditPage{}, err
	}
	var err error
	if q.Limit, err = app.PageSize(q.Limit, 50); err != nil {
		return AuditPage{}, err
	}
	if err := app.CheckList(q.Sort, AuditColumns, q.Text); err != nil {
		return AuditPage{}, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return AuditPage{}, fault.Invalidf("end_time", "before_start", "must be after start_time")
	}
	var end time.Time
	if q.From, q.To, end, err = app.Window(q.From, q.To, s.Now.Time(), DefaultAuditDays, MaxAuditWindow, "end_time"); err != nil {
		return AuditPage{}, err
	}
	page, err := app.Read(s.Store, func(views replication.Tx) (AuditPage, error) { return auditList(views, q, maxListedAudit) })
	maskChanges(c, page.Items)
	page.From, page.To = q.From, end
	return page, err
}

// auditList reads the page q asks for, reading at most max entries.
func auditList(views replication.Tx, q AuditList, max int) (AuditPage, error) {
	es, more, err := access.ListAudit(views, access.AuditQuery{Action: q.Action, Actor: q.Actor, From: q.From, To: q.To, Limit: max})
	if err != nil {
		return AuditPage{}, err
	}
	if more != "" {
		return AuditPage{}, fault.Invalidf("start_time", "too_many_entries", "more than %d entries in this window: narrow it", max)
	}
	if err := nameActors(views, es); err != nil {
		return AuditPage{}, err
	}
	text := strings.ToLower(strings.TrimSpace(q.Text))
	es = slices.DeleteFunc(es, func(e access.AuditEntry) bool { return text != "" && !auditHolds(e, text) })
	f, err := keyset.InMemory(es, func(e access.AuditEntry) []byte {
		return keyset.VarKey(auditSortValue(e, q.Sort), fmt.Sprintf("%016x.%s", uint64(e.At), e.Origin))
	}, q.Order, q.Limit)
	if err != nil {
		return AuditPage{}, fault.Invalidf("page_token", "bad_token", "not a page token of this list")
	}
	return AuditPage{Items: f.Items, Total: f.Total, Prev: f.Prev, Next: f.Next}, nil
}

// auditHolds reports whether an entry's actor, actor's name, action,
// target, detail or a value an edit changed holds text (lower case). The
// phone numbers an edit changed are left out: a reader who sees them
// masked must not find an entry by one.
func auditHolds(e access.AuditEntry, text string) bool {
	in := func(v string) bool { return strings.Contains(strings.ToLower(v), text) }
	return slices.ContainsFunc([]string{e.Actor, e.ActorName, e.Action, e.Target, e.Detail}, in) ||
		slices.ContainsFunc(e.Changes, func(ch access.AuditChange) bool { return !ch.Phone && (in(ch.Before) || in(ch.After)) })
}

// auditSortValue is what column col orders entry e by.
func auditSortValue(e access.AuditEntry, col string) []byte {
	switch col {
	case AuditByActor:
		if e.ActorName != "" {
			return keyset.Text(e.ActorName)
		}
		return keyset.Text(e.Actor)
	case AuditByAction:
		return []byte(e.Action)
	}
	return keyset.Uint(uint64(e.At))
}
