package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	accessv1 "branchline/gen/branchline/access/v1"
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

func viewUser(u *accessv1.User, depts, roles map[string]string) userView {
	v := userView{
		ID: strings.TrimPrefix(u.GetName(), "users/"), Name: u.GetName(), Username: u.GetUsername(),
		Display: u.GetDisplayName(), Department: depts[u.GetDepartment()], Phone: u.GetPhone(),
		Extension: u.GetExtension(), Disabled: u.GetDisabled(), Conflict: u.GetUsernameOwner() != "",
		MustChange: u.GetMustChangePassword(),
	}
	if v.Department == "" && u.GetDepartment() != "" {
		v.Department = u.GetDepartment()
	}
	for _, r := range u.GetRoles() {
		label := roles[r]
		if label == "" {
			label = r // assigned at a branch whose role has not arrived yet
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
	Next         string
	Conflicts    []conflictView
}

// roles reads every role, for labels and the role choices.
func (s *Server) roles(ctx context.Context) ([]*accessv1.Role, map[string]string, error) {
	resp, err := s.cfg.Access.ListRoles(ctx, connect.NewRequest(&accessv1.ListRolesRequest{}))
	if err != nil {
		return nil, nil, err
	}
	labels := map[string]string{}
	for _, r := range resp.Msg.GetRoles() {
		labels[r.GetName()] = r.GetDisplayName()
	}
	return resp.Msg.GetRoles(), labels, nil
}

func (s *Server) userList(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.users.title")
	ctx := r.Context()
	q := r.URL.Query()
	data := usersData{adminPage: adminNav(p, "users"), Dept: q.Get("department"), ShowDisabled: q.Get("disabled") == "1"}
	p.Form.Set("department", data.Dept)
	tree, err := s.departments(ctx, true)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	data.Depts = tree
	_, roles, err := s.roles(ctx)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	resp, err := s.cfg.Access.ListUsers(ctx, connect.NewRequest(&accessv1.ListUsersRequest{
		PageSize: 100, PageToken: q.Get("after"), Department: data.Dept, ShowDisabled: data.ShowDisabled,
	}))
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	depts := deptLabels(tree)
	for _, u := range resp.Msg.GetUsers() {
		data.Users = append(data.Users, viewUser(u, depts, roles))
	}
	data.Next = resp.Msg.GetNextPageToken()
	if data.Conflicts, err = s.usernameConflicts(ctx); err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	p.Data = data
	s.render(w, r, "admin_users", http.StatusOK, p)
}

// usernameConflicts lists the usernames two branches gave away while cut
// off from each other, with the users who must be renamed.
func (s *Server) usernameConflicts(ctx context.Context) ([]conflictView, error) {
	resp, err := s.cfg.Access.ListUsernameConflicts(ctx, connect.NewRequest(&accessv1.ListUsernameConflictsRequest{}))
	if err != nil {
		return nil, err
	}
	ref := func(name string) userRef {
		ref := userRef{ID: strings.TrimPrefix(name, "users/"), Label: name}
		if u, err := s.cfg.Access.GetUser(ctx, connect.NewRequest(&accessv1.GetUserRequest{Name: name})); err == nil {
			ref.Label = u.Msg.GetDisplayName()
		}
		return ref
	}
	var out []conflictView
	for _, c := range resp.Msg.GetConflicts() {
		cv := conflictView{Username: c.GetUsername(), Owner: ref(c.GetOwner())}
		for _, l := range c.GetLosers() {
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

// userFields are the inputs of the user form, as the API names them.
var userFields = []string{"username", "display_name", "department", "phone", "extension"}

// showUserForm renders the create or edit form; u is nil for a new user.
// Inputs that were not posted show u's values.
func (s *Server) showUserForm(w http.ResponseWriter, r *http.Request, p *Page, u *accessv1.User, status int) {
	ctx := r.Context()
	tree, err := s.departments(ctx, true)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	roles, labels, err := s.roles(ctx)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	data := userFormData{adminPage: adminNav(p, "users")}
	// The department select offers the active departments and the
	// user's own, even if it was retired since.
	for _, d := range tree {
		if !d.Retired || u != nil && d.Name == u.GetDepartment() {
			data.Depts = append(data.Depts, d)
		}
	}
	_, posted := p.Form["username"]
	if u != nil {
		v := viewUser(u, deptLabels(tree), labels)
		data.User = &v
		if o := u.GetUsernameOwner(); o != "" {
			data.Owner = &userRef{ID: strings.TrimPrefix(o, "users/"), Label: o}
			if ou, err := s.cfg.Access.GetUser(ctx, connect.NewRequest(&accessv1.GetUserRequest{Name: o})); err == nil {
				data.Owner.Label = ou.Msg.GetDisplayName() + " (" + ou.Msg.GetUsername() + ")"
			}
		}
		if !posted {
			for _, f := range userFields {
				p.Form.Set(f, userField(u, f))
			}
			if u.GetMustChangePassword() {
				p.Form.Set("must_change_password", "1")
			}
			p.Form["role"] = u.GetRoles()
		}
	}
	for _, role := range roles {
		data.Roles = append(data.Roles, roleChoice{Name: role.GetName(), Label: role.GetDisplayName(), Checked: slices.Contains(p.Form["role"], role.GetName())})
	}
	p.Data = data
	s.render(w, r, "admin_user", status, p)
}

func userField(u *accessv1.User, f string) string {
	switch f {
	case "username":
		return u.GetUsername()
	case "display_name":
		return u.GetDisplayName()
	case "department":
		return u.GetDepartment()
	case "phone":
		return u.GetPhone()
	case "extension":
		return u.GetExtension()
	}
	return ""
}

func (s *Server) userNew(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.users.new")
	s.showUserForm(w, r, p, nil, http.StatusOK)
}

func (s *Server) userCreate(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.users.new")
	if !readAdminForm(w, r, p, 64<<10) {
		s.showUserForm(w, r, p, nil, http.StatusRequestEntityTooLarge)
		return
	}
	ctx := apiCtx(r)
	resp, err := s.cfg.Access.CreateUser(ctx, connect.NewRequest(&accessv1.CreateUserRequest{
		User: &accessv1.User{
			Username: p.Value("username"), DisplayName: p.Value("display_name"), Department: p.Value("department"),
			Phone: p.Value("phone"), Extension: p.Value("extension"), MustChangePassword: p.Value("must_change_password") == "1",
		},
		Password: r.PostFormValue("password"),
	}))
	if err != nil {
		s.showUserForm(w, r, p, nil, s.formFailed(p, err, append(userFields, "password")...))
		return
	}
	u := resp.Msg
	id := strings.TrimPrefix(u.GetName(), "users/")
	for _, role := range p.Form["role"] {
		if _, err := s.cfg.Access.AssignRole(ctx, connect.NewRequest(&accessv1.AssignRoleRequest{User: u.GetName(), Role: role})); err != nil {
			// The user exists; say so, and let the roles be fixed on
			// the edit page.
			p.Form = url.Values{}
			p.Title = p.T("admin.users.edit")
			s.formFailed(p, err)
			p.Flash = p.T("admin.users.created", u.GetUsername())
			s.showUserForm(w, r, p, u, http.StatusUnprocessableEntity)
			return
		}
	}
	redirect(w, r, "/admin/users/"+id, p.T("admin.users.created", u.GetUsername()))
}

// user reads the user the path names.
func (s *Server) user(r *http.Request) (*accessv1.User, error) {
	resp, err := s.cfg.Access.GetUser(r.Context(), connect.NewRequest(&accessv1.GetUserRequest{Name: "users/" + r.PathValue("id")}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

func (s *Server) userEdit(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.users.edit")
	u, err := s.user(r)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	s.showUserForm(w, r, p, u, http.StatusOK)
}

// userUpdate writes the fields the administrator changed (a field mask,
// so that an edit here does not undo another field's edit made at another
// branch), then adds and removes roles.
func (s *Server) userUpdate(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.users.edit")
	u, err := s.user(r)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	if !readAdminForm(w, r, p, 64<<10) {
		s.showUserForm(w, r, p, u, http.StatusRequestEntityTooLarge)
		return
	}
	ctx := apiCtx(r)
	in := &accessv1.User{
		Name: u.GetName(), Username: p.Value("username"), DisplayName: p.Value("display_name"), Department: p.Value("department"),
		Phone: p.Value("phone"), Extension: p.Value("extension"), MustChangePassword: p.Value("must_change_password") == "1",
	}
	var mask []string
	for _, f := range userFields {
		if userField(in, f) != userField(u, f) {
			mask = append(mask, f)
		}
	}
	if in.GetMustChangePassword() != u.GetMustChangePassword() {
		mask = append(mask, "must_change_password")
	}
	changed := len(mask) > 0
	if changed {
		if _, err := s.cfg.Access.UpdateUser(ctx, connect.NewRequest(&accessv1.UpdateUserRequest{User: in, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask}})); err != nil {
			s.showUserForm(w, r, p, u, s.formFailed(p, err, userFields...))
			return
		}
	}
	want := p.Form["role"]
	for _, role := range want {
		if slices.Contains(u.GetRoles(), role) {
			continue
		}
		if _, err := s.cfg.Access.AssignRole(ctx, connect.NewRequest(&accessv1.AssignRoleRequest{User: u.GetName(), Role: role})); err != nil {
			s.showUserForm(w, r, p, u, s.formFailed(p, err))
			return
		}
		changed = true
	}
	for _, role := range u.GetRoles() {
		if slices.Contains(want, role) {
			continue
		}
		if _, err := s.cfg.Access.UnassignRole(ctx, connect.NewRequest(&accessv1.UnassignRoleRequest{User: u.GetName(), Role: role})); err != nil {
			s.showUserForm(w, r, p, u, s.formFailed(p, err))
			return
		}
		changed = true
	}
	if !changed {
		redirect(w, r, "/admin/users/"+r.PathValue("id"), p.T("admin.unchanged"))
		return
	}
	redirect(w, r, "/admin/users/"+r.PathValue("id"), p.T("admin.saved"))
}

func (s *Server) userPassword(w http.ResponseWriter, r *http.Request) {
	p := s.page(r, "admin", "admin.users.edit")
	u, err := s.user(r)
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	if !readAdminForm(w, r, p, 8<<10) {
		s.showUserForm(w, r, p, u, http.StatusRequestEntityTooLarge)
		return
	}
	// Only the password form was posted: the user form shows the stored
	// values again.
	mustChange := p.Value("pw_must_change") == "1"
	p.Form = url.Values{}
	_, err = s.cfg.Access.SetPassword(apiCtx(r), connect.NewRequest(&accessv1.SetPasswordRequest{
		Name: u.GetName(), Password: r.PostFormValue("password"), MustChangePassword: mustChange,
	}))
	if err != nil {
		s.showUserForm(w, r, p, u, s.formFailed(p, err, "password"))
		return
	}
	redirect(w, r, "/admin/users/"+r.PathValue("id"), p.T("admin.users.password_set"))
}

func (s *Server) userDisable(w http.ResponseWriter, r *http.Request) { s.setUserDisabled(w, r, true) }
func (s *Server) userEnable(w http.ResponseWriter, r *http.Request)  { s.setUserDisabled(w, r, false) }

func (s *Server) setUserDisabled(w http.ResponseWriter, r *http.Request, disabled bool) {
	p := s.page(r, "admin", "admin.users.edit")
	name := "users/" + r.PathValue("id")
	var err error
	msg := "admin.users.enabled"
	if disabled {
		msg = "admin.users.disabled"
		_, err = s.cfg.Access.DisableUser(apiCtx(r), connect.NewRequest(&accessv1.DisableUserRequest{Name: name}))
	} else {
		_, err = s.cfg.Access.EnableUser(apiCtx(r), connect.NewRequest(&accessv1.EnableUserRequest{Name: name}))
	}
	if err != nil {
		s.render(w, r, "error", s.failed(p, err), p)
		return
	}
	redirect(w, r, "/admin/users/"+r.PathValue("id"), p.T(msg))
}
