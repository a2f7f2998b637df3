package crmapp

import (
	"context"
	"strconv"
	"strings"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/crm"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

// Blacklist is the use cases of the blacklist (黑名单): flagging a number
// needs access.BlacklistFlag; listing, un-listing and the parameters
// access.BlacklistManage; reads access.CustomerRead. Numbers are masked
// unless the caller may see them.
type Blacklist struct {
	Store app.Store
	// Node is this node's id, recorded as the source of audit entries.
	Node string
	// Now is the clock time windows are judged by; nil means time.Now.
	Now app.Clock
}

// The audit actions of the blacklist. Their entries target the blacklist
// at large ("blacklist") and record the number (a phone change, masked
// in the log as on pages) and what was set: the reason, the policy, the
// parameters with what they were.
const (
	ActionBlacklistFlag   = "blacklist.flag"
	ActionBlacklistList   = "blacklist.list"
	ActionBlacklistUnlist = "blacklist.unlist"
	ActionBlacklistParams = "blacklist.params"
)

// The fields of the blacklist's audit entries.
const (
	AuditNumberField    = "number"
	AuditReasonField    = "reason"
	AuditPolicyField    = "policy"
	AuditThresholdField = "threshold"
)

// AuditBlacklistTarget names the blacklist in audit entries.
const AuditBlacklistTarget = "blacklist"

// numberChange records the number an entry is about: after, or before for
// an unlisting.
func numberChange(number string, gone bool) access.AuditChange {
	if gone {
		return access.AuditChange{Field: AuditNumberField, Before: number, Phone: true}
	}
	return access.AuditChange{Field: AuditNumberField, After: number, Phone: true}
}

// withReason adds the reason, when one was given, to changes.
func withReason(changes []access.AuditChange, reason string) []access.AuditChange {
	if reason = strings.TrimSpace(reason); reason != "" {
		changes = append(changes, access.AuditChange{Field: AuditReasonField, After: reason})
	}
	return changes
}

// historyLen is how many history entries a number's status shows.
const historyLen = 20

// Window is a time of the week a listed number's policy applies: ISO
// weekdays (1 Monday … 7 Sunday; none: every day), "HH:MM" to "HH:MM".
type Window struct {
	Days       []int32
	Start, End string
}

// Windows are a listed number's windows in a time zone ("": China's).
// None: always.
type Windows struct {
	TimeZone string
	Windows  []Window
}

// HistoryEntry is one entry of a number's history: "flagged", "listed",
// "unlisted".
type HistoryEntry struct {
	Action, Actor, Reason, Origin string
	Time                          time.Time
}

// Entry is the blacklist status of one number as the caller may see it.
type Entry struct {
	// Key names the number without showing it (crm.BlacklistKey).
	Key          string
	Number       string // E.164, masked when NumberMasked
	NumberMasked bool
	Listed       bool // blacklisted, directly or by flags
	Direct       bool // an administrator listed it
	Flags        int  // distinct users whose flags count
	Threshold    int  // flags that list a number
	Policy       crm.Policy
	Active       bool // listed, and a window is open now
	Rejects      bool // the switch declines the number's calls now
	Reason       string
	Windows      Windows
	UnlistedBy   string
	UnlistReason string
	UnlistedAt   time.Time
	History      []HistoryEntry // newest first (Status only)
}

func entryOfStatus(c app.Caller, st crm.Status) Entry {
	out := Entry{Key: crm.BlacklistKey(st.Number), Listed: st.Listed, Direct: st.Direct, Flags: st.Flags, Threshold: st.Threshold,
		Policy: st.Policy, Active: st.Active, Rejects: st.Rejects(), Reason: st.Reason}
	out.Number, out.NumberMasked = PhoneFor(c, st.Number)
	if w := st.Windows; w != nil {
		out.Windows.TimeZone = w.GetTimeZone()
		for _, x := range w.GetWindows() {
			out.Windows.Windows = append(out.Windows.Windows, Window{Days: x.GetDays(), Start: x.GetStart(), End: x.GetEnd()})
		}
	}
	if u := st.Unlisted; u != nil {
		out.UnlistedBy, out.UnlistReason, out.UnlistedAt = u.Actor, u.Reason, app.When(u.At)
	}
	return out
}

// Target names a number by itself (any notation) or by its Key, exactly
// one of them.
type Target struct {
	Number, Key string
}

func (t Target) number(views replication.Tx) (string, error) {
	switch {
	case t.Number != "" && t.Key != "":
		return "", fault.Invalidf("name", "both", "give the number or the name, not both")
	case t.Key != "":
		return crm.BlacklistNumberByKey(views, t.Key)
	case t.Number == "":
		return "", fault.Invalidf("number", "required", "is required")
	}
	return t.Number, nil
}

// status reads number's entry, with its history when asked.
func (s *Blacklist) status(c app.Caller, number string, history bool) (Entry, error) {
	now := s.Now.Time()
	return app.Read(s.Store, func(views replication.Tx) (Entry, error) {
		st, err := crm.BlacklistStatus(views, number, now)
		if err != nil {
			return Entry{}, err
		}
		out := entryOfStatus(c, st)
		if !history {
			return out, nil
		}
		hist, err := crm.BlacklistHistory(views, st.Number, historyLen)
		for _, h := range hist {
			out.History = append(out.History, HistoryEntry{Action: h.Action, Actor: h.Actor, Reason: h.Reason, Origin: h.Origin, Time: app.When(h.At)})
		}
		return out, err
	})
}

// Flag reports number as a nuisance caller; at the threshold of distinct
// users it is listed. A second flag of the same user changes nothing.
func (s *Blacklist) Flag(ctx context.Context, c app.Caller, number, reason string) (Entry, error) {
	if err := c.Require(access.BlacklistFlag); err != nil {
		return Entry{}, err
	}
	if _, err := app.ExecAudited(ctx, s.Store, c, s.Node, ActionBlacklistFlag, AuditBlacklistTarget, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		d, ok, err := crm.FlagNumber(views, c.User, number, reason)
		if err != nil || !ok {
			return nil, access.AuditNote{}, err
		}
		return []replication.Draft{d}, access.AuditNote{Changes: withReason([]access.AuditChange{numberChange(blacklistNumber(d), false)}, reason)}, nil
	}); err != nil {
		return Entry{}, err
	}
	return s.status(c, number, false)
}

// Listing is a number an administrator blacklists at once (or whose
// policy and windows they change); Policy "" is the default policy.
type Listing struct {
	Number, Reason string
	Policy         crm.Policy
	Windows        Windows
}

// List blacklists a number directly.
func (s *Blacklist) List(ctx context.Context, c app.Caller, req Listing) (Entry, error) {
	if err := c.Require(access.BlacklistManage); err != nil {
		return Entry{}, err
	}
	var windows *crmv1.BlacklistWindows
	if len(req.Windows.Windows) > 0 {
		windows = &crmv1.BlacklistWindows{TimeZone: req.Windows.TimeZone}
		for _, w := range req.Windows.Windows {
			windows.Windows = append(windows.Windows, &crmv1.BlacklistWindow{Days: w.Days, Start: w.Start, End: w.End})
		}
	}
	if _, err := app.ExecAudited(ctx, s.Store, c, s.Node, ActionBlacklistList, AuditBlacklistTarget, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		d, err := crm.BlacklistNumber(views, req.Number, req.Reason, req.Policy, windows)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		changes := withReason([]access.AuditChange{numberChange(blacklistNumber(d), false)}, req.Reason)
		if req.Policy != "" {
			changes = append(changes, access.AuditChange{Field: AuditPolicyField, After: string(req.Policy)})
		}
		return []replication.Draft{d}, access.AuditNote{Changes: changes}, nil
	}); err != nil {
		return Entry{}, err
	}
	return s.status(c, req.Number, false)
}

// Unlist takes a number off the list, with a reason: the flags and
// listings this node has seen are removed.
func (s *Blacklist) Unlist(ctx context.Context, c app.Caller, t Target, reason string) (Entry, error) {
	if err := c.Require(access.BlacklistManage); err != nil {
		return Entry{}, err
	}
	var number string
	if _, err := app.ExecAudited(ctx, s.Store, c, s.Node, ActionBlacklistUnlist, AuditBlacklistTarget, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		n, err := t.number(views)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		number = n
		d, err := crm.UnblacklistNumber(views, n, reason)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		return []replication.Draft{d}, access.AuditNote{Changes: withReason([]access.AuditChange{numberChange(blacklistNumber(d), true)}, reason)}, nil
	}); err != nil {
		return Entry{}, err
	}
	return s.status(c, number, false)
}

// Status reads a number's status and history.
func (s *Blacklist) Status(_ context.Context, c app.Caller, t Target) (Entry, error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return Entry{}, err
	}
	number, err := app.Read(s.Store, t.number)
	if err != nil {
		return Entry{}, err
	}
	return s.status(c, number, true)
}

// Entries lists the listed numbers (and those flagged below the threshold
// when flagged is set), a page at a time in key order.
func (s *Blacklist) Entries(_ context.Context, c app.Caller, flagged bool, size int, after string) (app.Page[Entry], error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return app.Page[Entry]{}, err
	}
	size, err := app.PageSize(size, 50)
	if err != nil {
		return app.Page[Entry]{}, err
	}
	if after != "" && (len(after) != 32 || strings.Trim(after, "0123456789abcdef") != "") {
		return app.Page[Entry]{}, fault.Invalidf("page_token", "bad_token", "not a page token of this list")
	}
	now := s.Now.Time()
	sts, err := app.Read(s.Store, func(views replication.Tx) ([]crm.Status, error) {
		return crm.ListBlacklist(views, after, size+1, flagged, now)
	})
	if err != nil {
		return app.Page[Entry]{}, err
	}
	var out app.Page[Entry]
	if len(sts) > size {
		sts = sts[:size]
		out.Next = crm.BlacklistKey(sts[size-1].Number)
	}
	for _, st := range sts {
		out.Items = append(out.Items, entryOfStatus(c, st))
	}
	return out, nil
}

// Params are the blacklist's parameters: the flags that list a number, and
// the policy of listings that name none.
type Params struct {
	Threshold int
	Policy    crm.Policy
}

func (s *Blacklist) params() (Params, error) {
	return app.Read(s.Store, func(views replication.Tx) (Params, error) {
		t, err := crm.GetParam(views, crm.ParamBlacklistThreshold, strconv.Itoa(crm.DefaultBlacklistThreshold))
		if err != nil {
			return Params{}, err
		}
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 {
			n = crm.DefaultBlacklistThreshold
		}
		p, err := crm.GetParam(views, crm.ParamBlacklistPolicy, string(crm.DefaultBlacklistPolicy))
		out := Params{Threshold: n, Policy: crm.Policy(p)}
		if out.Policy != crm.PolicyWarn && out.Policy != crm.PolicyReject {
			out.Policy = crm.DefaultBlacklistPolicy
		}
		return out, err
	})
}

// Params reads the parameters.
func (s *Blacklist) Params(_ context.Context, c app.Caller) (Params, error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return Params{}, err
	}
	return s.params()
}

// ParamsChange changes the parameters: a threshold of 0 and a policy of ""
// leave them as they are. BadPolicy, when set, is a policy the caller
// asked for that does not exist: the change is refused.
type ParamsChange struct {
	Threshold int
	Policy    crm.Policy
	BadPolicy string
}

// SetParams changes the parameters.
func (s *Blacklist) SetParams(ctx context.Context, c app.Caller, req ParamsChange) (Params, error) {
	if err := c.Require(access.BlacklistManage); err != nil {
		return Params{}, err
	}
	set := map[string]string{}
	switch t := req.Threshold; {
	case t < 0:
		return Params{}, fault.Invalidf("threshold", "bad_threshold", "must be a whole number from 1 to %d", crm.MaxBlacklistThreshold)
	case t > 0:
		set[crm.ParamBlacklistThreshold] = strconv.Itoa(t)
	}
	switch {
	case req.BadPolicy != "":
		return Params{}, fault.Invalidf("default_policy", "bad_policy", "unknown policy %s", req.BadPolicy)
	case req.Policy != "":
		set[crm.ParamBlacklistPolicy] = string(req.Policy)
	}
	// What a parameter is when it was never set, as params reads it.
	defaults := map[string]string{crm.ParamBlacklistThreshold: strconv.Itoa(crm.DefaultBlacklistThreshold),
		crm.ParamBlacklistPolicy: string(crm.DefaultBlacklistPolicy)}
	fields := map[string]string{crm.ParamBlacklistThreshold: AuditThresholdField, crm.ParamBlacklistPolicy: AuditPolicyField}
	if _, err := app.ExecAudited(ctx, s.Store, c, s.Node, ActionBlacklistParams, AuditBlacklistTarget, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		var out []replication.Draft
		var note access.AuditNote
		for _, k := range []string{crm.ParamBlacklistThreshold, crm.ParamBlacklistPolicy} {
			v, ok := set[k]
			if !ok {
				continue
			}
			d, before, changed, err := crm.ChangeParam(views, k, v)
			if err != nil {
				return nil, access.AuditNote{}, err
			}
			if before == "" {
				before = defaults[k]
			}
			if changed {
				out = append(out, d)
				note.Changes = append(note.Changes, access.Change(fields[k], before, v)...)
			}
		}
		return out, note, nil
	}); err != nil {
		return Params{}, err
	}
	return s.params()
}

// CustomerStatus lists the listed or flagged numbers of a customer and its
// contacts. The numbers are read here, so a caller who may not see them
// gets the warnings too, with the numbers masked.
func (s *Blacklist) CustomerStatus(_ context.Context, c app.Caller, customer string) ([]Entry, error) {
	if err := c.Require(access.CustomerRead); err != nil {
		return nil, err
	}
	if err := checkID("name", customer); err != nil {
		return nil, err
	}
	now := s.Now.Time()
	return app.Read(s.Store, func(views replication.Tx) ([]Entry, error) {
		numbers, _, err := CustomerPhones(views, c, customer)
		if err != nil {
			return nil, err
		}
		var out []Entry
		for _, n := range numbers {
			st, err := crm.BlacklistStatus(views, n, now)
			if _, bad := fault.AsInvalid(err); bad {
				continue // not a number the blacklist keys (stored before normalisation rules changed)
			}
			if err != nil {
				return nil, err
			}
			if st.Listed || st.Flags > 0 {
				out = append(out, entryOfStatus(c, st))
			}
		}
		return out, nil
	})
}

// blacklistNumber is the number (E.164) a blacklist event decided is
// about, as the domain normalised it.
func blacklistNumber(d replication.Draft) string {
	n, _ := strings.CutPrefix(d.Entity, "blacklist/")
	return n
}
