package api

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"branchline/access"
	"branchline/fault"
	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/replication"
)

// Departments and roles of the AccessService.

func departmentToProto(d *access.Department) *accessv1.Department {
	return &accessv1.Department{
		Name: deptRes + d.ID, DisplayName: d.Name, Parent: accessRef(deptRes, d.Parent),
		Retired: d.Retired, Origin: d.Origin, CreateTime: accessTS(d.Created), UpdateTime: accessTS(d.Updated),
	}
}

func (s *AccessService) department(id string) (*connect.Response[accessv1.Department], error) {
	d, err := viewResult(s.Store, func(views replication.Tx) (*access.Department, error) { return access.GetDepartment(views, id) })
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(departmentToProto(d)), nil
}

// ListDepartments implements AccessService.ListDepartments.
func (s *AccessService) ListDepartments(ctx context.Context, req *connect.Request[accessv1.ListDepartmentsRequest]) (*connect.Response[accessv1.ListDepartmentsResponse], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	ds, err := viewResult(s.Store, access.ListDepartments)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	resp := &accessv1.ListDepartmentsResponse{}
	for _, d := range ds {
		if !d.Retired || req.Msg.GetShowRetired() {
			resp.Departments = append(resp.Departments, departmentToProto(d))
		}
	}
	return connect.NewResponse(resp), nil
}

// CreateDepartment implements AccessService.CreateDepartment.
func (s *AccessService) CreateDepartment(ctx context.Context, req *connect.Request[accessv1.CreateDepartmentRequest]) (*connect.Response[accessv1.Department], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	in := req.Msg.GetDepartment()
	if in == nil {
		return nil, Error(s.Log, fault.Invalidf("department", "required", "is required"))
	}
	parent, err := accessOptionalID("parent", in.GetParent(), deptRes)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	id := s.IDs.New(time.Now())
	err = s.change(ctx, req.Peer(), access.ActionDepartmentChanged, deptRes+id, func(views replication.Tx) ([]replication.Draft, string, error) {
		d, err := access.CreateDepartment(views, id, in.GetDisplayName(), parent)
		return []replication.Draft{d}, fmt.Sprintf("created %q below %q", in.GetDisplayName(), in.GetParent()), err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return s.department(id)
}

// UpdateDepartment implements AccessService.UpdateDepartment.
func (s *AccessService) UpdateDepartment(ctx context.Context, req *connect.Request[accessv1.UpdateDepartmentRequest]) (*connect.Response[accessv1.Department], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	in := req.Msg.GetDepartment()
	if in == nil {
		return nil, Error(s.Log, fault.Invalidf("department", "required", "is required"))
	}
	id, err := accessID("department.name", in.GetName(), deptRes)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	paths := req.Msg.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, Error(s.Log, fault.Invalidf("update_mask", "required", "names no field"))
	}
	for _, p := range paths {
		if p != "display_name" && p != "retired" {
			return nil, Error(s.Log, fault.Invalidf(p, "not_editable", "no such field, or not changed by UpdateDepartment"))
		}
	}
	err = s.change(ctx, req.Peer(), access.ActionDepartmentChanged, deptRes+id, func(views replication.Tx) ([]replication.Draft, string, error) {
		var drafts []replication.Draft
		var details []string
		if slices.Contains(paths, "display_name") {
			d, ok, err := access.RenameDepartment(views, id, in.GetDisplayName())
			if err != nil {
				return nil, "", err
			}
			if ok {
				drafts = append(drafts, d)
				details = append(details, fmt.Sprintf("renamed to %q", in.GetDisplayName()))
			}
		}
		if slices.Contains(paths, "retired") {
			d, ok, err := access.RetireDepartment(views, id, in.GetRetired())
			if err != nil {
				return nil, "", err
			}
			if ok {
				drafts = append(drafts, d)
				details = append(details, fmt.Sprintf("retired=%v", in.GetRetired()))
			}
		}
		return drafts, strings.Join(details, "; "), nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return s.department(id)
}

// MoveDepartment implements AccessService.MoveDepartment.
func (s *AccessService) MoveDepartment(ctx context.Context, req *connect.Request[accessv1.MoveDepartmentRequest]) (*connect.Response[accessv1.Department], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	id, err := accessID("name", req.Msg.GetName(), deptRes)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	parent, err := accessOptionalID("parent", req.Msg.GetParent(), deptRes)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	err = s.change(ctx, req.Peer(), access.ActionDepartmentChanged, deptRes+id, func(views replication.Tx) ([]replication.Draft, string, error) {
		d, ok, err := access.MoveDepartment(views, id, parent)
		if err != nil || !ok {
			return nil, "", err
		}
		return []replication.Draft{d}, fmt.Sprintf("moved below %q", req.Msg.GetParent()), nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return s.department(id)
}

// Roles.

func roleToProto(r *access.Role) *accessv1.Role {
	out := &accessv1.Role{
		Name: roleRes + r.ID, DisplayName: r.Name, Description: r.Description, TimeZone: r.TimeZone,
		Origin: r.Origin, CreateTime: accessTS(r.Created), UpdateTime: accessTS(r.Updated),
	}
	for _, w := range r.Windows {
		tw := &accessv1.TimeWindow{StartTime: access.FormatClock(w.Start), EndTime: access.FormatClock(w.End)}
		for _, d := range w.ISODays() {
			tw.Days = append(tw.Days, int32(d))
		}
		out.Windows = append(out.Windows, tw)
	}
	for _, p := range access.AllPerms {
		if sc, ok := r.Perms[p]; ok {
			out.Permissions = append(out.Permissions, &accessv1.Permission{Permission: string(p), Scope: accessv1.Scope(sc)})
		}
	}
	return out
}

// windowsFromProto converts time windows to their canonical text.
func windowsFromProto(in []*accessv1.TimeWindow) (string, error) {
	if len(in) > access.MaxWindows {
		return "", fault.Invalidf("windows", "too_many", "%d windows, at most %d", len(in), access.MaxWindows)
	}
	ws := make([]access.Window, 0, len(in))
	for i, tw := range in {
		var w access.Window
		for _, n := range tw.GetDays() {
			d, ok := access.ISODay(int(n))
			if !ok {
				return "", fault.Invalidf(fmt.Sprintf("windows[%d].days", i), "bad_day", "%d is not a day (1 Monday … 7 Sunday)", n)
			}
			w.Days |= 1 << uint(d)
		}
		var err error
		if w.Start, err = access.ParseClock(tw.GetStartTime()); err != nil {
			return "", fault.Invalidf(fmt.Sprintf("windows[%d].start_time", i), "bad_time", "%v", err)
		}
		if w.End, err = access.ParseClock(tw.GetEndTime()); err != nil {
			return "", fault.Invalidf(fmt.Sprintf("windows[%d].end_time", i), "bad_time", "%v", err)
		}
		if err := w.Validate(); err != nil {
			return "", fault.Invalidf(fmt.Sprintf("windows[%d]", i), "bad_window", "%v", err)
		}
		ws = append(ws, w)
	}
	return access.FormatWindows(ws), nil
}

// permsFromProto converts a role's permissions.
func permsFromProto(in []*accessv1.Permission) (map[access.Perm]access.Scope, error) {
	out := make(map[access.Perm]access.Scope, len(in))
	for i, p := range in {
		field := fmt.Sprintf("permissions[%d]", i)
		perm, ok := access.ParsePerm(p.GetPermission())
		if !ok {
			return nil, fault.Invalidf(field, "unknown_permission", "no permission %q", p.GetPermission())
		}
		if _, dup := out[perm]; dup {
			return nil, fault.Invalidf(field, "duplicate", "%s named twice", perm)
		}
		sc := access.Scope(p.GetScope())
		if sc < access.ScopeNone || sc > access.ScopeAll {
			return nil, fault.Invalidf(field, "bad_scope", "scope %d", p.GetScope())
		}
		out[perm] = sc
	}
	return out, nil
}

// roleFieldsFromProto reads the named fields of a proto role as access fields.
func roleFieldsFromProto(in *accessv1.Role, names []string) (map[string]string, error) {
	out := map[string]string{}
	for _, n := range names {
		switch n {
		case "display_name":
			out[access.FieldRoleName] = in.GetDisplayName()
		case "description":
			out[access.FieldDescription] = in.GetDescription()
		case "time_zone":
			out[access.FieldTimeZone] = in.GetTimeZone()
		case "windows":
			w, err := windowsFromProto(in.GetWindows())
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

func describePerms(perms map[access.Perm]access.Scope) string {
	var parts []string
	for _, p := range access.AllPerms {
		if sc, ok := perms[p]; ok {
			parts = append(parts, string(p)+"="+sc.String())
		}
	}
	return strings.Join(parts, " ")
}

func (s *AccessService) role(id string) (*connect.Response[accessv1.Role], error) {
	r, err := viewResult(s.Store, func(views replication.Tx) (*access.Role, error) { return access.GetRole(views, id) })
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(roleToProto(r)), nil
}

// ListRoles implements AccessService.ListRoles.
func (s *AccessService) ListRoles(ctx context.Context, _ *connect.Request[accessv1.ListRolesRequest]) (*connect.Response[accessv1.ListRolesResponse], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	rs, err := viewResult(s.Store, access.ListRoles)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	resp := &accessv1.ListRolesResponse{}
	for _, r := range rs {
		resp.Roles = append(resp.Roles, roleToProto(r))
	}
	return connect.NewResponse(resp), nil
}

// CreateRole implements AccessService.CreateRole.
func (s *AccessService) CreateRole(ctx context.Context, req *connect.Request[accessv1.CreateRoleRequest]) (*connect.Response[accessv1.Role], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	in := req.Msg.GetRole()
	if in == nil {
		return nil, Error(s.Log, fault.Invalidf("role", "required", "is required"))
	}
	names := []string{"display_name"}
	for _, f := range []struct {
		name string
		set  bool
	}{{"description", in.GetDescription() != ""}, {"time_zone", in.GetTimeZone() != ""}, {"windows", len(in.GetWindows()) > 0}} {
		if f.set {
			names = append(names, f.name)
		}
	}
	fields, err := roleFieldsFromProto(in, names)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	perms, err := permsFromProto(in.GetPermissions())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	id := s.IDs.New(time.Now())
	err = s.change(ctx, req.Peer(), access.ActionPermissionChanged, roleRes+id, func(views replication.Tx) ([]replication.Draft, string, error) {
		d, err := access.CreateRole(views, id, fields, perms)
		return []replication.Draft{d}, fmt.Sprintf("created %q: %s", in.GetDisplayName(), describePerms(perms)), err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return s.role(id)
}

// UpdateRole implements AccessService.UpdateRole.
func (s *AccessService) UpdateRole(ctx context.Context, req *connect.Request[accessv1.UpdateRoleRequest]) (*connect.Response[accessv1.Role], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	in := req.Msg.GetRole()
	if in == nil {
		return nil, Error(s.Log, fault.Invalidf("role", "required", "is required"))
	}
	id, err := accessID("role.name", in.GetName(), roleRes)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	paths := req.Msg.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, Error(s.Log, fault.Invalidf("update_mask", "required", "names no field"))
	}
	fields, err := roleFieldsFromProto(in, paths)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	var perms map[access.Perm]access.Scope
	setPerms := slices.Contains(paths, "permissions")
	if setPerms {
		if perms, err = permsFromProto(in.GetPermissions()); err != nil {
			return nil, Error(s.Log, err)
		}
	}
	err = s.change(ctx, req.Peer(), access.ActionPermissionChanged, roleRes+id, func(views replication.Tx) ([]replication.Draft, string, error) {
		var drafts []replication.Draft
		var details []string
		if len(fields) > 0 {
			d, ok, err := access.UpdateRole(views, id, fields)
			if err != nil {
				return nil, "", err
			}
			if ok {
				drafts = append(drafts, d)
				details = append(details, describeFields(fields))
			}
		}
		if setPerms {
			d, ok, err := access.SetPermissions(views, id, perms)
			if err != nil {
				return nil, "", err
			}
			if ok {
				drafts = append(drafts, d)
				details = append(details, "permissions: "+describePerms(perms))
			}
		}
		return drafts, strings.Join(details, "; "), nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return s.role(id)
}

// ListPermissions implements AccessService.ListPermissions.
func (s *AccessService) ListPermissions(ctx context.Context, _ *connect.Request[accessv1.ListPermissionsRequest]) (*connect.Response[accessv1.ListPermissionsResponse], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	resp := &accessv1.ListPermissionsResponse{}
	for _, p := range access.Catalogue() {
		resp.Permissions = append(resp.Permissions, &accessv1.PermissionInfo{
			Permission: string(p.Perm), Description: p.Description, Scoped: p.Scoped,
		})
	}
	return connect.NewResponse(resp), nil
}
