package adminui

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/app"
	"branchline/web"
)

// userView is a user as the pages show it.
type userView struct {
	ID         string
	Name       string // "users/{id}"
	Username   string
	Display    string
	Department string // its display name
	Phone      string
	Extension  string
	Roles      []string // display names
	Disabled   bool
	Conflict   bool // lost its username to another user
	MustChange bool
}

// viewUser shows u; depts and roles map resource names to labels.
func viewUser(u *access.User, depts, roles map[string]string) userView {
	dept := nameOf(deptRes, u.Department)
	v := userView{
		ID: u.ID, Name: userRes + u.ID, Username: u.Username, Display: u.DisplayName, Department: depts[dept], Phone: u.Phone,
		Extension: u.Extension, Disabled: u.Disabled, Conflict: u.UsernameOwner != "", MustChange: u.MustChangePassword,
	}
	if v.Department == "" && dept != "" {
		v.Department = dept
	}
	for _, r := range u.Roles {
		label := roles[roleRes+r]
		if label == "" {
			label = roleRes + r // assigned at a branch whose role has not arrived yet
		}
		v.Roles = append(v.Roles, label)
	}
	return v
}

// userRef names a user in a link.
type userRef struct {
	ID, Label string
}

type conflictView struct {
	Username string
	Owner    userRef
	Losers   []userRef
}

type usersData struct {
	adminPage
	Users        []userView
	Depts        []deptView
	Dept         string
	ShowDisabled bool
	Conflicts    []conflictView
	// List is the list's state from the URL; Pager its total and pages.
	List  web.List
	Pager web.Pager
}

// userListSpec is what the user list sorts and filters by.
var userListSpec = web.ListSpec{Sorts: access.UserColumns, Filters: []string{"department", "disabled"}}

// roles reads every role, for labels (by resource name, in p's language:
// roleLabel) and the role choices.
func (s *Pages) roles(ctx context.Context, c app.Caller, p *web.Page) ([]*access.Role, map[string]string, error) {
	rs, err := s.cfg.Access.Roles(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	labels := map[string]string{}
	for _, r := range rs {
		labels[roleRes+r.ID] = roleLabel(p, r)
	}
	return rs, labels, nil
}

func (s *Pages) userList(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.users.title")
	ctx, c := r.Context(), web.CallerOf(r)
	q := r.URL.Query()
	l := web.ParseList("/admin/users", q, userListSpec)
	data := usersData{adminPage: adminNav(p, "users"), Dept: q.Get("department"), ShowDisabled: q.Get("disabled") == "1", List: l}
	p.Form.Set("department", data.Dept)
	tree, err := s.departments(ctx, c, true)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	data.Depts = tree
	_, roles, err := s.roles(ctx, c, p)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	page, err := s.cfg.Access.SortedUsers(ctx, c, accessapp.UserListQuery{
		UserQuery: accessapp.UserQuery{Department: idOf(deptRes, data.Dept), ShowDisabled: data.ShowDisabled, Size: 100},
		Text:      l.Text, Order: l.Order})
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	depts := deptLabels(tree)
	for _, u := range page.Users {
		data.Users = append(data.Users, viewUser(u, depts, roles))
	}
	data.Pager = l.Pager(page.Total, page.Prev, page.Next)
	if data.Conflicts, err = s.usernameConflicts(ctx, c); err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	p.Data = data
	s.Render(w, r, "admin_users", http.StatusOK, p)
}

// usernameConflicts lists the usernames two branches gave away while cut
// off from each other, with the users who must be renamed.
func (s *Pages) usernameConflicts(ctx context.Context, c app.Caller) ([]conflictView, error) {
	cs, err := s.cfg.Access.UsernameConflicts(ctx, c)
	if err != nil {
		return nil, err
	}
	ref := func(id string) userRef {
		ref := userRef{ID: id, Label: userRes + id}
		if u, err := s.cfg.Access.User(ctx, c, id); err == nil {
			ref.Label = u.DisplayName
		}
		return ref
	}
	var out []conflictView
	for _, cf := range cs {
		cv := conflictView{Username: cf.Username, Owner: ref(cf.Owner)}
		for _, l := range cf.Losers {
			cv.Losers = append(cv.Losers, ref(l))
		}
		out = append(out, cv)
	}
	return out, nil
}

// roleChoice is a role's checkbox on the user form.
type roleChoice struct {
	Name, Label string
	Checked     bool
}

type userFormData struct {
	adminPage
	User  *userView // nil for a new user
	Owner *userRef  // who holds this user's username, after a conflict
	Depts []deptView
	Roles []roleChoice
}

// userFields are the inputs of the user form, as access names the fields.
var userFields = []string{access.FieldUsername, access.FieldDisplayName, access.FieldDepartment, access.FieldPhone, access.FieldExtension}

// userField is a field of u as the form shows it: the department by its
// resource name.
func userField(u *access.User, f string) string {
	switch f {
	case access.FieldUsername:
		return u.Username
	case access.FieldDisplayName:
		return u.DisplayName
	case access.FieldDepartment:
		return nameOf(deptRes, u.Department)
	case access.FieldPhone:
		return u.Phone
	case access.FieldExtension:
		return u.Extension
	}
	return ""
}

// showUserForm renders the create or edit form; u is nil for a new user.
// Inputs that were not posted show u's values.
func (s *Pages) showUserForm(w http.ResponseWriter, r *http.Request, p *web.Page, u *access.User, status int) {
	ctx, c := r.Context(), web.CallerOf(r)
	tree, err := s.departments(ctx, c, true)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	roles, labels, err := s.roles(ctx, c, p)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	data := userFormData{adminPage: adminNav(p, "users")}
	// The department select offers the active departments and the
	// user's own, even if it was retired since.
	for _, d := range tree {
		if !d.Retired || u != nil && d.ID == u.Department {
			data.Depts = append(data.Depts, d)
		}
	}
	_, posted := p.Form["username"]
	if u != nil {
		v := viewUser(u, deptLabels(tree), labels)
		data.User = &v
		if o := u.UsernameOwner; o != "" {
			data.Owner = &userRef{ID: o, Label: userRes + o}
			if ou, err := s.cfg.Access.User(ctx, c, o); err == nil {
				data.Owner.Label = ou.DisplayName + " (" + ou.Username + ")"
			}
		}
		if !posted {
			for _, f := range userFields {
				p.Form.Set(f, userField(u, f))
			}
			if u.MustChangePassword {
				p.Form.Set("must_change_password", "1")
			}
			p.Form["role"] = nil
			for _, role := range u.Roles {
				p.Form.Add("role", roleRes+role)
			}
		}
	}
	for _, role := range roles {
		name := roleRes + role.ID
		data.Roles = append(data.Roles, roleChoice{Name: name, Label: roleLabel(p, role), Checked: slices.Contains(p.Form["role"], name)})
	}
	p.Data = data
	s.Render(w, r, "admin_user", status, p)
}

// postedUser reads the user form's fields as the use cases take them.
func postedUser(p *web.Page) map[string]string {
	fields := map[string]string{}
	for _, f := range userFields {
		fields[f] = p.Value(f)
	}
	fields[access.FieldDepartment] = idOf(deptRes, fields[access.FieldDepartment])
	fields[access.FieldMustChange] = ""
	if p.Value("must_change_password") == "1" {
		fields[access.FieldMustChange] = "1"
	}
	return fields
}

func (s *Pages) userNew(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.users.new")
	s.showUserForm(w, r, p, nil, http.StatusOK)
}

func (s *Pages) userCreate(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.users.new")
	if !web.ReadForm(w, r, p, 64<<10) {
		s.showUserForm(w, r, p, nil, http.StatusRequestEntityTooLarge)
		return
	}
	ctx, c := r.Context(), web.CallerOf(r)
	fields := postedUser(p)
	for f, v := range fields {
		if v == "" && f != access.FieldUsername && f != access.FieldDisplayName {
			delete(fields, f)
		}
	}
	u, err := s.cfg.Access.CreateUser(ctx, c, accessapp.UserCreate{Fields: fields, Password: r.PostFormValue("password")})
	if err != nil {
		s.showUserForm(w, r, p, nil, s.formFailed(p, err, append(userFields, "password")...))
		return
	}
	for _, role := range p.Form["role"] {
		if _, err := s.cfg.Access.SetRole(ctx, c, u.ID, idOf(roleRes, role), true); err != nil {
			// The user exists; say so, and let the roles be fixed on
			// the edit page.
			p.Form = url.Values{}
			p.Title = p.T("admin.users.edit")
			s.formFailed(p, err)
			p.Flash = p.T("admin.users.created", u.Username)
			s.showUserForm(w, r, p, u, http.StatusUnprocessableEntity)
			return
		}
	}
	web.Redirect(w, r, "/admin/users/"+u.ID, p.T("admin.users.created", u.Username))
}

// user reads the user the path names.
func (s *Pages) user(r *http.Request) (*access.User, error) {
	return s.cfg.Access.User(r.Context(), web.CallerOf(r), r.PathValue("id"))
}

func (s *Pages) userEdit(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.users.edit")
	u, err := s.user(r)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	s.showUserForm(w, r, p, u, http.StatusOK)
}

// userUpdate writes the fields the administrator changed (only those, so
// that an edit here does not undo another field's edit made at another
// branch), then adds and removes roles.
func (s *Pages) userUpdate(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.users.edit")
	u, err := s.user(r)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	if !web.ReadForm(w, r, p, 64<<10) {
		s.showUserForm(w, r, p, u, http.StatusRequestEntityTooLarge)
		return
	}
	ctx, c := r.Context(), web.CallerOf(r)
	fields := postedUser(p)
	for _, f := range userFields {
		if p.Value(f) == userField(u, f) {
			delete(fields, f)
		}
	}
	if (fields[access.FieldMustChange] == "1") == u.MustChangePassword {
		delete(fields, access.FieldMustChange)
	}
	changed := len(fields) > 0
	if changed {
		if _, err := s.cfg.Access.UpdateUser(ctx, c, accessapp.UserUpdate{ID: u.ID, Fields: fields}); err != nil {
			s.showUserForm(w, r, p, u, s.formFailed(p, err, userFields...))
			return
		}
	}
	want := p.Form["role"]
	for _, role := range want {
		if slices.Contains(u.Roles, idOf(roleRes, role)) {
			continue
		}
		if _, err := s.cfg.Access.SetRole(ctx, c, u.ID, idOf(roleRes, role), true); err != nil {
			s.showUserForm(w, r, p, u, s.formFailed(p, err))
			return
		}
		changed = true
	}
	for _, role := range u.Roles {
		if slices.Contains(want, roleRes+role) {
			continue
		}
		if _, err := s.cfg.Access.SetRole(ctx, c, u.ID, role, false); err != nil {
			s.showUserForm(w, r, p, u, s.formFailed(p, err))
			return
		}
		changed = true
	}
	if !changed {
		web.Redirect(w, r, "/admin/users/"+u.ID, p.T("admin.unchanged"))
		return
	}
	web.Redirect(w, r, "/admin/users/"+u.ID, p.T("admin.saved"))
}

func (s *Pages) userPassword(w http.ResponseWriter, r *http.Request) {
	p := s.NewPage(r, "admin", "admin.users.edit")
	u, err := s.user(r)
	if err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	if !web.ReadForm(w, r, p, 8<<10) {
		s.showUserForm(w, r, p, u, http.StatusRequestEntityTooLarge)
		return
	}
	// Only the password form was posted: the user form shows the stored
	// values again.
	mustChange := p.Value("pw_must_change") == "1"
	p.Form = url.Values{}
	if _, err := s.cfg.Access.SetPassword(r.Context(), web.CallerOf(r), u.ID, r.PostFormValue("password"), mustChange); err != nil {
		s.showUserForm(w, r, p, u, s.formFailed(p, err, "password"))
		return
	}
	web.Redirect(w, r, "/admin/users/"+u.ID, p.T("admin.users.password_set"))
}

func (s *Pages) userDisable(w http.ResponseWriter, r *http.Request) { s.setUserDisabled(w, r, true) }
func (s *Pages) userEnable(w http.ResponseWriter, r *http.Request)  { s.setUserDisabled(w, r, false) }

func (s *Pages) setUserDisabled(w http.ResponseWriter, r *http.Request, disabled bool) {
	p := s.NewPage(r, "admin", "admin.users.edit")
	msg := "admin.users.enabled"
	if disabled {
		msg = "admin.users.disabled"
	}
	if _, err := s.cfg.Access.SetDisabled(r.Context(), web.CallerOf(r), r.PathValue("id"), disabled); err != nil {
		s.Render(w, r, "error", s.Failed(p, err), p)
		return
	}
	web.Redirect(w, r, "/admin/users/"+r.PathValue("id"), p.T(msg))
}
