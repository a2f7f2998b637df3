// Package adminui is the administration pages of a node's web UI: users,
// departments, roles, branch names, API tokens, custom fields, system
// parameters and the audit log, each a thin translation between a form and a use case of
// access/accessapp or crm/crmapp, as the signed-in user. Each page also
// checks the permission its use cases need before it shows a form, so
// that a user without it gets a 403 page rather than a form whose every
// action fails; the use cases check again.
package adminui

import (
	"embed"
	"net/http"
	"slices"
	"strings"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/crm/crmapp"
	"branchline/fault"
	"branchline/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// Config is what the administration pages call.
type Config struct {
	Access    *accessapp.Admin
	Customers *crmapp.Customers // custom fields
	Blacklist *crmapp.Blacklist // the blacklist's parameters
	Members   *crmapp.Members   // the member level rules
}

// Pages are the administration pages.
type Pages struct {
	*web.Server
	cfg Config
}

// New returns the administration pages, to mount on a web.Server.
func New(cfg Config) *Pages { return &Pages{cfg: cfg} }

// Mount implements web.Pages.
func (s *Pages) Mount(k *web.Server) error {
	s.Server = k
	if err := k.Templates(templateFS); err != nil {
		return err
	}
	s.routes()
	return nil
}

// routes registers the administration pages.
func (s *Pages) routes() {
	users := []access.Perm{access.UserAdmin}
	fields := []access.Perm{access.FieldAdmin}
	params := []access.Perm{access.FieldAdmin, access.BlacklistManage}

	s.Page("/admin/{$}", s.adminHome)
	s.Home(web.HomeAdmin, "/admin/", access.UserAdmin, access.FieldAdmin, access.AuditRead)

	s.Page("/admin/users", s.userList, users...)
	s.Page("/admin/users/new", s.userNew, users...)
	s.Action("/admin/users", s.userCreate, users...)
	s.Page("/admin/users/{id}", s.userEdit, users...)
	s.Action("/admin/users/{id}", s.userUpdate, users...)
	s.Action("/admin/users/{id}/password", s.userPassword, users...)
	s.Action("/admin/users/{id}/disable", s.userDisable, users...)
	s.Action("/admin/users/{id}/enable", s.userEnable, users...)

	s.Page("/admin/departments", s.departmentList, users...)
	s.Action("/admin/departments", s.departmentCreate, users...)
	s.Page("/admin/departments/{id}", s.departmentEdit, users...)
	s.Action("/admin/departments/{id}", s.departmentUpdate, users...)
	s.Action("/admin/departments/{id}/retire", s.departmentRetire, users...)

	s.Page("/admin/roles", s.roleList, users...)
	s.Page("/admin/roles/new", s.roleNew, users...)
	s.Action("/admin/roles", s.roleCreate, users...)
	s.Page("/admin/roles/{id}", s.roleEdit, users...)
	s.Action("/admin/roles/{id}", s.roleUpdate, users...)

	s.Page("/admin/branches", s.branchList, users...)
	s.Action("/admin/branches", s.branchName, users...)

	s.Page("/admin/tokens", s.tokenList, users...)
	s.Action("/admin/tokens", s.tokenCreate, users...)
	s.Action("/admin/tokens/{id}/revoke", s.tokenRevoke, users...)

	s.Page("/admin/fields", s.fieldList, fields...)
	s.Action("/admin/fields", s.fieldDefine, fields...)
	s.Page("/admin/fields/{key}", s.fieldEdit, fields...)
	s.Action("/admin/fields/{key}", s.fieldUpdate, fields...)
	s.Action("/admin/fields/{key}/retire", s.fieldRetire, fields...)

	s.Page("/admin/params", s.paramsPage, params...)
	s.Action("/admin/params/blacklist", s.paramsBlacklist, access.BlacklistManage)
	s.Action("/admin/params/levels", s.paramsLevels, access.FieldAdmin)

	s.Page("/admin/audit", s.auditList, access.AuditRead)
}

// errNoSuchPage is shown for a path naming nothing.
var errNoSuchPage = fault.ErrNotFound

// The forms name users, departments and roles as the API does
// ("users/{id}"); the use cases take ids.
const (
	userRes = "users/"
	deptRes = "departments/"
	roleRes = "roles/"
)

// idOf is the id a form's resource name names.
func idOf(prefix, name string) string { return strings.TrimPrefix(name, prefix) }

// nameOf is the resource name of id, "" for none.
func nameOf(prefix, id string) string {
	if id == "" {
		return ""
	}
	return prefix + id
}

// adminPage is embedded in the data of every administration page.
type adminPage struct {
	Nav []web.NavLink
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
	{"branches", []access.Perm{access.UserAdmin}},
	{"tokens", []access.Perm{access.UserAdmin}},
	{"fields", []access.Perm{access.FieldAdmin}},
	{"params", []access.Perm{access.FieldAdmin, access.BlacklistManage}},
}

// adminNav returns the sub-navigation for the user of p, with section on.
func adminNav(p *web.Page, section string) adminPage {
	var out adminPage
	for _, sec := range adminSections {
		if slices.ContainsFunc(sec.perms, p.Grant.Can) {
			out.Nav = append(out.Nav, web.NavLink{Href: "/admin/" + sec.name, Key: "admin.nav." + sec.name, On: sec.name == section})
		}
	}
	return out
}

// adminHome sends the user to the first administration page they may use.
func (s *Pages) adminHome(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "nav.admin")
	if nav := adminNav(p, "").Nav; len(nav) > 0 {
		http.Redirect(w, r, nav[0].Href, http.StatusSeeOther)
		return
	}
	s.Render(w, r, "error", s.Failed(p, fault.ErrDenied), p)
}

// formFailed is Failed for the administration forms, whose validation
// codes translate under admin.invalid.<code> (web.Server.FailedOn).
func (s *Pages) formFailed(p *web.Page, err error, fields ...string) int {
	return s.FailedOn(p, err, "admin", fields...)
}
