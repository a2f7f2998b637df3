package web

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"branchline/access"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
)

// The blacklist pages (黑名单): the listed numbers, one number's status and
// history, flagging a number (any agent), and blacklisting and
// un-blacklisting directly (administrators).
//
// Numbers are masked for users who may not see them, and the list links
// to a number by its entry key. Flag and Blacklist take a number, not a
// key, so their forms carry the number the user typed; a user who came
// from the masked list types it again.

// blacklistRoutes registers the blacklist pages.
func (s *Server) blacklistRoutes() {
	s.getPage("/blacklist", s.blacklistPage, access.BlacklistFlag, access.BlacklistManage, access.CustomerRead)
	s.getPage("/blacklist/status", s.blacklistStatus, access.CustomerRead)
	s.getPage("/blacklist/{key}", s.blacklistEntry, access.CustomerRead)
	s.postAction("/blacklist/flag", s.blacklistFlag, access.BlacklistFlag)
	s.postAction("/blacklist/list", s.blacklistAdd, access.BlacklistManage)
	s.postAction("/blacklist/unlist", s.blacklistRemove, access.BlacklistManage)
}

// policies are the policies a form offers; "" is the default policy.
var policies = enumNames[crmv1.BlacklistPolicy]{
	{"warn", crmv1.BlacklistPolicy_BLACKLIST_POLICY_WARN},
	{"reject", crmv1.BlacklistPolicy_BLACKLIST_POLICY_REJECT},
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

func viewBlEntry(p *Page, e *crmv1.BlacklistEntry) blEntryView {
	v := blEntryView{
		Key: strings.TrimPrefix(e.GetName(), "blacklist/"), Number: displayPhone(e.GetNumber()), Masked: e.GetNumberMasked(),
		Listed: e.GetListed(), Direct: e.GetDirect(), Active: e.GetActive(), Rejects: e.GetRejects(),
		Flags: int(e.GetFlags()), Threshold: int(e.GetThreshold()), Policy: cmp.Or(policies.name(e.GetPolicy()), "default"), Reason: e.GetReason(),
		TimeZone:   e.GetWindows().GetTimeZone(),
		UnlistedBy: e.GetUnlistedBy(), UnlistReason: e.GetUnlistReason(), UnlistTime: tsTime(e.GetUnlistTime()),
	}
	switch {
	case v.Listed:
		v.Status, v.StatusClass = p.T("blacklist.is_listed"), "red"
	case v.Flags > 0:
		v.Status, v.StatusClass = p.T("blacklist.is_flagged", v.Flags, v.Threshold), "amber"
	default:
		v.Status, v.StatusClass = p.T("blacklist.not_listed"), "green"
	}
	for _, w := range e.GetWindows().GetWindows() {
		v.Windows = append(v.Windows, windowText(p, w.GetDays(), w.GetStart(), w.GetEnd()))
	}
	for _, h := range e.GetHistory() {
		v.History = append(v.History, blHistoryView{Time: tsTime(h.GetTime()), Action: h.GetAction(), Actor: h.GetActor(), Reason: h.GetReason(), Origin: h.GetOrigin()})
	}
	return v
}

type blacklistData struct {
	Entries       []blEntryView
	Flagged       bool // numbers flagged below the threshold are listed too
	Next          string
	Params        *crmv1.BlacklistParams
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
	Windows  []windowRow
}

func (s *Server) blacklistPage(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "blacklist", "blacklist.title")
	s.showBlacklist(w, r, p, http.StatusOK)
}

// showBlacklist renders the list page. Its blacklist form has no time
// windows: those are set on a number's page.
func (s *Server) showBlacklist(w http.ResponseWriter, r *http.Request, p *Page, status int) {
	ctx := r.Context()
	q := r.URL.Query()
	data := &blacklistData{Flagged: q.Get("flagged") == "1", Policies: policies.names(), CanRead: p.Grant.Can(access.CustomerRead)}
	p.Data = data
	if data.CanRead {
		resp, err := s.cfg.Blacklist.List(ctx, connect.NewRequest(&crmv1.ListBlacklistRequest{PageSize: 50, PageToken: q.Get("after"), IncludeFlagged: data.Flagged}))
		if err != nil {
			s.render(w, r, "error", s.failed(p, err), p)
			return
		}
		for _, e := range resp.Msg.GetEntries() {
			data.Entries = append(data.Entries, viewBlEntry(p, e))
		}
		if next := resp.Msg.GetNextPageToken(); next != "" {
			data.Next = linkWith("/blacklist", "flagged", q.Get("flagged"), "after", next)
		}
		params, err := s.cfg.Blacklist.GetParams(ctx, connect.NewRequest(&crmv1.GetBlacklistParamsRequest{}))
		if err != nil {
			s.render(w, r, "error", s.failed(p, err), p)
			return
		}
		data.Params, data.DefaultPolicy = params.Msg, policies.name(params.Msg.GetDefaultPolicy())
	}
	s.render(w, r, "blacklist", status, p)
}

// blacklistStatus shows the number typed in the search box.
func (s *Server) blacklistStatus(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "blacklist", "blacklist.status")
	number := strings.TrimSpace(r.URL.Query().Get("number"))
	if number == "" {
		http.Redirect(w, r, "/blacklist", http.StatusSeeOther)
		return
	}
	p.Form.Set("q", number)
	s.showEntry(w, r, p, &crmv1.GetBlacklistStatusRequest{Number: number}, number, nil, http.StatusOK)
}

// blacklistEntry shows a number by its entry key, as the list links it.
func (s *Server) blacklistEntry(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "blacklist", "blacklist.status")
	s.showEntry(w, r, p, &crmv1.GetBlacklistStatusRequest{Name: "blacklist/" + r.PathValue("key")}, "", nil, http.StatusOK)
}

// showEntry renders a number's status page; typed is the number as the
// user typed it ("" if unknown), windows the posted blacklist form rows.
func (s *Server) showEntry(w http.ResponseWriter, r *http.Request, p *Page, req *crmv1.GetBlacklistStatusRequest, typed string, windows []windowRow, status int) {
	resp, err := s.cfg.Blacklist.GetStatus(r.Context(), connect.NewRequest(req))
	if err != nil {
		if inv, ok := fault.AsInvalid(err); ok && typed != "" {
			// A number that does not parse: say so at the search box.
			inv.Field = "q"
			s.showBlacklist(w, r, p, s.formFailed(p, err, "q"))
			return
		}
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	e := resp.Msg
	if typed == "" && !e.GetNumberMasked() {
		typed = e.GetNumber()
	}
	data := &blEntryData{Entry: viewBlEntry(p, e), Typed: typed, Policies: policies.names()}
	p.Title = data.Entry.Number
	if windows == nil {
		for i, win := range e.GetWindows().GetWindows() {
			windows = append(windows, newWindowRow(i, win.GetDays(), win.GetStart(), win.GetEnd()))
		}
		// A listed number's form starts from its policy in force; a new
		// listing from the default policy.
		if _, posted := p.Form["list.policy"]; !posted && e.GetListed() {
			p.Form.Set("list.policy", policies.name(e.GetPolicy()))
			p.Form.Set("windows.time_zone", e.GetWindows().GetTimeZone())
		}
	}
	data.Windows = withBlankRows(slices.Clone(windows))
	windowErrors(data.Windows, p.Errors)
	p.Data = data
	s.render(w, r, "blacklist_number", status, p)
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
func blStatusLink(typed string, e *crmv1.BlacklistEntry) string {
	switch {
	case typed != "":
		return linkWith("/blacklist/status", "number", typed)
	case e != nil && !e.GetNumberMasked():
		return linkWith("/blacklist/status", "number", e.GetNumber())
	case e != nil && e.GetName() != "" && (e.GetListed() || e.GetFlags() > 0):
		return "/" + e.GetName()
	}
	return "/blacklist"
}

// blActionFailed shows a failed action again on the page it came from: the
// number's page (the form's "back" is "number") or the list.
func (s *Server) blActionFailed(w http.ResponseWriter, r *http.Request, p *Page, err error, windows []windowRow, fields ...string) {
	status := s.formFailed(p, err, fields...)
	if p.Value("back") == "number" {
		req := &crmv1.GetBlacklistStatusRequest{Number: p.Value("typed")}
		if req.Number == "" {
			req.Name = p.Value("name")
		}
		s.showEntry(w, r, p, req, p.Value("typed"), windows, status)
		return
	}
	s.showBlacklist(w, r, p, status)
}

// blacklistFlag reports a number as a nuisance caller; at the threshold
// of distinct users it is listed.
func (s *Server) blacklistFlag(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "blacklist", "blacklist.title")
	if !readAdminForm(w, r, p, 8<<10) {
		s.showBlacklist(w, r, p, http.StatusRequestEntityTooLarge)
		return
	}
	number := p.Value("flag.number")
	resp, err := s.cfg.Blacklist.Flag(apiCtx(r), connect.NewRequest(&crmv1.FlagNumberRequest{Number: number, Reason: p.Value("flag.reason")}))
	if err != nil {
		prefixField(err, "flag.", "number", "reason")
		s.blActionFailed(w, r, p, err, nil, "flag.number", "flag.reason")
		return
	}
	msg := p.T("blacklist.flagged", resp.Msg.GetFlags(), resp.Msg.GetThreshold())
	if resp.Msg.GetListed() {
		msg = p.T("blacklist.flagged_listed")
	}
	redirect(w, r, blStatusLink(number, resp.Msg), msg)
}

// blacklistAdd lists a number directly, with a policy and time windows
// (or changes those of a listed number).
func (s *Server) blacklistAdd(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "blacklist", "blacklist.title")
	if !readAdminForm(w, r, p, 64<<10) {
		s.showBlacklist(w, r, p, http.StatusRequestEntityTooLarge)
		return
	}
	rows := readWindows(p.Form, "start", "end")
	req := &crmv1.BlacklistNumberRequest{Number: p.Value("list.number"), Reason: p.Value("list.reason"), Policy: policies.value(p.Value("list.policy"))}
	if len(rows) > 0 {
		req.Windows = &crmv1.BlacklistWindows{TimeZone: p.Value("windows.time_zone")}
		for _, row := range rows {
			req.Windows.Windows = append(req.Windows.Windows, &crmv1.BlacklistWindow{Days: row.isoDays(), Start: row.Start, End: row.End})
		}
	}
	resp, err := s.cfg.Blacklist.Blacklist(apiCtx(r), connect.NewRequest(req))
	if err != nil {
		prefixField(err, "list.", "number", "reason", "policy")
		s.blActionFailed(w, r, p, err, rows, "list.number", "list.reason", "list.policy", "windows*")
		return
	}
	redirect(w, r, blStatusLink(req.Number, resp.Msg), p.T("blacklist.listed_done"))
}

// blacklistRemove un-blacklists a number, with a reason.
func (s *Server) blacklistRemove(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "blacklist", "blacklist.title")
	if !readAdminForm(w, r, p, 8<<10) {
		s.showBlacklist(w, r, p, http.StatusRequestEntityTooLarge)
		return
	}
	req := &crmv1.UnblacklistNumberRequest{Name: p.Value("name"), Reason: p.Value("unlist.reason")}
	if req.Name == "" {
		req.Number = p.Value("typed")
	}
	resp, err := s.cfg.Blacklist.Unblacklist(apiCtx(r), connect.NewRequest(req))
	if err != nil {
		prefixField(err, "unlist.", "reason")
		s.blActionFailed(w, r, p, err, nil, "unlist.reason")
		return
	}
	// Once nothing counts against it, the number leaves the list and its
	// key no longer finds it: link by number when known.
	redirect(w, r, blStatusLink(p.Value("typed"), resp.Msg), p.T("blacklist.unlisted_done"))
}
