package access

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"branchline/fault"
	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/replication"
)

// KindAuditRecorded is the kind of audit log entries.
const KindAuditRecorded = "access.audit.recorded"

// Audit actions. Other packages may record actions of their own; an
// action is 1-64 characters of a-z, 0-9, '_' and '.'.
const (
	ActionLogin             = "login"
	ActionLogout            = "logout"
	ActionLoginFailed       = "login_failed"
	ActionUserCreated       = "user_created"
	ActionUserChanged       = "user_changed"
	ActionUserDisabled      = "user_disabled"
	ActionUserEnabled       = "user_enabled"
	ActionPasswordChanged   = "password_changed"
	ActionRoleChanged       = "role_changed"
	ActionPermissionChanged = "permission_changed"
	ActionDepartmentChanged = "department_changed"
	ActionTokenCreated      = "token_created"
	ActionTokenRevoked      = "token_revoked"
	ActionExport            = "export"
	ActionDelete            = "delete"
	ActionUndelete          = "undelete"
	ActionMerge             = "merge"
	ActionImport            = "import"
)

// Bounds of an audit entry's parts, in characters. AuditDraft cuts longer
// text rather than fail the change it audits.
const (
	maxAuditActor  = 128
	maxAuditTarget = 256
	maxAuditDetail = 2000
	maxAuditSource = 128
	maxAuditField  = 64
	maxAuditValue  = 500
	// maxAuditChanges bounds the changes one entry lists; an edit of
	// more values says so in its detail.
	maxAuditChanges = 64
)

var actionRe = regexp.MustCompile(`^[a-z0-9_.]{1,64}$`)

// AuditEntry is one entry of the audit log.
type AuditEntry struct {
	At     replication.HLC // when, by the recording event's clock
	Origin string          // replica whose event recorded it
	Actor  string          // who did it (a username)
	// ActorName is the actor's display name, when they are a user who
	// has one: not recorded, filled in by the reads that show entries.
	ActorName string
	Action    string
	Target    string // what it was done to: "user/01J…", "customers", …
	Detail    string
	Node      string // node where it happened
	Remote    string // the client's network address
	// Changes are the values an edit changed, with what they were (none
	// for entries that are not edits, and for those of earlier releases).
	Changes []AuditChange
}

// AuditChange is one value an audited edit changed: Before is "" when it
// was not set, After "" when it was cleared. Phone marks phone numbers,
// kept whole as the record keeps them; whoever shows them masks them for
// readers without PhoneView.
type AuditChange struct {
	Field         string
	Before, After string
	Phone         bool
}

// AuditNote is what a command says of the change it audits: the values it
// changed, with what they were (which it knows, having read the record to
// decide the change), and a detail in words for what is not a value
// (what an export held, what an import skipped).
type AuditNote struct {
	Detail  string
	Changes []AuditChange
}

// Change is the AuditChange of field from before to after; nil when the
// value does not change.
func Change(field, before, after string) []AuditChange {
	if before == after {
		return nil
	}
	return []AuditChange{{Field: field, Before: before, After: after}}
}

// Time is when the entry was recorded.
func (e *AuditEntry) Time() time.Time { return e.At.Time() }

// AuditOption sets an optional part of an audit entry.
type AuditOption func(*accessv1.AuditRecorded)

// WithActor names the actor when it is not the user running the command,
// e.g. the username of a failed login.
func WithActor(user string) AuditOption {
	return func(b *accessv1.AuditRecorded) { b.Actor = user }
}

// WithSource records where the action came from: the node and the
// client's address.
func WithSource(node, remote string) AuditOption {
	return func(b *accessv1.AuditRecorded) { b.Node, b.Remote = node, remote }
}

// WithChanges records the values an edit changed.
func WithChanges(cs ...AuditChange) AuditOption {
	return func(b *accessv1.AuditRecorded) {
		for _, c := range cs {
			b.Changes = append(b.Changes, &accessv1.AuditChange{Field: c.Field, Before: c.Before, After: c.After, Phone: c.Phone})
		}
	}
}

// auditText makes s fit an audit entry: valid UTF-8, no control
// characters (no NUL: parts are stored separated by it), at most max
// characters.
func auditText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max-1]) + "…"
	}
	return s
}

// AuditDraft returns the event that records action on target in the audit
// log. A command returns it with the drafts of the change it audits, so
// that the change and its record commit together or not at all. The
// actor is the user the store runs the command for, unless WithActor names
// another. It never fails: text too long is cut, and an action outside the
// allowed characters is recorded as "other:" and its cleaned text.
func AuditDraft(action, target, detail string, opts ...AuditOption) replication.Draft {
	b := &accessv1.AuditRecorded{Action: action, Target: target, Detail: detail}
	for _, o := range opts {
		o(b)
	}
	if !actionRe.MatchString(b.Action) {
		b.Detail = "action " + b.Action + ": " + b.Detail
		b.Action = "other"
	}
	b.Actor = auditText(b.Actor, maxAuditActor)
	b.Target = auditText(b.Target, maxAuditTarget)
	b.Detail = auditText(b.Detail, maxAuditDetail)
	b.Node = auditText(b.Node, maxAuditSource)
	b.Remote = auditText(b.Remote, maxAuditSource)
	if n := len(b.Changes); n > maxAuditChanges {
		b.Detail = auditText(fmt.Sprintf("%d values changed, the first %d listed; %s", n, maxAuditChanges, b.Detail), maxAuditDetail)
		b.Changes = b.Changes[:maxAuditChanges]
	}
	kept := b.Changes[:0]
	for _, c := range b.Changes {
		c.Field = auditText(c.Field, maxAuditField)
		c.Before = auditText(c.Before, maxAuditValue)
		c.After = auditText(c.After, maxAuditValue)
		if c.Field != "" {
			kept = append(kept, c)
		}
	}
	b.Changes = kept
	return replication.Draft{Kind: KindAuditRecorded, Entity: "audit", Body: b}
}

// View keys (below replication.ViewPrefix), newest first by inverting the
// HLC, since views are only scanned in ascending order:
//
//	access \0 audit \0 ^hlc \0 origin                 actor \0 action \0 target \0 detail \0 node \0 remote [\0 changes]
//	access \0 auditby \0 actor \0 ^hlc \0 origin      action
//	access \0 auditact \0 action \0 ^hlc \0 origin    ""
func invHex(h replication.HLC) string { return fmt.Sprintf("%016x", ^uint64(h)) }

var auditPrefix = replication.Prefix("access", "audit")

func auditByPrefix(actor string) []byte   { return replication.Prefix("access", "auditby", actor) }
func auditActPrefix(action string) []byte { return replication.Prefix("access", "auditact", action) }

func checkAuditRecorded(_ *replication.Event, b *accessv1.AuditRecorded) error {
	if !actionRe.MatchString(b.GetAction()) {
		return fault.Invalidf("action", "bad_action", "%q is not an audit action", b.GetAction())
	}
	for _, p := range []struct {
		name, v string
		max     int
	}{
		{"actor", b.GetActor(), maxAuditActor}, {"target", b.GetTarget(), maxAuditTarget},
		{"detail", b.GetDetail(), maxAuditDetail}, {"node", b.GetNode(), maxAuditSource},
		{"remote", b.GetRemote(), maxAuditSource},
	} {
		if auditText(p.v, p.max) != p.v {
			return fault.Invalidf(p.name, "bad_text", "not clean text of at most %d characters", p.max)
		}
	}
	if len(b.GetChanges()) > maxAuditChanges {
		return fault.Invalidf("changes", "too_many", "more than %d changes", maxAuditChanges)
	}
	for _, c := range b.GetChanges() {
		if c.GetField() == "" || auditText(c.GetField(), maxAuditField) != c.GetField() ||
			auditText(c.GetBefore(), maxAuditValue) != c.GetBefore() || auditText(c.GetAfter(), maxAuditValue) != c.GetAfter() {
			return fault.Invalidf("changes", "bad_text", "a change is not a field and clean values of at most %d characters", maxAuditValue)
		}
	}
	return nil
}

func applyAuditRecorded(tx replication.Tx, ev *replication.Event, b *accessv1.AuditRecorded) error {
	actor := b.GetActor()
	if actor == "" {
		actor = ev.Actor
	}
	actor = auditText(actor, maxAuditActor)
	action := b.GetAction()
	if !actionRe.MatchString(action) {
		action = "other"
	}
	parts := []string{actor, action, auditText(b.GetTarget(), maxAuditTarget), auditText(b.GetDetail(), maxAuditDetail),
		auditText(b.GetNode(), maxAuditSource), auditText(b.GetRemote(), maxAuditSource)}
	if cs := b.GetChanges(); len(cs) > 0 {
		// The changes are one more part, as JSON (it holds no NUL); an
		// entry without changes keeps the six parts of earlier releases.
		rows := make([][4]string, len(cs))
		for i, c := range cs {
			rows[i] = [4]string{c.GetField(), c.GetBefore(), c.GetAfter(), flag(c.GetPhone())}
		}
		j, err := json.Marshal(rows)
		if err != nil {
			return fmt.Errorf("audit changes: %w", err)
		}
		parts = append(parts, string(j))
	}
	inv := invHex(ev.HLC)
	if err := tx.Set(replication.Key("access", "audit", inv, ev.Origin), replication.Key(parts...)); err != nil {
		return err
	}
	if err := tx.Set(replication.Key("access", "auditby", actor, inv, ev.Origin), []byte(action)); err != nil {
		return err
	}
	return tx.Set(replication.Key("access", "auditact", action, inv, ev.Origin), nil)
}

// AuditQuery selects audit entries.
type AuditQuery struct {
	Action string    // only this action, when set
	Actor  string    // only this actor, when set
	From   time.Time // entries at or after, when set
	To     time.Time // entries before, when set
	After  string    // page token: continue after this entry
	Limit  int       // entries per page
}

// maxAuditScan bounds the index entries one page reads, so that a query
// matching little costs bounded time; the page may then be short, with a
// page token to go on.
const maxAuditScan = 20000

// errBadPageToken is returned for a page token that the audit log did
// not hand out.
var errBadPageToken = fault.Invalidf("page_token", "bad_token", "not a page token of this list")

// ListAudit returns a page of audit entries, newest first, and the token
// of the next page ("" at the end).
func ListAudit(views replication.Tx, q AuditQuery) ([]AuditEntry, string, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	// Scan the narrowest index; filter the rest.
	prefix := auditPrefix
	switch {
	case q.Actor != "":
		prefix = auditByPrefix(q.Actor)
	case q.Action != "":
		prefix = auditActPrefix(q.Action)
	}
	var start []byte
	if q.After != "" {
		inv, origin, ok := strings.Cut(q.After, ".")
		if !ok || len(inv) != 16 || !replication.ValidNodeID(origin) || strings.Trim(inv, "0123456789abcdef") != "" {
			return nil, "", errBadPageToken
		}
		start = append(append(append(append([]byte(nil), prefix...), inv...), 0), origin...)
		start = append(start, 0) // just after that entry
	}
	if !q.To.IsZero() {
		if q.To.UnixMilli() <= 0 {
			return nil, "", nil
		}
		// Newest entry wanted: the last HLC before To.
		to := replication.MakeHLC(q.To.UnixMilli(), 0)
		s := append(append([]byte(nil), prefix...), invHex(to-1)...)
		if start == nil || string(s) > string(start) {
			start = s
		}
	}
	var from replication.HLC
	if !q.From.IsZero() {
		from = replication.MakeHLC(q.From.UnixMilli(), 0)
	}
	type ref struct {
		inv, origin string
		at          replication.HLC
	}
	var (
		refs    []ref
		next    string
		scanned int
	)
	err := views.Scan(prefix, start, func(k, v []byte) (bool, error) {
		inv, origin, _ := strings.Cut(string(k[len(prefix):]), "\x00")
		var x uint64
		if _, err := fmt.Sscanf(inv, "%016x", &x); err != nil {
			return false, fmt.Errorf("audit key %q: %w", k, err)
		}
		at := replication.HLC(^x)
		if at < from {
			return false, nil
		}
		scanned++
		// On the actor index the value is the action: filter without
		// reading the entry.
		if q.Action == "" || q.Actor == "" || string(v) == q.Action {
			refs = append(refs, ref{inv, origin, at})
			if len(refs) > q.Limit {
				// One more than a page: there is a next page.
				refs = refs[:q.Limit]
				last := refs[q.Limit-1]
				next = last.inv + "." + last.origin
				return false, nil
			}
		}
		if scanned >= maxAuditScan {
			next = inv + "." + origin
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return nil, "", err
	}
	out := make([]AuditEntry, 0, len(refs))
	for _, r := range refs {
		e, ok, err := getAudit(views, r.inv, r.origin)
		if err != nil {
			return nil, "", err
		}
		if ok {
			e.At = r.at
			out = append(out, e)
		}
	}
	return out, next, nil
}

func getAudit(views replication.Tx, inv, origin string) (AuditEntry, bool, error) {
	v, ok, err := getString(views, replication.Key("access", "audit", inv, origin))
	if err != nil || !ok {
		return AuditEntry{}, false, err
	}
	p := strings.Split(v, "\x00")
	if len(p) != 6 && len(p) != 7 {
		return AuditEntry{}, false, fmt.Errorf("audit entry %s.%s: %d parts", inv, origin, len(p))
	}
	e := AuditEntry{Origin: origin, Actor: p[0], Action: p[1], Target: p[2], Detail: p[3], Node: p[4], Remote: p[5]}
	if len(p) == 7 {
		var rows [][4]string
		if err := json.Unmarshal([]byte(p[6]), &rows); err != nil {
			return AuditEntry{}, false, fmt.Errorf("audit entry %s.%s: changes: %w", inv, origin, err)
		}
		for _, r := range rows {
			e.Changes = append(e.Changes, AuditChange{Field: r[0], Before: r[1], After: r[2], Phone: r[3] != ""})
		}
	}
	return e, true, nil
}
