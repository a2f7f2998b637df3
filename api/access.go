package api

import (
	"context"
	"log/slog"

	"connectrpc.com/connect"

	"branchline/access"
	"branchline/access/accessapp"
	"branchline/app"
	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/gen/branchline/access/v1/accessv1connect"
)

// AccessService implements branchline.access.v1.AccessService on a node
// over the access administration use cases (accessapp.Admin): users,
// departments, roles, personal API tokens and the audit log.
type AccessService struct {
	App    *accessapp.Admin
	Grants app.Grants
	Log    *slog.Logger
}

var _ accessv1connect.AccessServiceHandler = (*AccessService)(nil)

// Resource name prefixes of the access API.
const (
	userRes  = "users/"
	deptRes  = "departments/"
	roleRes  = "roles/"
	tokenRes = "tokens/"
)

// optionalID is nameID for references that may be empty.
func optionalID(prefix, name string) string {
	if name == "" {
		return ""
	}
	return nameID(prefix, name)
}

// Users.

func userPB(u *access.User) *accessv1.User {
	out := &accessv1.User{
		Name: userRes + u.ID, Username: u.Username, DisplayName: u.DisplayName,
		Department: ref(deptRes, u.Department), Phone: u.Phone, Extension: u.Extension,
		Disabled: u.Disabled, MustChangePassword: u.MustChangePassword,
		UsernameOwner: ref(userRes, u.UsernameOwner), Origin: u.Origin,
		CreateTime: ts(app.When(u.Created)), UpdateTime: ts(app.When(u.Updated)),
	}
	for _, r := range u.Roles {
		out.Roles = append(out.Roles, roleRes+r)
	}
	return out
}

// userFields reads the named fields of a proto user as access fields; a
// name UpdateUser does not change is passed on for the use case to
// refuse.
func userFields(in *accessv1.User, names []string) map[string]string {
	if in == nil {
		return nil
	}
	out := make(map[string]string, len(names))
	for _, n := range names {
		switch n {
		case access.FieldUsername:
			out[n] = in.GetUsername()
		case access.FieldDisplayName:
			out[n] = in.GetDisplayName()
		case access.FieldDepartment:
			out[n] = optionalID(deptRes, in.GetDepartment())
		case access.FieldPhone:
			out[n] = in.GetPhone()
		case access.FieldExtension:
			out[n] = in.GetExtension()
		case access.FieldMustChange:
			out[n] = ""
			if in.GetMustChangePassword() {
				out[n] = "1"
			}
		default:
			out[n] = ""
		}
	}
	return out
}

// ListUsers implements AccessService.ListUsers.
func (s *AccessService) ListUsers(ctx context.Context, req *connect.Request[accessv1.ListUsersRequest]) (*connect.Response[accessv1.ListUsersResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.ListUsersRequest) (*accessv1.ListUsersResponse, error) {
		return pb(func(p app.Page[*access.User]) *accessv1.ListUsersResponse {
			return &accessv1.ListUsersResponse{Users: each(p.Items, userPB), NextPageToken: p.Next}
		})(s.App.Users(ctx, c, accessapp.UserQuery{Department: optionalID(deptRes, m.GetDepartment()), ShowDisabled: m.GetShowDisabled(),
			Size: int(m.GetPageSize()), After: m.GetPageToken()}))
	})
}

// GetUser implements AccessService.GetUser.
func (s *AccessService) GetUser(ctx context.Context, req *connect.Request[accessv1.GetUserRequest]) (*connect.Response[accessv1.User], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.GetUserRequest) (*accessv1.User, error) {
		return pb(userPB)(s.App.User(ctx, c, nameID(userRes, m.GetName())))
	})
}

// CreateUser implements AccessService.CreateUser.
func (s *AccessService) CreateUser(ctx context.Context, req *connect.Request[accessv1.CreateUserRequest]) (*connect.Response[accessv1.User], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.CreateUserRequest) (*accessv1.User, error) {
		in := m.GetUser()
		names := []string{access.FieldUsername, access.FieldDisplayName}
		for _, f := range []struct {
			name string
			set  bool
		}{
			{access.FieldDepartment, in.GetDepartment() != ""}, {access.FieldPhone, in.GetPhone() != ""},
			{access.FieldExtension, in.GetExtension() != ""}, {access.FieldMustChange, in.GetMustChangePassword()},
		} {
			if f.set {
				names = append(names, f.name)
			}
		}
		return pb(userPB)(s.App.CreateUser(ctx, c, accessapp.UserCreate{Fields: userFields(in, names), Password: m.GetPassword()}))
	})
}

// UpdateUser implements AccessService.UpdateUser.
func (s *AccessService) UpdateUser(ctx context.Context, req *connect.Request[accessv1.UpdateUserRequest]) (*connect.Response[accessv1.User], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.UpdateUserRequest) (*accessv1.User, error) {
		return pb(userPB)(s.App.UpdateUser(ctx, c, accessapp.UserUpdate{ID: nameID(userRes, m.GetUser().GetName()),
			Fields: userFields(m.GetUser(), m.GetUpdateMask().GetPaths())}))
	})
}

// SetPassword implements AccessService.SetPassword.
func (s *AccessService) SetPassword(ctx context.Context, req *connect.Request[accessv1.SetPasswordRequest]) (*connect.Response[accessv1.User], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.SetPasswordRequest) (*accessv1.User, error) {
		return pb(userPB)(s.App.SetPassword(ctx, c, nameID(userRes, m.GetName()), m.GetPassword(), m.GetMustChangePassword()))
	})
}

// DisableUser implements AccessService.DisableUser.
func (s *AccessService) DisableUser(ctx context.Context, req *connect.Request[accessv1.DisableUserRequest]) (*connect.Response[accessv1.User], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.DisableUserRequest) (*accessv1.User, error) {
		return pb(userPB)(s.App.SetDisabled(ctx, c, nameID(userRes, m.GetName()), true))
	})
}

// EnableUser implements AccessService.EnableUser.
func (s *AccessService) EnableUser(ctx context.Context, req *connect.Request[accessv1.EnableUserRequest]) (*connect.Response[accessv1.User], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.EnableUserRequest) (*accessv1.User, error) {
		return pb(userPB)(s.App.SetDisabled(ctx, c, nameID(userRes, m.GetName()), false))
	})
}

// ListUsernameConflicts implements AccessService.ListUsernameConflicts.
func (s *AccessService) ListUsernameConflicts(ctx context.Context, req *connect.Request[accessv1.ListUsernameConflictsRequest]) (*connect.Response[accessv1.ListUsernameConflictsResponse], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, _ *accessv1.ListUsernameConflictsRequest) (*accessv1.ListUsernameConflictsResponse, error) {
		return pb(func(cs []access.UsernameConflict) *accessv1.ListUsernameConflictsResponse {
			out := &accessv1.ListUsernameConflictsResponse{}
			for _, cf := range cs {
				pc := &accessv1.UsernameConflict{Username: cf.Username, Owner: userRes + cf.Owner}
				for _, l := range cf.Losers {
					pc.Losers = append(pc.Losers, userRes+l)
				}
				out.Conflicts = append(out.Conflicts, pc)
			}
			return out
		})(s.App.UsernameConflicts(ctx, c))
	})
}

// AssignRole implements AccessService.AssignRole.
func (s *AccessService) AssignRole(ctx context.Context, req *connect.Request[accessv1.AssignRoleRequest]) (*connect.Response[accessv1.User], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.AssignRoleRequest) (*accessv1.User, error) {
		return pb(userPB)(s.App.SetRole(ctx, c, nameID(userRes, m.GetUser()), nameID(roleRes, m.GetRole()), true))
	})
}

// UnassignRole implements AccessService.UnassignRole.
func (s *AccessService) UnassignRole(ctx context.Context, req *connect.Request[accessv1.UnassignRoleRequest]) (*connect.Response[accessv1.User], error) {
	return call(ctx, s.Grants, s.Log, req, func(c app.Caller, m *accessv1.UnassignRoleRequest) (*accessv1.User, error) {
		return pb(userPB)(s.App.SetRole(ctx, c, nameID(userRes, m.GetUser()), nameID(roleRes, m.GetRole()), false))
	})
}
