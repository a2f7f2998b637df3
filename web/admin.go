package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"branchline/access"
	"branchline/api"
	"branchline/fault"
)

// adminRoutes registers the administration pages: users, roles,
// departments, API tokens, custom fields, parameters and the audit log.
// Each page checks the permission its API calls need before it calls
// them, so that a user without it gets a 403 page rather than a form
// whose every action fails; the API checks again.
func (s *Server) adminRoutes() {
	users := []access.Perm{access.UserAdmin}
	fields := []access.Perm{access.FieldAdmin}
	params := []access.Perm{access.FieldAdmin, access.BlacklistManage}

	s.getPage("/admin/{$}", s.adminHome)

	s.getPage("/admin/users", s.userList, users...)
	s.getPage("/admin/users/new", s.userNew, users...)
	s.postAction("/admin/users", s.userCreate, users...)
	s.getPage("/admin/users/{id}", s.userEdit, users...)
	s.postAction("/admin/users/{id}", s.userUpdate, users...)
	s.postAction("/admin/users/{id}/password", s.userPassword, users...)
	s.postAction("/admin/users/{id}/disable", s.userDisable, users...)
	s.postAction("/admin/users/{id}/enable", s.userEnable, users...)

	s.getPage("/admin/departments", s.departmentList, users...)
	s.postAction("/admin/departments", s.departmentCreate, users...)
	s.getPage("/admin/departments/{id}", s.departmentEdit, users...)
	s.postAction("/admin/departments/{id}", s.departmentUpdate, users...)
	s.postAction("/admin/departments/{id}/retire", s.departmentRetire, users...)

	s.getPage("/admin/roles", s.roleList, users...)
	s.getPage("/admin/roles/new", s.roleNew, users...)
	s.postAction("/admin/roles", s.roleCreate, users...)
	s.getPage("/admin/roles/{id}", s.roleEdit, users...)
	s.postAction("/admin/roles/{id}", s.roleUpdate, users...)

	s.getPage("/admin/tokens", s.tokenList, users...)
	s.postAction("/admin/tokens", s.tokenCreate, users...)
	s.postAction("/admin/tokens/{id}/revoke", s.tokenRevoke, users...)

	s.getPage("/admin/fields", s.fieldList, fields...)
	s.postAction("/admin/fields", s.fieldDefine, fields...)
	s.getPage("/admin/fields/{key}", s.fieldEdit, fields...)
	s.postAction("/admin/fields/{key}", s.fieldUpdate, fields...)
	s.postAction("/admin/fields/{key}/retire", s.fieldRetire, fields...)

	s.getPage("/admin/params", s.paramsPage, params...)
	s.postAction("/admin/params/blacklist", s.paramsBlacklist, access.BlacklistManage)
	s.postAction("/admin/params/levels", s.paramsLevels, access.FieldAdmin)

	s.getPage("/admin/audit", s.auditList, access.AuditRead)
}

// getPage registers a page that needs a login and one of perms (none: any
// logged-in user).
func (s *Server) getPage(path string, h http.HandlerFunc, perms ...access.Perm) {
	s.mux.Handle("GET "+path, s.auth(s.need(h, perms)))
}

// postAction registers a state-changing action: login, CSRF token, and one of
// perms.
func (s *Server) postAction(path string, h http.HandlerFunc, perms ...access.Perm) {
	s.mux.Handle("POST "+path, s.auth(s.csrf(s.need(h, perms))))
}

// need answers 403 with the error page unless the user's grant holds one
// of perms.
func (s *Server) need(next http.HandlerFunc, perms []access.Perm) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := sessionFrom(r.Context()).grant
		if len(perms) == 0 || slices.ContainsFunc(perms, g.Can) {
			next(w, r)
			return
		}
		p := s.page(r, "", "admin.denied")
		s.render(w, r, "error", s.failed(p, errDeniedPage), p)
	})
}

// errNoSuchPage is shown for a path naming nothing.
var errNoSuchPage = fault.ErrNotFound

// apiCtx is the context of an in-process API call: the caller's principal
// (set by auth) and the client's address, which audit entries record.
func apiCtx(r *http.Request) context.Context {
	return api.WithRemoteAddr(r.Context(), remoteHost(r))
}

// navLink is an entry of the administration pages' sub-navigation.
type navLink struct {
	Href, Key string
	On        bool
}

// adminPage is embedded in the data of every administration page.
type adminPage struct {
	Nav []navLink
}

// adminSections are the administration pages in menu order, each with the
// permissions that open it.
var adminSections = []struct {
	name  string
	perms []access.Perm
}{
	{"users", []access.Perm{access.UserAdmin}},
	{"departments", []access.Perm{access.UserAdmin}},
	{"roles", []access.Perm{access.UserAdmin}},
	{"tokens", []access.Perm{access.UserAdmin}},
	{"fields", []access.Perm{access.FieldAdmin}},
	{"params", []access.Perm{access.FieldAdmin, access.BlacklistManage}},
}

// nav returns the sub-navigation for the user of p, with section on.
func adminNav(p *Page, section string) adminPage {
	var out adminPage
	for _, sec := range adminSections {
		if slices.ContainsFunc(sec.perms, p.Grant.Can) {
			out.Nav = append(out.Nav, navLink{Href: "/admin/" + sec.name, Key: "admin.nav." + sec.name, On: sec.name == section})
		}
	}
	return out
}

// adminHome sends the user to the first administration page they may use.
func (s *Server) adminHome(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "nav.admin")
	if nav := adminNav(p, "").Nav; len(nav) > 0 {
		http.Redirect(w, r, nav[0].Href, http.StatusSeeOther)
		return
	}
	s.render(w, r, "error", s.failed(p, errDeniedPage), p)
}

// readAdminForm parses a posted form of at most max bytes into p.Form; false
// means it was too large, and p carries the message.
func readAdminForm(w http.ResponseWriter, r *http.Request, p *Page, max int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, max)
	if err := r.ParseForm(); err != nil {
		p.Errors[""] = p.T("form.too_large")
		return false
	}
	for k, vs := range r.PostForm {
		if k == csrfField {
			continue
		}
		for _, v := range vs {
			p.Form.Add(k, strings.TrimSpace(v))
		}
	}
	return true
}

// formFailed is failed for the administration forms. It translates the
// validation codes of users, roles, departments, parameters and the
// blacklist (admin.invalid.<code>, so that they cannot clash with the
// customer pages' catalog), and shows the message of a field the form has
// no input for at the top of the form. fields are the form's inputs; a
// name ending in "*" stands for every field it prefixes.
func (s *Server) formFailed(p *Page, err error, fields ...string) int {
	status := s.failed(p, err)
	inv, ok := fault.AsInvalid(err)
	if !ok {
		return status
	}
	msg := p.Errors[inv.Field]
	if t := p.T("admin.invalid." + inv.Code); t != "admin.invalid."+inv.Code {
		msg = t
	}
	known := slices.ContainsFunc(fields, func(f string) bool {
		if pre, ok := strings.CutSuffix(f, "*"); ok {
			return strings.HasPrefix(inv.Field, pre)
		}
		return f == inv.Field
	})
	if known {
		p.Errors[inv.Field] = msg
		return status
	}
	delete(p.Errors, inv.Field)
	p.Errors[""] = msg
	return status
}

// enumNames maps the values of an API enum to the names forms and message
// keys use, in the order forms offer them.
type enumNames[E comparable] []struct {
	name  string
	value E
}

// name returns v's name, "" for a value the list lacks.
func (n enumNames[E]) name(v E) string {
	for _, x := range n {
		if x.value == v {
			return x.name
		}
	}
	return ""
}

// value returns the value named s, the zero value (unspecified) for an
// unknown name.
func (n enumNames[E]) value(s string) E {
	for _, x := range n {
		if x.name == s {
			return x.value
		}
	}
	var zero E
	return zero
}

// names lists the names, for a select.
func (n enumNames[E]) names() []string {
	out := make([]string, len(n))
	for i, x := range n {
		out[i] = x.name
	}
	return out
}

// linkWith builds a link with a query string from pairs of names and values,
// leaving out empty values.
func linkWith(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}
