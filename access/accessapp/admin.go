package accessapp

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"branchline/access"
	"branchline/app"
	"branchline/fault"
	"branchline/internal/keyset"
	"branchline/replication"
)

// Admin is the use cases of access administration and of users' own
// passwords.
type Admin struct {
	Store app.Store
	IDs   *replication.IDs
	// Node is this node's id, recorded as the source of audit entries.
	Node string
	// Throttle, when set, slows down guessing the current password when
	// users change their own, as it slows logins.
	Throttle app.Throttle
	// Now is the clock; nil means time.Now.
	Now app.Clock
}

// change runs one administrative change and its audit entry in one Exec.
func (s *Admin) change(ctx context.Context, c app.Caller, action, target string, cmd app.Audited) error {
	_, err := app.ExecAudited(ctx, s.Store, c, s.Node, action, target, cmd)
	return err
}

// Resource names of audit targets, as the API names them.
const (
	userRes  = "users/"
	deptRes  = "departments/"
	roleRes  = "roles/"
	tokenRes = "tokens/"
)

// checkID validates the id of a user, department, role or token a request
// names in field.
func checkID(field, id string) error {
	if !replication.ValidULID(id) {
		return fault.Invalidf(field, "bad_name", "%q is not an id", id)
	}
	return nil
}

// checkOptionalID is checkID for references that may be empty.
func checkOptionalID(field, id string) error {
	if id == "" {
		return nil
	}
	return checkID(field, id)
}

// Users.

// userFields are the fields of a user a request may set.
var userFields = []string{access.FieldUsername, access.FieldDisplayName, access.FieldDepartment, access.FieldPhone,
	access.FieldExtension, access.FieldMustChange}

// checkUserFields refuses fields a request may not set; the department
// must be an id.
func checkUserFields(fields map[string]string) error {
	for n, v := range fields {
		if !slices.Contains(userFields, n) {
			return fault.Invalidf(n, "not_editable", "no such field, or not changed by UpdateUser")
		}
		if n == access.FieldDepartment {
			if err := checkOptionalID("department", v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Admin) user(id string) (*access.User, error) {
	return app.Read(s.Store, func(views replication.Tx) (*access.User, error) { return access.GetUser(views, id) })
}

// UserQuery selects users: of a department and the departments below it
// ("": all), the disabled ones too when ShowDisabled.
type UserQuery struct {
	Department   string
	ShowDisabled bool
	Size         int
	After        string
}

// Users lists users in id order, a page at a time.
func (s *Admin) Users(_ context.Context, c app.Caller, q UserQuery) (app.Page[*access.User], error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return app.Page[*access.User]{}, err
	}
	size, err := app.PageSize(q.Size, 50)
	if err != nil {
		return app.Page[*access.User]{}, err
	}
	if q.After != "" && !replication.ValidULID(q.After) {
		return app.Page[*access.User]{}, fault.Invalidf("page_token", "bad_token", "not a page token of this list")
	}
	if err := checkOptionalID("department", q.Department); err != nil {
		return app.Page[*access.User]{}, err
	}
	users, err := app.Read(s.Store, func(views replication.Tx) ([]*access.User, error) {
		var depts []string
		if q.Department != "" {
			var err error
			if depts, err = access.Descendants(views, q.Department); err != nil {
				return nil, err
			}
		}
		var out []*access.User
		for cursor := q.After; len(out) <= size; {
			batch, err := access.ListUsers(views, cursor, 2*size)
			if err != nil {
				return nil, err
			}
			for _, u := range batch {
				if (!u.Disabled || q.ShowDisabled) && (q.Department == "" || slices.Contains(depts, u.Department)) {
					out = append(out, u)
				}
			}
			if len(batch) < 2*size {
				break
			}
			cursor = batch[len(batch)-1].ID
		}
		return out, nil
	})
	if err != nil {
		return app.Page[*access.User]{}, err
	}
	var out app.Page[*access.User]
	if len(users) > size {
		users = users[:size]
		out.Next = users[size-1].ID
	}
	out.Items = users
	return out, nil
}

// UserListQuery asks for a page of the sorted user list: the users
// UserQuery selects (its After is not used) whose user name, display
// name, phone or extension contain Text, in the order of Sort (one of
// access.UserColumns) at Cursor (see access.UserList).
type UserListQuery struct {
	UserQuery
	Text string
	keyset.Order
}

// SortedUsers reads a page of the user list in any column's order, with
// its total.
func (s *Admin) SortedUsers(_ context.Context, c app.Caller, q UserListQuery) (access.UserPage, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return access.UserPage{}, err
	}
	size, err := app.PageSize(q.Size, 50)
	if err != nil {
		return access.UserPage{}, err
	}
	if err := checkOptionalID("department", q.Department); err != nil {
		return access.UserPage{}, err
	}
	if err := app.CheckList(q.Sort, access.UserColumns, q.Text); err != nil {
		return access.UserPage{}, err
	}
	return app.Read(s.Store, func(views replication.Tx) (access.UserPage, error) {
		l := access.UserList{Text: q.Text, Disabled: q.ShowDisabled, Order: q.Order, Limit: size}
		if q.Department != "" {
			depts, err := access.Descendants(views, q.Department)
			if err != nil {
				return access.UserPage{}, err
			}
			l.Departments = append([]string{}, depts...)
		}
		return access.SortedUsers(views, l)
	})
}

// User reads a user.
func (s *Admin) User(_ context.Context, c app.Caller, id string) (*access.User, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	if err := checkID("name", id); err != nil {
		return nil, err
	}
	return s.user(id)
}

// UserCreate is a new user: fields by access field name (username and
// display name at least; the department an id) and the first password.
type UserCreate struct {
	Fields   map[string]string
	Password string
}

// CreateUser adds a user.
func (s *Admin) CreateUser(ctx context.Context, c app.Caller, req UserCreate) (*access.User, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	if req.Fields == nil {
		return nil, fault.Invalidf("user", "required", "is required")
	}
	fields := maps.Clone(req.Fields)
	for _, f := range []string{access.FieldUsername, access.FieldDisplayName} {
		if _, ok := fields[f]; !ok {
			fields[f] = ""
		}
	}
	if err := checkUserFields(fields); err != nil {
		return nil, err
	}
	hash, err := access.HashPassword(req.Password)
	if err != nil {
		return nil, err
	}
	id := s.IDs.New(s.Now.Time())
	if err := s.change(ctx, c, access.ActionUserCreated, userRes+id, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		d, err := access.CreateUser(views, id, fields, hash)
		return []replication.Draft{d}, access.AuditNote{Changes: (&access.User{}).AuditChanges(d)}, err
	}); err != nil {
		return nil, err
	}
	return s.user(id)
}

// UserUpdate writes fields of a user, by access field name.
type UserUpdate struct {
	ID     string
	Fields map[string]string
}

// UpdateUser changes fields of a user; values that do not change are
// left out, and nothing changed records nothing.
func (s *Admin) UpdateUser(ctx context.Context, c app.Caller, req UserUpdate) (*access.User, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	if req.Fields == nil {
		return nil, fault.Invalidf("user", "required", "is required")
	}
	if err := checkID("user.name", req.ID); err != nil {
		return nil, err
	}
	if len(req.Fields) == 0 {
		return nil, fault.Invalidf("update_mask", "required", "names no field")
	}
	if err := checkUserFields(req.Fields); err != nil {
		return nil, err
	}
	if err := s.change(ctx, c, access.ActionUserChanged, userRes+req.ID, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		cur, err := access.GetUser(views, req.ID)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		d, ok, err := access.ChangeUser(views, cur, req.Fields)
		if err != nil || !ok {
			return nil, access.AuditNote{}, err
		}
		return []replication.Draft{d}, access.AuditNote{Changes: cur.AuditChanges(d)}, nil
	}); err != nil {
		return nil, err
	}
	return s.user(req.ID)
}

// SetPassword sets a user's password, as an administrator; mustChange
// makes the user set a new one at their next login.
func (s *Admin) SetPassword(ctx context.Context, c app.Caller, id, password string, mustChange bool) (*access.User, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	if err := checkID("name", id); err != nil {
		return nil, err
	}
	hash, err := access.HashPassword(password)
	if err != nil {
		return nil, err
	}
	if err := s.change(ctx, c, access.ActionPasswordChanged, userRes+id, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		cur, err := access.GetUser(views, id)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		d, err := access.SetPassword(views, id, hash, mustChange)
		return []replication.Draft{d}, access.AuditNote{Detail: fmt.Sprintf("password set by an administrator, must_change_password=%v", mustChange),
			Changes: cur.AuditChanges(d)}, err
	}); err != nil {
		return nil, err
	}
	return s.user(id)
}

// SetDisabled disables a user (who can no longer log in or use tokens) or
// enables them again.
func (s *Admin) SetDisabled(ctx context.Context, c app.Caller, id string, disabled bool) (*access.User, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	if err := checkID("name", id); err != nil {
		return nil, err
	}
	action := access.ActionUserEnabled
	if disabled {
		action = access.ActionUserDisabled
	}
	if err := s.change(ctx, c, action, userRes+id, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		d, ok, err := access.SetDisabled(views, id, disabled)
		if err != nil || !ok {
			return nil, access.AuditNote{}, err
		}
		return []replication.Draft{d}, access.AuditNote{}, nil // the action says it all
	}); err != nil {
		return nil, err
	}
	return s.user(id)
}

// UsernameConflicts lists the usernames two branches gave to different
// users while cut off from each other.
func (s *Admin) UsernameConflicts(_ context.Context, c app.Caller) ([]access.UsernameConflict, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	return app.Read(s.Store, access.UsernameConflicts)
}

// SetRole assigns a role to a user (add) or takes it away.
func (s *Admin) SetRole(ctx context.Context, c app.Caller, user, role string, add bool) (*access.User, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	if err := checkID("user", user); err != nil {
		return nil, err
	}
	if err := checkID("role", role); err != nil {
		return nil, err
	}
	if err := s.change(ctx, c, access.ActionRoleChanged, userRes+user, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		cmd, verb := access.AssignRole, "assigned"
		if !add {
			cmd, verb = access.UnassignRole, "unassigned"
		}
		d, ok, err := cmd(views, user, role)
		if err != nil || !ok {
			return nil, access.AuditNote{}, err
		}
		var none access.User // a role change needs no value of the user's
		return []replication.Draft{d}, access.AuditNote{Detail: verb + " " + roleRes + role, Changes: none.AuditChanges(d)}, nil
	}); err != nil {
		return nil, err
	}
	return s.user(user)
}
