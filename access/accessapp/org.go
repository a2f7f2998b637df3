package accessapp

import (
	"context"
	"fmt"
	"slices"

	"branchline/access"
	"branchline/app"
	"branchline/fault"
	"branchline/replication"
)

// Departments and roles.

func (s *Admin) department(id string) (*access.Department, error) {
	return app.Read(s.Store, func(views replication.Tx) (*access.Department, error) { return access.GetDepartment(views, id) })
}

// Departments lists the departments, the retired ones too when retired
// is set.
func (s *Admin) Departments(_ context.Context, c app.Caller, retired bool) ([]*access.Department, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	ds, err := app.Read(s.Store, access.ListDepartments)
	return slices.DeleteFunc(ds, func(d *access.Department) bool { return d.Retired && !retired }), err
}

// DepartmentCreate is a new department named Name below Parent ("": at
// the top).
type DepartmentCreate struct {
	Name, Parent string
}

// CreateDepartment adds a department; nil is no department at all.
func (s *Admin) CreateDepartment(ctx context.Context, c app.Caller, req *DepartmentCreate) (*access.Department, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	if req == nil {
		return nil, fault.Invalidf("department", "required", "is required")
	}
	name, parent := req.Name, req.Parent
	if err := checkOptionalID("parent", parent); err != nil {
		return nil, err
	}
	id := s.IDs.New(s.Now.Time())
	if err := s.change(ctx, c, access.ActionDepartmentChanged, deptRes+id, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		d, err := access.CreateDepartment(views, id, name, parent)
		return []replication.Draft{d}, access.AuditNote{Changes: (&access.Department{}).AuditChanges(d)}, err
	}); err != nil {
		return nil, err
	}
	return s.department(id)
}

// DepartmentUpdate renames a department or retires it (or takes it out of
// retirement), as Paths name ("display_name", "retired").
type DepartmentUpdate struct {
	ID      string
	Name    string
	Retired bool
	Paths   []string
}

// UpdateDepartment changes a department; nil is no department at all.
func (s *Admin) UpdateDepartment(ctx context.Context, c app.Caller, req *DepartmentUpdate) (*access.Department, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	if req == nil {
		return nil, fault.Invalidf("department", "required", "is required")
	}
	if err := checkID("department.name", req.ID); err != nil {
		return nil, err
	}
	if len(req.Paths) == 0 {
		return nil, fault.Invalidf("update_mask", "required", "names no field")
	}
	for _, p := range req.Paths {
		if p != "display_name" && p != "retired" {
			return nil, fault.Invalidf(p, "not_editable", "no such field, or not changed by UpdateDepartment")
		}
	}
	if err := s.change(ctx, c, access.ActionDepartmentChanged, deptRes+req.ID, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		cur, err := access.GetDepartment(views, req.ID)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		var drafts []replication.Draft
		if slices.Contains(req.Paths, "display_name") {
			d, ok, err := access.RenameDepartment(views, req.ID, req.Name)
			if err != nil {
				return nil, access.AuditNote{}, err
			}
			if ok {
				drafts = append(drafts, d)
			}
		}
		if slices.Contains(req.Paths, "retired") {
			d, ok, err := access.RetireDepartment(views, req.ID, req.Retired)
			if err != nil {
				return nil, access.AuditNote{}, err
			}
			if ok {
				drafts = append(drafts, d)
			}
		}
		return drafts, access.AuditNote{Changes: cur.AuditChanges(drafts...)}, nil
	}); err != nil {
		return nil, err
	}
	return s.department(req.ID)
}

// MoveDepartment moves a department below parent ("": to the top).
func (s *Admin) MoveDepartment(ctx context.Context, c app.Caller, id, parent string) (*access.Department, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	if err := checkID("name", id); err != nil {
		return nil, err
	}
	if err := checkOptionalID("parent", parent); err != nil {
		return nil, err
	}
	if err := s.change(ctx, c, access.ActionDepartmentChanged, deptRes+id, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		cur, err := access.GetDepartment(views, id)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		d, ok, err := access.MoveDepartment(views, id, parent)
		if err != nil || !ok {
			return nil, access.AuditNote{}, err
		}
		return []replication.Draft{d}, access.AuditNote{Changes: cur.AuditChanges(d)}, nil
	}); err != nil {
		return nil, err
	}
	return s.department(id)
}

// WindowInput is a time window as a request gives it: ISO days (1 Monday
// … 7 Sunday) and "HH:MM" times.
type WindowInput struct {
	Days       []int
	Start, End string
}

// windows converts time windows to their canonical text.
func windows(in []WindowInput) (string, error) {
	if len(in) > access.MaxWindows {
		return "", fault.Invalidf("windows", "too_many", "%d windows, at most %d", len(in), access.MaxWindows)
	}
	ws := make([]access.Window, 0, len(in))
	for i, tw := range in {
		var w access.Window
		for _, n := range tw.Days {
			d, ok := access.ISODay(n)
			if !ok {
				return "", fault.Invalidf(fmt.Sprintf("windows[%d].days", i), "bad_day", "%d is not a day (1 Monday … 7 Sunday)", n)
			}
			w.Days |= 1 << uint(d)
		}
		var err error
		if w.Start, err = access.ParseClock(tw.Start); err != nil {
			return "", fault.Invalidf(fmt.Sprintf("windows[%d].start_time", i), "bad_time", "%v", err)
		}
		if w.End, err = access.ParseClock(tw.End); err != nil {
			return "", fault.Invalidf(fmt.Sprintf("windows[%d].end_time", i), "bad_time", "%v", err)
		}
		if err := w.Validate(); err != nil {
			return "", fault.Invalidf(fmt.Sprintf("windows[%d]", i), "bad_window", "%v", err)
		}
		ws = append(ws, w)
	}
	return access.FormatWindows(ws), nil
}

// PermInput is a permission and its scope as a request gives them.
type PermInput struct {
	Perm  string
	Scope access.Scope
}

// perms converts a role's permissions.
func perms(in []PermInput) (map[access.Perm]access.Scope, error) {
	out := make(map[access.Perm]access.Scope, len(in))
	for i, p := range in {
		field := fmt.Sprintf("permissions[%d]", i)
		perm, ok := access.ParsePerm(p.Perm)
		if !ok {
			return nil, fault.Invalidf(field, "unknown_permission", "no permission %q", p.Perm)
		}
		if _, dup := out[perm]; dup {
			return nil, fault.Invalidf(field, "duplicate", "%s named twice", perm)
		}
		if p.Scope < access.ScopeNone || p.Scope > access.ScopeAll {
			return nil, fault.Invalidf(field, "bad_scope", "scope %d", p.Scope)
		}
		out[perm] = p.Scope
	}
	return out, nil
}

// RoleInput is a role as a request gives it; Paths name what an update
// changes ("display_name", "description", "time_zone", "windows",
// "permissions").
type RoleInput struct {
	ID          string
	Name        string
	Description string
	TimeZone    string
	Windows     []WindowInput
	Permissions []PermInput
	Paths       []string
}

// fields reads the role fields Paths name, as access fields.
func (r RoleInput) fields() (map[string]string, error) {
	out := map[string]string{}
	for _, n := range r.Paths {
		switch n {
		case "display_name":
			out[access.FieldRoleName] = r.Name
		case "description":
			out[access.FieldDescription] = r.Description
		case "time_zone":
			out[access.FieldTimeZone] = r.TimeZone
		case "windows":
			w, err := windows(r.Windows)
			if err != nil {
				return nil, err
			}
			out[access.FieldWindows] = w
		case "permissions":
		default:
			return nil, fault.Invalidf(n, "not_editable", "no such field, or not changed by UpdateRole")
		}
	}
	return out, nil
}

func (s *Admin) role(id string) (*access.Role, error) {
	return app.Read(s.Store, func(views replication.Tx) (*access.Role, error) { return access.GetRole(views, id) })
}

// Roles lists the roles.
func (s *Admin) Roles(_ context.Context, c app.Caller) ([]*access.Role, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	return app.Read(s.Store, access.ListRoles)
}

// CreateRole adds a role: its name, and the description, time zone and
// windows when given; nil is no role at all.
func (s *Admin) CreateRole(ctx context.Context, c app.Caller, in *RoleInput) (*access.Role, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, fault.Invalidf("role", "required", "is required")
	}
	in.Paths = []string{"display_name"}
	for _, f := range []struct {
		name string
		set  bool
	}{{"description", in.Description != ""}, {"time_zone", in.TimeZone != ""}, {"windows", len(in.Windows) > 0}} {
		if f.set {
			in.Paths = append(in.Paths, f.name)
		}
	}
	fields, err := in.fields()
	if err != nil {
		return nil, err
	}
	ps, err := perms(in.Permissions)
	if err != nil {
		return nil, err
	}
	id := s.IDs.New(s.Now.Time())
	if err := s.change(ctx, c, access.ActionPermissionChanged, roleRes+id, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		d, err := access.CreateRole(views, id, fields, ps)
		return []replication.Draft{d}, access.AuditNote{Changes: (&access.Role{}).AuditChanges(d)}, err
	}); err != nil {
		return nil, err
	}
	return s.role(id)
}

// UpdateRole changes what in.Paths name of a role; nil is no role at
// all.
func (s *Admin) UpdateRole(ctx context.Context, c app.Caller, in *RoleInput) (*access.Role, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, fault.Invalidf("role", "required", "is required")
	}
	if err := checkID("role.name", in.ID); err != nil {
		return nil, err
	}
	if len(in.Paths) == 0 {
		return nil, fault.Invalidf("update_mask", "required", "names no field")
	}
	fields, err := in.fields()
	if err != nil {
		return nil, err
	}
	var ps map[access.Perm]access.Scope
	setPerms := slices.Contains(in.Paths, "permissions")
	if setPerms {
		if ps, err = perms(in.Permissions); err != nil {
			return nil, err
		}
	}
	if err := s.change(ctx, c, access.ActionPermissionChanged, roleRes+in.ID, func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
		cur, err := access.GetRole(views, in.ID)
		if err != nil {
			return nil, access.AuditNote{}, err
		}
		var drafts []replication.Draft
		if len(fields) > 0 {
			d, ok, err := access.UpdateRole(views, in.ID, fields)
			if err != nil {
				return nil, access.AuditNote{}, err
			}
			if ok {
				drafts = append(drafts, d)
			}
		}
		if setPerms {
			d, ok, err := access.SetPermissions(views, in.ID, ps)
			if err != nil {
				return nil, access.AuditNote{}, err
			}
			if ok {
				drafts = append(drafts, d)
			}
		}
		return drafts, access.AuditNote{Changes: cur.AuditChanges(drafts...)}, nil
	}); err != nil {
		return nil, err
	}
	return s.role(in.ID)
}

// Permissions lists every permission with what it allows.
func (s *Admin) Permissions(_ context.Context, c app.Caller) ([]access.PermInfo, error) {
	if err := c.Require(access.UserAdmin); err != nil {
		return nil, err
	}
	return access.Catalogue(), nil
}

// SeedRoles creates the default roles defs that this replica does not
// hold yet, with an audit entry naming them, as actor (the node's first
// administrator, at a fresh installation): it returns how many it made.
// Like every role they are replicated events, editable afterwards; see
// access.SeedRoles for why nodes that seed offline make one set of them.
func (s *Admin) SeedRoles(ctx context.Context, actor string, defs []access.DefaultRole) (int, error) {
	var n int
	err := s.change(ctx, app.Caller{Grant: access.Superuser(actor)}, access.ActionPermissionChanged, roleRes,
		func(views replication.Tx) ([]replication.Draft, access.AuditNote, error) {
			drafts, err := access.SeedRoles(views, defs)
			n = len(drafts)
			var made []access.DefaultRole
			for _, d := range defs {
				if slices.ContainsFunc(drafts, func(dr replication.Draft) bool { return dr.Entity == access.RoleEntity(d.ID) }) {
					made = append(made, d)
				}
			}
			return drafts, access.AuditNote{Detail: "default roles created: " + access.DefaultRoleKeys(made)}, err
		})
	if err != nil {
		return 0, fmt.Errorf("default roles: %w", err)
	}
	return n, nil
}
