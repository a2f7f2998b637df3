package api

import (
	"context"

	"connectrpc.com/connect"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/app"
	accessv1 "branchline/gen/branchline/access/v1"
)

// Departments and roles of the AccessService.

func departmentPB(d *access.Department) *accessv1.Department {
	return &accessv1.Department{
		Name: deptRes + d.ID, DisplayName: d.Name, Parent: ref(deptRes, d.Parent),
		Retired: d.Retired, Origin: d.Origin, CreateTime: ts(app.When(d.Created)), UpdateTime: ts(app.When(d.Updated)),
	}
}

// ListDepartments implements AccessService.ListDepartments.
func (s *AccessService) ListDepartments(ctx context.Context, req *connect.Request[accessv1.ListDepartmentsRequest]) (*connect.Response[accessv1.ListDepartmentsResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.ListDepartmentsRequest) (*accessv1.ListDepartmentsResponse, error) {
		return pb(func(ds []*access.Department) *accessv1.ListDepartmentsResponse {
			return &accessv1.ListDepartmentsResponse{Departments: each(ds, departmentPB)}
		})(s.App.Departments(ctx, c, m.GetShowRetired()))
	})
}

// CreateDepartment implements AccessService.CreateDepartment.
func (s *AccessService) CreateDepartment(ctx context.Context, req *connect.Request[accessv1.CreateDepartmentRequest]) (*connect.Response[accessv1.Department], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.CreateDepartmentRequest) (*accessv1.Department, error) {
		var in *accessapp.DepartmentCreate
		if d := m.GetDepartment(); d != nil {
			in = &accessapp.DepartmentCreate{Name: d.GetDisplayName(), Parent: optionalID(deptRes, d.GetParent())}
		}
		return pb(departmentPB)(s.App.CreateDepartment(ctx, c, in))
	})
}

// UpdateDepartment implements AccessService.UpdateDepartment.
func (s *AccessService) UpdateDepartment(ctx context.Context, req *connect.Request[accessv1.UpdateDepartmentRequest]) (*connect.Response[accessv1.Department], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.UpdateDepartmentRequest) (*accessv1.Department, error) {
		var in *accessapp.DepartmentUpdate
		if d := m.GetDepartment(); d != nil {
			in = &accessapp.DepartmentUpdate{ID: nameID(deptRes, d.GetName()), Name: d.GetDisplayName(), Retired: d.GetRetired(),
				Paths: m.GetUpdateMask().GetPaths()}
		}
		return pb(departmentPB)(s.App.UpdateDepartment(ctx, c, in))
	})
}

// MoveDepartment implements AccessService.MoveDepartment.
func (s *AccessService) MoveDepartment(ctx context.Context, req *connect.Request[accessv1.MoveDepartmentRequest]) (*connect.Response[accessv1.Department], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.MoveDepartmentRequest) (*accessv1.Department, error) {
		return pb(departmentPB)(s.App.MoveDepartment(ctx, c, nameID(deptRes, m.GetName()), optionalID(deptRes, m.GetParent())))
	})
}

// Roles.

func rolePB(r *access.Role) *accessv1.Role {
	out := &accessv1.Role{
		Name: roleRes + r.ID, DisplayName: r.Name, Description: r.Description, TimeZone: r.TimeZone,
		Origin: r.Origin, CreateTime: ts(app.When(r.Created)), UpdateTime: ts(app.When(r.Updated)),
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

// roleIn translates a proto role (nil: none); paths name what an update
// changes.
func roleIn(in *accessv1.Role, paths []string) *accessapp.RoleInput {
	if in == nil {
		return nil
	}
	out := &accessapp.RoleInput{ID: nameID(roleRes, in.GetName()), Name: in.GetDisplayName(), Description: in.GetDescription(),
		TimeZone: in.GetTimeZone(), Paths: paths}
	for _, w := range in.GetWindows() {
		wi := accessapp.WindowInput{Start: w.GetStartTime(), End: w.GetEndTime()}
		for _, d := range w.GetDays() {
			wi.Days = append(wi.Days, int(d))
		}
		out.Windows = append(out.Windows, wi)
	}
	for _, p := range in.GetPermissions() {
		out.Permissions = append(out.Permissions, accessapp.PermInput{Perm: p.GetPermission(), Scope: access.Scope(p.GetScope())})
	}
	return out
}

// ListRoles implements AccessService.ListRoles.
func (s *AccessService) ListRoles(ctx context.Context, req *connect.Request[accessv1.ListRolesRequest]) (*connect.Response[accessv1.ListRolesResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, _ *accessv1.ListRolesRequest) (*accessv1.ListRolesResponse, error) {
		return pb(func(rs []*access.Role) *accessv1.ListRolesResponse {
			return &accessv1.ListRolesResponse{Roles: each(rs, rolePB)}
		})(s.App.Roles(ctx, c))
	})
}

// CreateRole implements AccessService.CreateRole.
func (s *AccessService) CreateRole(ctx context.Context, req *connect.Request[accessv1.CreateRoleRequest]) (*connect.Response[accessv1.Role], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.CreateRoleRequest) (*accessv1.Role, error) {
		return pb(rolePB)(s.App.CreateRole(ctx, c, roleIn(m.GetRole(), nil)))
	})
}

// UpdateRole implements AccessService.UpdateRole.
func (s *AccessService) UpdateRole(ctx context.Context, req *connect.Request[accessv1.UpdateRoleRequest]) (*connect.Response[accessv1.Role], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.UpdateRoleRequest) (*accessv1.Role, error) {
		return pb(rolePB)(s.App.UpdateRole(ctx, c, roleIn(m.GetRole(), m.GetUpdateMask().GetPaths())))
	})
}

// ListPermissions implements AccessService.ListPermissions.
func (s *AccessService) ListPermissions(ctx context.Context, req *connect.Request[accessv1.ListPermissionsRequest]) (*connect.Response[accessv1.ListPermissionsResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, _ *accessv1.ListPermissionsRequest) (*accessv1.ListPermissionsResponse, error) {
		return pb(func(ps []access.PermInfo) *accessv1.ListPermissionsResponse {
			out := &accessv1.ListPermissionsResponse{}
			for _, p := range ps {
				out.Permissions = append(out.Permissions, &accessv1.PermissionInfo{Permission: string(p.Perm), Description: p.Description, Scoped: p.Scoped})
			}
			return out
		})(s.App.Permissions(ctx, c))
	})
}
