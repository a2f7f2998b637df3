package crmui

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"

	"branchline/access"
	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/fault"
	"branchline/web"
)

// The blacklist pages (黑名单): the listed numbers, one number's status and
// history, flagging a number (any agent), and blacklisting and
// un-blacklisting directly (administrators).
//
// Numbers are masked for users who may not see them, and the list links
// to a number by its entry key. Flag and Blacklist take a number, not a
// key, so their forms carry the number the user typed; a user who came
// from the masked list types it again.

// policies are the policies a form offers; "" is the default policy.
var policies = []string{string(crm.PolicyWarn), string(crm.PolicyReject)}

// policyOf reads a policy from a form; anything else is the default.
func policyOf(s string) crm.Policy {
	if slices.Contains(policies, s) {
		return crm.Policy(s)
	}
	return ""
}

// blEntryView is a number's status as the pages show it.
type blEntryView struct {
	Key          string
	Status       string // "listed", or flags against the threshold
	StatusClass  string // of its badge
	Number       string
	Masked       bool
	Listed       bool
	Direct       bool
	Active       bool
	Rejects      bool
	Flags        int
	Threshold    int
	Policy       string
	Reason       string
	Windows      []string
	TimeZone     string
	UnlistedBy   string
	UnlistReason string
	UnlistTime   time.Time
	History      []blHistoryView
}

type blHistoryView struct {
	Time   time.Time
	Action string // "flagged", "listed", "unlisted"
	Actor  string
	Reason string
	Origin string
}

func viewBlEntry(p *web.Page, e crmapp.Entry) blEntryView {
	v := blEntryView{
		Key: e.Key, Number: web.DisplayPhone(e.Number), Masked: e.NumberMasked,
		Listed: e.Listed, Direct: e.Direct, Active: e.Active, Rejects: e.Rejects,
		Flags: e.Flags, Threshold: e.Threshold, Policy: cmp.Or(string(e.Policy), "default"), Reason: e.Reason,
		TimeZone:   e.Windows.TimeZone,
		UnlistedBy: e.UnlistedBy, UnlistReason: e.UnlistReason, UnlistTime: e.UnlistedAt,
	}
	switch {
	case v.Listed:
		v.Status, v.StatusClass = p.T("blacklist.is_listed"), "red"
	case v.Flags > 0:
		v.Status, v.StatusClass = p.T("blacklist.is_flagged", v.Flags, v.Threshold), "amber"
	default:
		v.Status, v.StatusClass = p.T("blacklist.not_listed"), "green"
	}
	for _, w := range e.Windows.Windows {
		v.Windows = append(v.Windows, web.WindowText(p, w.Days, w.Start, w.End))
	}
	for _, h := range e.History {
		v.History = append(v.History, blHistoryView{Time: h.Time, Action: h.Action, Actor: h.Actor, Reason: h.Reason, Origin: h.Origin})
	}
	return v
}

type blacklistData struct {
	Entries       []blEntryView
	Flagged       bool // numbers flagged below the threshold are listed too
	Next          string
	Params        *crmapp.Params
	DefaultPolicy string
	Policies      []string
	CanRead       bool
}

type blEntryData struct {
	Entry blEntryView
	// Typed is the number as the user typed it, when they did: the flag
	// and blacklist forms need it (the shown one may be masked).
	Typed    string
	Policies []string
	Windows  []web.WindowRow
}

func (s *Pages) blacklistPage(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "blacklist", "blacklist.title")
	s.showBlacklist(w, r, p, http.StatusOK)
}

// showBlacklist renders the list page. Its blacklist form has no time
// windows: those are set on a number's page.
func (s *Pages) showBlacklist(w http.ResponseWriter, r *http.Request, p *web.Page, status int) {
	ctx, caller := r.Context(), web.CallerOf(r)
	q := r.URL.Query()
	data := &blacklistData{Flagged: q.Get("flagged") == "1", Policies: policies, CanRead: p.Grant.Can(access.CustomerRead)}
	p.Data = data
	if data.CanRead {
		page, err := s.cfg.Blacklist.Entries(ctx, caller, data.Flagged, 50, q.Get("after"))
		if err != nil {
			s.Render(w, r, "error", s.Failed(p, err), p)
			return
		}
		for _, e := range page.Items {
			data.Entries = append(data.Entries, viewBlEntry(p, e))
		}
		if page.Next != "" {
			data.Next = web.LinkWith("/blacklist", "flagged", q.Get("flagged"), "after", page.Next)
		}
		params, err := s.cfg.Blacklist.Params(ctx, caller)
		if err != nil {
			s.Render(w, r, "error", s.Failed(p, err), p)
			return
		}
		data.Params, data.DefaultPolicy = &params, string(params.Policy)
	}
	s.Render(w, r, "blacklist", status, p)
}

// blacklistStatus shows the number typed in the search box.
func (s *Pages) blacklistStatus(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "blacklist", "blacklist.status")
	number := strings.TrimSpace(r.URL.Query().Get("number"))
	if number == "" {
		http.Redirect(w, r, "/blacklist", http.StatusSeeOther)
		return
	}
	p.Form.Set("q", number)
	s.showEntry(w, r, p, crmapp.Target{Number: number}, number, nil, http.StatusOK)
}

// blacklistEntry shows a number by its entry key, as the list links it.
func (s *Pages) blacklistEntry(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "blacklist", "blacklist.status")
	s.showEntry(w, r, p, crmapp.Target{Key: r.PathValue("key")}, "", nil, http.StatusOK)
}

// showEntry renders a number's status page; typed is the number as the
// user typed it ("" if unknown), windows the posted blacklist form rows.
func (s *Pages) showEntry(w http.ResponseWriter, r *http.Request, p *web.Page, t crmapp.Target, typed string, windows []web.WindowRow, status int) {
	e, err := s.cfg.Blacklist.Status(r.Context(), web.CallerOf(r), t)
	if err != nil {
		if inv, ok := fault.AsInvalid(err); ok && typed != "" {
			// A number that does not parse: say so at the search box.
			inv.Field = "q"
			s.showBlacklist(w, r, p, s.FailedOn(p, err, "admin", "q"))
			return
		}
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	if typed == "" && !e.NumberMasked {
		typed = e.Number
	}
	data := &blEntryData{Entry: viewBlEntry(p, e), Typed: typed, Policies: policies}
	p.Title = data.Entry.Number
	if windows == nil {
		for i, win := range e.Windows.Windows {
			windows = append(windows, web.NewWindowRow(i, win.Days, win.Start, win.End))
		}
		// A listed number's form starts from its policy in force; a new
		// listing from the default policy.
		if _, posted := p.Form["list.policy"]; !posted && e.Listed {
			p.Form.Set("list.policy", string(e.Policy))
			p.Form.Set("windows.time_zone", e.Windows.TimeZone)
		}
	}
	data.Windows = web.WithBlankRows(slices.Clone(windows))
	web.WindowErrors(data.Windows, p.Errors)
	p.Data = data
	s.Render(w, r, "blacklist_number", status, p)
}

// prefixField renames the field of a validation error of a form whose
// inputs carry a prefix ("flag.reason"), for the fields named.
func prefixField(err error, prefix string, fields ...string) {
	if inv, ok := fault.AsInvalid(err); ok && slices.Contains(fields, inv.Field) {
		inv.Field = prefix + inv.Field
	}
}

// blStatusLink is the page of a number after a change: by the number typed,
// else by the one answered if it is not masked.
func blStatusLink(typed string, e crmapp.Entry) string {
	switch {
	case typed != "":
		return web.LinkWith("/blacklist/status", "number", typed)
	case !e.NumberMasked && e.Number != "":
		return web.LinkWith("/blacklist/status", "number", e.Number)
	case e.Key != "" && (e.Listed || e.Flags > 0):
		return "/blacklist/" + e.Key
	}
	return "/blacklist"
}

// blActionFailed shows a failed action again on the page it came from: the
// number's page (the form's "back" is "number") or the list.
func (s *Pages) blActionFailed(w http.ResponseWriter, r *http.Request, p *web.Page, err error, windows []web.WindowRow, fields ...string) {
	status := s.FailedOn(p, err, "admin", fields...)
	if p.Value("back") == "number" {
		t := crmapp.Target{Number: p.Value("typed")}
		if t.Number == "" {
			t.Key = strings.TrimPrefix(p.Value("name"), "blacklist/")
		}
		s.showEntry(w, r, p, t, p.Value("typed"), windows, status)
		return
	}
	s.showBlacklist(w, r, p, status)
}

// blacklistFlag reports a number as a nuisance caller; at the threshold
// of distinct users it is listed.
func (s *Pages) blacklistFlag(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "blacklist", "blacklist.title")
	if !web.ReadForm(w, r, p, 8<<10) {
		s.showBlacklist(w, r, p, http.StatusRequestEntityTooLarge)
		return
	}
	number := p.Value("flag.number")
	e, err := s.cfg.Blacklist.Flag(r.Context(), web.CallerOf(r), number, p.Value("flag.reason"))
	if err != nil {
		prefixField(err, "flag.", "number", "reason")
		s.blActionFailed(w, r, p, err, nil, "flag.number", "flag.reason")
		return
	}
	msg := p.N("blacklist.flagged", e.Threshold, e.Flags)
	if e.Listed {
		msg = p.T("blacklist.flagged_listed")
	}
	web.Redirect(w, r, blStatusLink(number, e), msg)
}

// blacklistAdd lists a number directly, with a policy and time windows
// (or changes those of a listed number).
func (s *Pages) blacklistAdd(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "blacklist", "blacklist.title")
	if !web.ReadForm(w, r, p, 64<<10) {
		s.showBlacklist(w, r, p, http.StatusRequestEntityTooLarge)
		return
	}
	rows := web.ReadWindows(p.Form, "start", "end")
	req := crmapp.Listing{Number: p.Value("list.number"), Reason: p.Value("list.reason"), Policy: policyOf(p.Value("list.policy"))}
	if len(rows) > 0 {
		req.Windows.TimeZone = p.Value("windows.time_zone")
		for _, row := range rows {
			req.Windows.Windows = append(req.Windows.Windows, crmapp.Window{Days: row.ISODays(), Start: row.Start, End: row.End})
		}
	}
	e, err := s.cfg.Blacklist.List(r.Context(), web.CallerOf(r), req)
	if err != nil {
		prefixField(err, "list.", "number", "reason", "policy")
		s.blActionFailed(w, r, p, err, rows, "list.number", "list.reason", "list.policy", "windows*")
		return
	}
	web.Redirect(w, r, blStatusLink(req.Number, e), p.T("blacklist.listed_done"))
}

// blacklistRemove un-blacklists a number, with a reason.
func (s *Pages) blacklistRemove(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "blacklist", "blacklist.title")
	if !web.ReadForm(w, r, p, 8<<10) {
		s.showBlacklist(w, r, p, http.StatusRequestEntityTooLarge)
		return
	}
	t := crmapp.Target{Key: strings.TrimPrefix(p.Value("name"), "blacklist/")}
	if t.Key == "" {
		t.Number = p.Value("typed")
	}
	e, err := s.cfg.Blacklist.Unlist(r.Context(), web.CallerOf(r), t, p.Value("unlist.reason"))
	if err != nil {
		prefixField(err, "unlist.", "reason")
		s.blActionFailed(w, r, p, err, nil, "unlist.reason")
		return
	}
	// Once nothing counts against it, the number leaves the list and its
	// key no longer finds it: link by number when known.
	web.Redirect(w, r, blStatusLink(p.Value("typed"), e), p.T("blacklist.unlisted_done"))
}
