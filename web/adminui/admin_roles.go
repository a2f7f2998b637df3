package adminui

import (
	"net/http"
	"slices"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/web"
)

// permScopes are the data scopes in the role editor, narrowest first.
var permScopes = web.EnumNames[access.Scope]{
	{"own", access.ScopeOwn},
	{"department", access.ScopeDepartment},
	{"all", access.ScopeAll},
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
func permLabel(p *web.Page, perm string) string {
	if t := p.T("admin.perm." + perm); t != "admin.perm."+perm {
		return t
	}
	return perm
}

// roleLabel is a role's name as p's reader sees it: a default role that
// still has its default name shows the catalog's name for it in the
// reader's language ("admin.role.<key>"); any other role, or a default
// one an operator renamed, its own name. p nil: the stored name.
func roleLabel(p *web.Page, r *access.Role) string {
	if d, ok := access.DefaultRoleOf(r.ID); ok && p != nil && r.Name == d.Name {
		if t := p.T("admin.role." + d.Key); t != "admin.role."+d.Key {
			return t
		}
	}
	return r.Name
}

// roleAbout is roleLabel for the role's description
// ("admin.role.<key>.about").
func roleAbout(p *web.Page, r *access.Role) string {
	if d, ok := access.DefaultRoleOf(r.ID); ok && p != nil && r.Description == d.Description {
		if k := "admin.role." + d.Key + ".about"; p.T(k) != k {
			return p.T(k)
		}
	}
	return r.Description
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

// permArea is one area's permissions in the role editor, with a sentence
// saying what the area covers.
type permArea struct {
	Area  string
	Label string
	About string
	Perms []permRow
}

type roleFormData struct {
	adminPage
	ID      string // "" for a new role
	Areas   []permArea
	Windows []web.WindowRow
	Zones   []string
	Scopes  []string
}

// roleTimeZones are offered in the role editor; any IANA zone is accepted.
var roleTimeZones = []string{"Asia/Shanghai", "Asia/Hong_Kong", "Asia/Macau", "Asia/Taipei", "Asia/Urumqi", "Asia/Singapore", "Asia/Tokyo", "UTC"}

func (s *Pages) roleList(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.roles.title")
	roles, _, err := s.roles(r.Context(), web.CallerOf(r), nil)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	data := rolesData{adminPage: adminNav(p, "roles")}
	for _, role := range roles {
		in := roleInput(role)
		v := roleView{ID: role.ID, Label: roleLabel(p, role), Description: roleAbout(p, role), TimeZone: role.TimeZone}
		for _, pm := range in.Permissions {
			v.Perms = append(v.Perms, permLabel(p, pm.Perm)+" · "+p.T("admin.scope."+permScopes.Name(pm.Scope)))
		}
		for _, tw := range in.Windows {
			v.Windows = append(v.Windows, web.WindowText(p, isoDays(tw.Days), tw.Start, tw.End))
		}
		data.Roles = append(data.Roles, v)
	}
	p.Data = data
	s.Render(w, r, "admin_roles", http.StatusOK, p)
}

// roleInput is a stored role as the editor and the use cases write it.
func roleInput(r *access.Role) accessapp.RoleInput {
	in := accessapp.RoleInput{ID: r.ID, Name: r.Name, Description: r.Description, TimeZone: r.TimeZone}
	for _, w := range r.Windows {
		in.Windows = append(in.Windows, accessapp.WindowInput{Days: w.ISODays(), Start: access.FormatClock(w.Start), End: access.FormatClock(w.End)})
	}
	for _, pm := range access.AllPerms {
		if sc, ok := r.Perms[pm]; ok {
			in.Permissions = append(in.Permissions, accessapp.PermInput{Perm: string(pm), Scope: sc})
		}
	}
	return in
}

// isoDays converts days for the window editor.
func isoDays(days []int) []int32 {
	out := make([]int32, len(days))
	for i, d := range days {
		out[i] = int32(d)
	}
	return out
}

// roleForm is what the role editor shows and posts.
type roleForm struct {
	perms   []accessapp.PermInput
	windows []web.WindowRow
}

// readRole reads the posted role editor.
func readRole(p *web.Page) roleForm {
	var f roleForm
	for _, perm := range p.Form["perm"] {
		sc := permScopes.Value(p.Value("scope." + perm))
		if sc == access.ScopeNone {
			sc = access.ScopeAll
		}
		f.perms = append(f.perms, accessapp.PermInput{Perm: perm, Scope: sc})
	}
	f.windows = web.ReadWindows(p.Form, "start_time", "end_time")
	return f
}

// input is the role the editor posted.
func (f roleForm) input(p *web.Page, id string) *accessapp.RoleInput {
	in := &accessapp.RoleInput{ID: id, Name: p.Value("display_name"), Description: p.Value("description"),
		TimeZone: p.Value("time_zone"), Permissions: f.perms}
	for _, w := range f.windows {
		wi := accessapp.WindowInput{Start: w.Start, End: w.End}
		for _, d := range w.ISODays() {
			wi.Days = append(wi.Days, int(d))
		}
		in.Windows = append(in.Windows, wi)
	}
	return in
}

// showRoleForm renders the role editor with f's permissions and windows.
func (s *Pages) showRoleForm(w http.ResponseWriter, r *http.Request, p *web.Page, id string, f roleForm, status int) {
	infos, err := s.cfg.Access.Permissions(r.Context(), web.CallerOf(r))
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	data := roleFormData{adminPage: adminNav(p, "roles"), ID: id, Zones: roleTimeZones, Scopes: permScopes.Names()}
	rows := map[access.Area][]permRow{}
	for _, info := range infos {
		row := permRow{Perm: string(info.Perm), Label: permLabel(p, string(info.Perm)), Scoped: info.Scoped, Scope: "all"}
		if t := p.T("admin.permdesc." + row.Perm); t != "admin.permdesc."+row.Perm {
			row.Description = t
		} else {
			row.Description = info.Description
		}
		for _, pm := range f.perms {
			if pm.Perm == row.Perm {
				row.Checked, row.Scope = true, permScopes.Name(pm.Scope)
			}
		}
		rows[info.Area] = append(rows[info.Area], row)
	}
	for _, a := range access.Areas {
		if len(rows[a]) == 0 {
			continue
		}
		data.Areas = append(data.Areas, permArea{Area: string(a), Label: p.T("admin.area." + string(a)),
			About: p.T("admin.area." + string(a) + ".about"), Perms: rows[a]})
	}
	data.Windows = web.WithBlankRows(slices.Clone(f.windows))
	web.WindowErrors(data.Windows, p.Errors)
	p.Data = data
	s.Render(w, r, "admin_role", status, p)
}

func (s *Pages) roleNew(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.roles.new")
	s.showRoleForm(w, r, p, "", roleForm{}, http.StatusOK)
}

// roleFields are the inputs of the role editor that errors may name.
var roleFields = []string{"display_name", "description", "time_zone", "windows*"}

func (s *Pages) roleCreate(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.roles.new")
	if !web.ReadForm(w, r, p, 64<<10) {
		s.showRoleForm(w, r, p, "", roleForm{}, http.StatusRequestEntityTooLarge)
		return
	}
	f := readRole(p)
	role, err := s.cfg.Access.CreateRole(r.Context(), web.CallerOf(r), f.input(p, ""))
	if err != nil {
		s.showRoleForm(w, r, p, "", f, s.formFailed(p, err, roleFields...))
		return
	}
	web.Redirect(w, r, "/admin/roles", p.T("admin.roles.created", role.Name))
}

func (s *Pages) role(r *http.Request, id string) (*access.Role, error) {
	roles, _, err := s.roles(r.Context(), web.CallerOf(r), nil)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(roles, func(r *access.Role) bool { return r.ID == id })
	if i < 0 {
		return nil, errNoSuchPage
	}
	return roles[i], nil
}

// stored is the editor's form of a stored role.
func stored(role *access.Role) roleForm {
	in := roleInput(role)
	f := roleForm{perms: in.Permissions}
	for i, tw := range in.Windows {
		f.windows = append(f.windows, web.NewWindowRow(i, isoDays(tw.Days), tw.Start, tw.End))
	}
	return f
}

func (s *Pages) roleEdit(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.roles.edit")
	role, err := s.role(r, r.PathValue("id"))
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	p.Form.Set("display_name", role.Name)
	p.Form.Set("description", role.Description)
	p.Form.Set("time_zone", role.TimeZone)
	s.showRoleForm(w, r, p, role.ID, stored(role), http.StatusOK)
}

// roleUpdate writes the parts of the role that differ from what this node
// holds now, so that an unchanged part does not undo another branch's
// concurrent change to it.
func (s *Pages) roleUpdate(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.roles.edit")
	id := r.PathValue("id")
	role, err := s.role(r, id)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	if !web.ReadForm(w, r, p, 64<<10) {
		s.showRoleForm(w, r, p, id, stored(role), http.StatusRequestEntityTooLarge)
		return
	}
	f := readRole(p)
	in, cur := f.input(p, id), roleInput(role)
	if in.Name != cur.Name {
		in.Paths = append(in.Paths, "display_name")
	}
	if in.Description != cur.Description {
		in.Paths = append(in.Paths, "description")
	}
	if in.TimeZone != cur.TimeZone {
		in.Paths = append(in.Paths, "time_zone")
	}
	if !sameWindows(in.Windows, cur.Windows) {
		in.Paths = append(in.Paths, "windows")
	}
	if !samePerms(in.Permissions, cur.Permissions) {
		in.Paths = append(in.Paths, "permissions")
	}
	if len(in.Paths) == 0 {
		web.Redirect(w, r, "/admin/roles/"+id, p.T("admin.unchanged"))
		return
	}
	if _, err := s.cfg.Access.UpdateRole(r.Context(), web.CallerOf(r), in); err != nil {
		s.showRoleForm(w, r, p, id, f, s.formFailed(p, err, roleFields...))
		return
	}
	web.Redirect(w, r, "/admin/roles", p.T("admin.saved"))
}

func sameWindows(a, b []accessapp.WindowInput) bool {
	return slices.EqualFunc(a, b, func(x, y accessapp.WindowInput) bool {
		return slices.Equal(x.Days, y.Days) && x.Start == y.Start && x.End == y.End
	})
}

func samePerms(a, b []accessapp.PermInput) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
