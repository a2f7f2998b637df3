package web

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	accessv1 "branchline/gen/branchline/access/v1"
)

// permScopes are the data scopes in the role editor, narrowest first.
var permScopes = enumNames[accessv1.Scope]{
	{"own", accessv1.Scope_SCOPE_OWN},
	{"department", accessv1.Scope_SCOPE_DEPARTMENT},
	{"all", accessv1.Scope_SCOPE_ALL},
}

// permRow is one permission of the role editor.
type permRow struct {
	Perm        string
	Label       string
	Description string
	Scoped      bool
	Checked     bool
	Scope       string
}

// permLabel translates a permission's name; a permission this version's
// catalog does not know shows as its name.
func permLabel(p *Page, perm string) string {
	if t := p.T("admin.perm." + perm); t != "admin.perm."+perm {
		return t
	}
	return perm
}

// roleView is a role in the list.
type roleView struct {
	ID          string
	Label       string
	Description string
	TimeZone    string
	Perms       []string // "label (scope)"
	Windows     []string
}

type rolesData struct {
	adminPage
	Roles []roleView
}

type roleFormData struct {
	adminPage
	ID      string // "" for a new role
	Perms   []permRow
	Windows []windowRow
	Zones   []string
	Scopes  []string
}

// roleTimeZones are offered in the role editor; any IANA zone is accepted.
var roleTimeZones = []string{"Asia/Shanghai", "Asia/Hong_Kong", "Asia/Macau", "Asia/Taipei", "Asia/Urumqi", "Asia/Singapore", "Asia/Tokyo", "UTC"}

func (s *Server) roleList(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.roles.title")
	roles, _, err := s.roles(r.Context())
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	data := rolesData{adminPage: adminNav(p, "roles")}
	for _, role := range roles {
		v := roleView{ID: strings.TrimPrefix(role.GetName(), "roles/"), Label: role.GetDisplayName(), Description: role.GetDescription(), TimeZone: role.GetTimeZone()}
		for _, pm := range role.GetPermissions() {
			v.Perms = append(v.Perms, permLabel(p, pm.GetPermission())+" · "+p.T("admin.scope."+permScopes.name(pm.GetScope())))
		}
		for _, tw := range role.GetWindows() {
			v.Windows = append(v.Windows, windowText(p, tw.GetDays(), tw.GetStartTime(), tw.GetEndTime()))
		}
		data.Roles = append(data.Roles, v)
	}
	p.Data = data
	s.render(w, r, "admin_roles", http.StatusOK, p)
}

// roleForm is what the role editor shows and posts.
type roleForm struct {
	perms   []*accessv1.Permission
	windows []windowRow
}

// readRole reads the posted role editor.
func readRole(p *Page) roleForm {
	var f roleForm
	for _, perm := range p.Form["perm"] {
		sc := permScopes.value(p.Value("scope." + perm))
		if sc == accessv1.Scope_SCOPE_UNSPECIFIED {
			sc = accessv1.Scope_SCOPE_ALL
		}
		f.perms = append(f.perms, &accessv1.Permission{Permission: perm, Scope: sc})
	}
	f.windows = readWindows(p.Form, "start_time", "end_time")
	return f
}

func (f roleForm) protoWindows() []*accessv1.TimeWindow {
	var out []*accessv1.TimeWindow
	for _, w := range f.windows {
		out = append(out, &accessv1.TimeWindow{Days: w.isoDays(), StartTime: w.Start, EndTime: w.End})
	}
	return out
}

// showRoleForm renders the role editor with f's permissions and windows.
func (s *Server) showRoleForm(w http.ResponseWriter, r *http.Request, p *Page, id string, f roleForm, status int) {
	resp, err := s.cfg.Access.ListPermissions(r.Context(), connect.NewRequest(&accessv1.ListPermissionsRequest{}))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	data := roleFormData{adminPage: adminNav(p, "roles"), ID: id, Zones: roleTimeZones, Scopes: permScopes.names()}
	for _, info := range resp.Msg.GetPermissions() {
		row := permRow{Perm: info.GetPermission(), Label: permLabel(p, info.GetPermission()), Scoped: info.GetScoped(), Scope: "all"}
		if t := p.T("admin.permdesc." + row.Perm); t != "admin.permdesc."+row.Perm {
			row.Description = t
		} else {
			row.Description = info.GetDescription()
		}
		for _, pm := range f.perms {
			if pm.GetPermission() == row.Perm {
				row.Checked, row.Scope = true, permScopes.name(pm.GetScope())
			}
		}
		data.Perms = append(data.Perms, row)
	}
	data.Windows = withBlankRows(slices.Clone(f.windows))
	windowErrors(data.Windows, p.Errors)
	p.Data = data
	s.render(w, r, "admin_role", status, p)
}

func (s *Server) roleNew(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.roles.new")
	s.showRoleForm(w, r, p, "", roleForm{}, http.StatusOK)
}

// roleFields are the inputs of the role editor that errors may name.
var roleFields = []string{"display_name", "description", "time_zone", "windows*"}

func (s *Server) roleCreate(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.roles.new")
	if !readAdminForm(w, r, p, 64<<10) {
		s.showRoleForm(w, r, p, "", roleForm{}, http.StatusRequestEntityTooLarge)
		return
	}
	f := readRole(p)
	resp, err := s.cfg.Access.CreateRole(apiCtx(r), connect.NewRequest(&accessv1.CreateRoleRequest{Role: &accessv1.Role{
		DisplayName: p.Value("display_name"), Description: p.Value("description"), TimeZone: p.Value("time_zone"),
		Windows: f.protoWindows(), Permissions: f.perms,
	}}))
	if err != nil {
		s.showRoleForm(w, r, p, "", f, s.formFailed(p, err, roleFields...))
		return
	}
	redirect(w, r, "/admin/roles", p.T("admin.roles.created", resp.Msg.GetDisplayName()))
}

func (s *Server) role(ctx context.Context, id string) (*accessv1.Role, error) {
	roles, _, err := s.roles(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(roles, func(r *accessv1.Role) bool { return r.GetName() == "roles/"+id })
	if i < 0 {
		return nil, errNoSuchPage
	}
	return roles[i], nil
}

func (s *Server) roleEdit(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.roles.edit")
	role, err := s.role(r.Context(), r.PathValue("id"))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	p.Form.Set("display_name", role.GetDisplayName())
	p.Form.Set("description", role.GetDescription())
	p.Form.Set("time_zone", role.GetTimeZone())
	f := roleForm{perms: role.GetPermissions()}
	for i, tw := range role.GetWindows() {
		f.windows = append(f.windows, newWindowRow(i, tw.GetDays(), tw.GetStartTime(), tw.GetEndTime()))
	}
	s.showRoleForm(w, r, p, r.PathValue("id"), f, http.StatusOK)
}

// roleUpdate writes the parts of the role that differ from what this node
// holds now, so that an unchanged part does not undo another branch's
// concurrent change to it.
func (s *Server) roleUpdate(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.roles.edit")
	id := r.PathValue("id")
	role, err := s.role(r.Context(), id)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	if !readAdminForm(w, r, p, 64<<10) {
		s.showRoleForm(w, r, p, id, roleForm{perms: role.GetPermissions()}, http.StatusRequestEntityTooLarge)
		return
	}
	f := readRole(p)
	in := &accessv1.Role{
		Name: role.GetName(), DisplayName: p.Value("display_name"), Description: p.Value("description"),
		TimeZone: p.Value("time_zone"), Windows: f.protoWindows(), Permissions: f.perms,
	}
	var mask []string
	if in.GetDisplayName() != role.GetDisplayName() {
		mask = append(mask, "display_name")
	}
	if in.GetDescription() != role.GetDescription() {
		mask = append(mask, "description")
	}
	if in.GetTimeZone() != role.GetTimeZone() {
		mask = append(mask, "time_zone")
	}
	if !sameWindows(in.GetWindows(), role.GetWindows()) {
		mask = append(mask, "windows")
	}
	if !samePerms(in.GetPermissions(), role.GetPermissions()) {
		mask = append(mask, "permissions")
	}
	if len(mask) == 0 {
		redirect(w, r, "/admin/roles/"+id, p.T("admin.unchanged"))
		return
	}
	if _, err := s.cfg.Access.UpdateRole(apiCtx(r), connect.NewRequest(&accessv1.UpdateRoleRequest{Role: in, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask}})); err != nil {
		s.showRoleForm(w, r, p, id, f, s.formFailed(p, err, roleFields...))
		return
	}
	redirect(w, r, "/admin/roles", p.T("admin.saved"))
}

func sameWindows(a, b []*accessv1.TimeWindow) bool {
	return slices.EqualFunc(a, b, func(x, y *accessv1.TimeWindow) bool {
		return slices.Equal(x.GetDays(), y.GetDays()) && x.GetStartTime() == y.GetStartTime() && x.GetEndTime() == y.GetEndTime()
	})
}

func samePerms(a, b []*accessv1.Permission) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y *accessv1.Permission) bool {
			return x.GetPermission() == y.GetPermission() && x.GetScope() == y.GetScope()
		}) {
			return false
		}
	}
	return true
}
