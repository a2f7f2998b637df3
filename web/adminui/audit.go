package adminui

import (
	"context"
	"html/template"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/app"
	"branchline/crm/crmapp"
	"branchline/fault"
	"branchline/web"
)

// The audit log page (审计日志): the entries of a range of days (the last
// 30 unless from and to say otherwise), filtered by action and actor,
// searched, newest first or sorted by actor or action, a page at a time
// with the total (accessapp.AuditList).

// auditActions are the actions the filter offers; entries with others
// (recorded by newer versions or other packages) still show.
var auditActions = slices.Concat([]string{
	access.ActionLogin, access.ActionLogout, access.ActionLoginFailed,
	access.ActionUserCreated, access.ActionUserChanged, access.ActionUserDisabled, access.ActionUserEnabled,
	access.ActionPasswordChanged, access.ActionRoleChanged, access.ActionPermissionChanged,
	access.ActionDepartmentChanged, accessapp.ActionBranchNamed, access.ActionTokenCreated, access.ActionTokenRevoked,
	crmapp.ActionCustomerUpdate, "customer.delete", "customer.undelete", "customer.merge", "customer.import", "customer.export",
	crmapp.ActionContactAdd, crmapp.ActionContactUpdate, crmapp.ActionContactRemove, crmapp.ActionNoteAdd,
}, crmapp.MoveActions(), []string{
	crmapp.ActionBlacklistFlag, crmapp.ActionBlacklistList, crmapp.ActionBlacklistUnlist, crmapp.ActionBlacklistParams,
	"sip_auth_failed", // telephony/pbx.AuditAuthFailed: the switch is not a dependency of the pages
})

// auditPageSize is the number of entries a page shows.
const auditPageSize = 50

// auditListSpec is what the audit list sorts and filters by.
var auditListSpec = web.ListSpec{Sorts: accessapp.AuditColumns, DefaultDesc: true, Filters: []string{"action", "actor", "from", "to"}}

// auditView is one entry as the page shows it: a sentence in the reader's
// language — who did what to what — and, for an edit, each value it
// changed with what it was.
type auditView struct {
	Time    time.Time
	Action  string        // translated
	Said    template.HTML // the sentence, the actor and what it was done to marked up
	Changes []string      // "电话由「138****1234」改为「139****5678」"
	Detail  string        // what the entry says in words of its own, when it lists no changes
	Node    string
	Remote  string
}

type auditChoice struct {
	Value, Label string
}

type auditData struct {
	Entries  []auditView
	Actions  []auditChoice
	Filtered bool
	// List is the list's state from the URL; Pager its total and pages;
	// Window the days listed.
	List   web.List
	Pager  web.Pager
	Window string
}

// actionLabel translates an audit action; one the catalog lacks shows as
// recorded.
func actionLabel(p *web.Page, action string) string {
	if p.HasText("admin.audit.action." + action) {
		return p.T("admin.audit.action." + action)
	}
	return action
}

// auditDayStart reads a date input (YYYY-MM-DD) as the start of that day in
// the business zone, which is the zone the page shows times in.
func auditDayStart(field, v string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(time.DateOnly, v, loc)
	if err != nil {
		return time.Time{}, fault.Invalidf(field, "bad_date", "%q is not a date (YYYY-MM-DD)", v)
	}
	return t, nil
}

func (s *Pages) auditList(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "audit", "admin.audit.title")
	l := web.ParseList("/admin/audit", r.URL.Query(), auditListSpec)
	for _, k := range []string{"action", "actor", "from", "to"} {
		p.Form.Set(k, l.Filter(k))
	}
	p.Form.Set("q", l.Text)
	data := &auditData{List: l}
	p.Data = data
	for _, a := range auditActions {
		data.Actions = append(data.Actions, auditChoice{a, actionLabel(p, a)})
	}
	req := accessapp.AuditList{Action: p.Value("action"), Actor: p.Value("actor"), Text: l.Text, Order: l.Order, Limit: auditPageSize}
	data.Filtered = req.Action != "" || req.Actor != "" || p.Value("from") != "" || p.Value("to") != "" || req.Text != ""
	if v := p.Value("from"); v != "" {
		t, err := auditDayStart("from", v, s.Location())
		if err != nil {
			s.Render(w, r, "audit", s.formFailed(p, err, "from"), p)
			return
		}
		req.From = t
	}
	if v := p.Value("to"); v != "" {
		t, err := auditDayStart("to", v, s.Location())
		if err != nil {
			s.Render(w, r, "audit", s.formFailed(p, err, "to"), p)
			return
		}
		// The range includes the last day chosen.
		req.To = t.AddDate(0, 0, 1)
	}
	page, err := s.cfg.Access.AuditList(r.Context(), web.CallerOf(r), req)
	if inv, ok := fault.AsInvalid(err); ok && inv.Field == "page_token" {
		// A page that is no longer there: the first page, saying so.
		req.Cursor, req.Back, req.Last = "", false, false
		p.Errors[""] = p.T("admin.invalid.bad_token")
		page, err = s.cfg.Access.AuditList(r.Context(), web.CallerOf(r), req)
	}
	if err != nil {
		if inv, ok := fault.AsInvalid(err); ok {
			switch inv.Field {
			case "end_time":
				inv.Field = "to"
			case "start_time":
				inv.Field = "from"
			}
		}
		s.Render(w, r, "audit", s.formFailed(p, err, "to", "from", "q"), p)
		return
	}
	data.Window = p.DateText(page.From) + " – " + p.DateText(page.To.Add(-time.Millisecond))
	words := s.auditWords(r, p, page.Items)
	for _, e := range page.Items {
		data.Entries = append(data.Entries, words.view(e))
	}
	data.Pager = l.Pager(page.Total, page.Prev, page.Next)
	s.Render(w, r, "audit", http.StatusOK, p)
}

// targetHref links an entry's target to its page, when it has one.
func targetHref(target string) string {
	kind, id, ok := strings.Cut(target, "/")
	if !ok || id == "" || strings.ContainsAny(id, "/?#") {
		return ""
	}
	switch kind {
	case "users", "roles", "departments":
		return "/admin/" + kind + "/" + id
	case "tokens":
		return "/admin/tokens?revoked=1"
	case "customers":
		return "/customers/" + id
	case "branches":
		return "/admin/branches?branch=" + id
	}
	return ""
}

// resourceRe matches the resource names and bare ids that details of
// administrative changes carry ("assigned roles/01J…", department="01J…").
var resourceRe = regexp.MustCompile(`\b(?:(?:users|roles|departments|tokens)/)?[0-9A-HJKMNP-TV-Z]{26}\b`)

// humanize replaces the ids in an entry's detail with the names of what
// they stand for, where known.
func humanize(detail string, names map[string]string) string {
	return resourceRe.ReplaceAllStringFunc(detail, func(id string) string {
		if n := names[id]; n != "" {
			return n
		}
		for _, kind := range []string{"departments/", "users/", "roles/"} {
			if n := names[kind+id]; n != "" {
				return n
			}
		}
		return id
	})
}

// targetNames names the users, roles, departments and tokens entries
// refer to by id. An auditor who may not administer users sees the ids.
func (s *Pages) targetNames(ctx context.Context, c app.Caller, p *web.Page) map[string]string {
	out := map[string]string{}
	if ts, err := s.cfg.Access.Tokens(ctx, c, "", true); err == nil {
		for _, t := range ts {
			out["tokens/"+t.ID] = t.Name
		}
	}
	if _, names, err := s.userChoices(ctx, c); err == nil {
		for k, v := range names {
			out[k] = v
		}
	}
	if _, roles, err := s.roles(ctx, c, p); err == nil {
		for k, v := range roles {
			out[k] = v
		}
	}
	if tree, err := s.departments(ctx, c, true); err == nil {
		for k, v := range deptLabels(tree) {
			out[k] = v
		}
	}
	return out
}
