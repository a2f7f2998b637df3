package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"branchline/access"
	"branchline/auth"
	"branchline/fault"
	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/gen/branchline/access/v1/accessv1connect"
	"branchline/replication"
)

// AccessService implements branchline.access.v1.AccessService on a node:
// the administration of users, departments, roles, personal API tokens,
// and the audit log. Every call needs access.UserAdmin (ListAudit:
// access.AuditRead); every change is recorded in the audit log in the same
// transaction as the change.
type AccessService struct {
	Store  Store
	Grants Grants
	IDs    *replication.IDs
	Node   string // this node's id, recorded as the source of audit entries
	// Throttle, when set, slows down guessing the current password when
	// users change their own (ChangeOwnPassword), as it slows logins.
	Throttle Throttle
	Log      *slog.Logger
}

var _ accessv1connect.AccessServiceHandler = (*AccessService)(nil)

// Resource name prefixes of the access API.
const (
	userRes  = "users/"
	deptRes  = "departments/"
	roleRes  = "roles/"
	tokenRes = "tokens/"
)

// accessID returns the id of a resource name "<prefix><ULID>".
func accessID(field, name, prefix string) (string, error) {
	id, ok := strings.CutPrefix(name, prefix)
	if !ok || !replication.ValidULID(id) {
		return "", fault.Invalidf(field, "bad_name", "%q is not a resource name (%s{id})", name, prefix)
	}
	return id, nil
}

// accessOptionalID is accessID for references that may be empty.
func accessOptionalID(field, name, prefix string) (string, error) {
	if name == "" {
		return "", nil
	}
	return accessID(field, name, prefix)
}

func accessRef(prefix, id string) string {
	if id == "" {
		return ""
	}
	return prefix + id
}

func accessTS(h replication.HLC) *timestamppb.Timestamp {
	if h == 0 {
		return nil
	}
	return timestamppb.New(h.Time())
}

// viewResult runs fn on a snapshot of the views and returns its result.
func viewResult[T any](store Store, fn func(views replication.Tx) (T, error)) (T, error) {
	var out T
	err := store.View(func(views replication.Tx) error {
		var err error
		out, err = fn(views)
		return err
	})
	return out, err
}

// change runs one administrative change: the drafts cmd decides and, if
// there are any, the audit entry recording them (action on target, with
// cmd's detail), in one Exec, so that a change is never without its audit
// entry nor an entry without its change.
func (s *AccessService) change(ctx context.Context, peer connect.Peer, action, target string, cmd func(views replication.Tx) ([]replication.Draft, string, error)) error {
	_, err := s.Store.Exec(ctx, actor(ctx), func(views replication.Tx) ([]replication.Draft, error) {
		drafts, detail, err := cmd(views)
		if err != nil || len(drafts) == 0 {
			return nil, err
		}
		return append(drafts, access.AuditDraft(action, target, detail,
			access.WithSource(s.Node, remoteAddr(ctx, peer)))), nil
	})
	return err
}

func (s *AccessService) require(ctx context.Context, p access.Perm) error {
	_, err := Require(ctx, s.Grants, p)
	return err
}

// Users.

func userToProto(u *access.User) *accessv1.User {
	out := &accessv1.User{
		Name: userRes + u.ID, Username: u.Username, DisplayName: u.DisplayName,
		Department: accessRef(deptRes, u.Department), Phone: u.Phone, Extension: u.Extension,
		Disabled: u.Disabled, MustChangePassword: u.MustChangePassword,
		UsernameOwner: accessRef(userRes, u.UsernameOwner), Origin: u.Origin,
		CreateTime: accessTS(u.Created), UpdateTime: accessTS(u.Updated),
	}
	for _, r := range u.Roles {
		out.Roles = append(out.Roles, roleRes+r)
	}
	return out
}

// userFieldsFromProto reads the named fields of a proto user as access fields.
func userFieldsFromProto(in *accessv1.User, names []string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	for _, n := range names {
		switch n {
		case access.FieldUsername:
			out[n] = in.GetUsername()
		case access.FieldDisplayName:
			out[n] = in.GetDisplayName()
		case access.FieldDepartment:
			id, err := accessOptionalID("department", in.GetDepartment(), deptRes)
			if err != nil {
				return nil, err
			}
			out[n] = id
		case access.FieldPhone:
			out[n] = in.GetPhone()
		case access.FieldExtension:
			out[n] = in.GetExtension()
		case access.FieldMustChange:
			out[n] = flagOf(in.GetMustChangePassword())
		default:
			return nil, fault.Invalidf(n, "not_editable", "no such field, or not changed by UpdateUser")
		}
	}
	return out, nil
}

func flagOf(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// describeFields lists field writes for an audit entry.
func describeFields(fields map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, fields[k]))
	}
	return strings.Join(parts, " ")
}

func (s *AccessService) user(id string) (*connect.Response[accessv1.User], error) {
	u, err := viewResult(s.Store, func(views replication.Tx) (*access.User, error) { return access.GetUser(views, id) })
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return connect.NewResponse(userToProto(u)), nil
}

// ListUsers implements AccessService.ListUsers.
func (s *AccessService) ListUsers(ctx context.Context, req *connect.Request[accessv1.ListUsersRequest]) (*connect.Response[accessv1.ListUsersResponse], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	size, err := pageSize(req.Msg.GetPageSize(), 50)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	after := req.Msg.GetPageToken()
	if after != "" && !replication.ValidULID(after) {
		return nil, Error(s.Log, fault.Invalidf("page_token", "bad_token", "not a page token of this list"))
	}
	dept, err := accessOptionalID("department", req.Msg.GetDepartment(), deptRes)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	users, err := viewResult(s.Store, func(views replication.Tx) ([]*access.User, error) {
		var depts []string
		if dept != "" {
			var err error
			if depts, err = access.Descendants(views, dept); err != nil {
				return nil, err
			}
		}
		var out []*access.User
		for cursor := after; len(out) <= size; {
			batch, err := access.ListUsers(views, cursor, 2*size)
			if err != nil {
				return nil, err
			}
			for _, u := range batch {
				if (!u.Disabled || req.Msg.GetShowDisabled()) && (dept == "" || slices.Contains(depts, u.Department)) {
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
		return nil, Error(s.Log, err)
	}
	resp := &accessv1.ListUsersResponse{}
	if len(users) > size {
		users = users[:size]
		resp.NextPageToken = users[size-1].ID
	}
	for _, u := range users {
		resp.Users = append(resp.Users, userToProto(u))
	}
	return connect.NewResponse(resp), nil
}

// GetUser implements AccessService.GetUser.
func (s *AccessService) GetUser(ctx context.Context, req *connect.Request[accessv1.GetUserRequest]) (*connect.Response[accessv1.User], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	id, err := accessID("name", req.Msg.GetName(), userRes)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return s.user(id)
}

// CreateUser implements AccessService.CreateUser.
func (s *AccessService) CreateUser(ctx context.Context, req *connect.Request[accessv1.CreateUserRequest]) (*connect.Response[accessv1.User], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	in := req.Msg.GetUser()
	if in == nil {
		return nil, Error(s.Log, fault.Invalidf("user", "required", "is required"))
	}
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
	fields, err := userFieldsFromProto(in, names)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	hash, err := access.HashPassword(req.Msg.GetPassword())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	id := s.IDs.New(time.Now())
	detail := describeFields(fields)
	err = s.change(ctx, req.Peer(), access.ActionUserCreated, userRes+id, func(views replication.Tx) ([]replication.Draft, string, error) {
		d, err := access.CreateUser(views, id, fields, hash)
		return []replication.Draft{d}, detail, err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return s.user(id)
}

// UpdateUser implements AccessService.UpdateUser.
func (s *AccessService) UpdateUser(ctx context.Context, req *connect.Request[accessv1.UpdateUserRequest]) (*connect.Response[accessv1.User], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	in := req.Msg.GetUser()
	if in == nil {
		return nil, Error(s.Log, fault.Invalidf("user", "required", "is required"))
	}
	id, err := accessID("user.name", in.GetName(), userRes)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	paths := req.Msg.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, Error(s.Log, fault.Invalidf("update_mask", "required", "names no field"))
	}
	fields, err := userFieldsFromProto(in, paths)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	err = s.change(ctx, req.Peer(), access.ActionUserChanged, userRes+id, func(views replication.Tx) ([]replication.Draft, string, error) {
		d, ok, err := access.UpdateUser(views, id, fields)
		if err != nil || !ok {
			return nil, "", err
		}
		return []replication.Draft{d}, describeFields(fields), nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return s.user(id)
}

// SetPassword implements AccessService.SetPassword.
func (s *AccessService) SetPassword(ctx context.Context, req *connect.Request[accessv1.SetPasswordRequest]) (*connect.Response[accessv1.User], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	id, err := accessID("name", req.Msg.GetName(), userRes)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	hash, err := access.HashPassword(req.Msg.GetPassword())
	if err != nil {
		return nil, Error(s.Log, err)
	}
	mustChange := req.Msg.GetMustChangePassword()
	err = s.change(ctx, req.Peer(), access.ActionPasswordChanged, userRes+id, func(views replication.Tx) ([]replication.Draft, string, error) {
		d, err := access.SetPassword(views, id, hash, mustChange)
		return []replication.Draft{d}, fmt.Sprintf("password set by an administrator, must_change_password=%v", mustChange), err
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return s.user(id)
}

// ChangeOwnPassword sets the signed-in user's own password and clears
// their must_change_password: the one use case behind the API's
// AuthService.ChangePassword and the web UI's password page. The current
// password must be right — a wrong one counts against the throttle, as a
// failed login does — and the new one must differ from it; the change is
// audited. The node's local accounts are not replicated users and keep
// their password.
func (s *AccessService) ChangeOwnPassword(ctx context.Context, current, next string) error {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return fault.ErrUnauthenticated
	}
	if access.Reserved(p.User) {
		return fmt.Errorf("%w: %s is a local account of this node, not a company user", fault.ErrDenied, p.User)
	}
	switch {
	case current == "":
		return fault.Invalidf("current_password", "required", "is required")
	case next == "":
		return fault.Invalidf("new_password", "required", "is required")
	case next == current:
		return fault.Invalidf("new_password", "same_password", "the new password must differ from the current one")
	}
	remote, now := RemoteAddrFrom(ctx), time.Now()
	if s.Throttle != nil {
		if wait := s.Throttle.Allow(p.User, remote, now); wait > 0 {
			return fmt.Errorf("%w: try again in %s", fault.ErrTooMany, wait.Round(time.Second))
		}
	}
	u, err := viewResult(s.Store, func(views replication.Tx) (*access.User, error) {
		return access.Authenticate(views, p.User, current)
	})
	wrong := errors.Is(err, auth.ErrBadCredentials)
	if s.Throttle != nil && (err == nil || wrong) {
		s.Throttle.Result(p.User, remote, err == nil, now)
	}
	if wrong {
		return fault.Invalidf("current_password", "wrong_password", "the current password is wrong")
	}
	if err != nil {
		return err
	}
	hash, err := access.HashPassword(next)
	if inv, ok := fault.AsInvalid(err); ok {
		return &fault.Invalid{Field: "new_password", Code: inv.Code, Detail: inv.Detail}
	}
	if err != nil {
		return err
	}
	return s.change(ctx, connect.Peer{}, access.ActionPasswordChanged, userRes+u.ID, func(views replication.Tx) ([]replication.Draft, string, error) {
		d, err := access.SetPassword(views, u.ID, hash, false)
		return []replication.Draft{d}, "password changed by the user", err
	})
}

func (s *AccessService) setDisabled(ctx context.Context, peer connect.Peer, name string, disabled bool) (*connect.Response[accessv1.User], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	id, err := accessID("name", name, userRes)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	action := access.ActionUserEnabled
	if disabled {
		action = access.ActionUserDisabled
	}
	err = s.change(ctx, peer, action, userRes+id, func(views replication.Tx) ([]replication.Draft, string, error) {
		d, ok, err := access.SetDisabled(views, id, disabled)
		if err != nil || !ok {
			return nil, "", err
		}
		return []replication.Draft{d}, "", nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return s.user(id)
}

// DisableUser implements AccessService.DisableUser.
func (s *AccessService) DisableUser(ctx context.Context, req *connect.Request[accessv1.DisableUserRequest]) (*connect.Response[accessv1.User], error) {
	return s.setDisabled(ctx, req.Peer(), req.Msg.GetName(), true)
}

// EnableUser implements AccessService.EnableUser.
func (s *AccessService) EnableUser(ctx context.Context, req *connect.Request[accessv1.EnableUserRequest]) (*connect.Response[accessv1.User], error) {
	return s.setDisabled(ctx, req.Peer(), req.Msg.GetName(), false)
}

// ListUsernameConflicts implements AccessService.ListUsernameConflicts.
func (s *AccessService) ListUsernameConflicts(ctx context.Context, _ *connect.Request[accessv1.ListUsernameConflictsRequest]) (*connect.Response[accessv1.ListUsernameConflictsResponse], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	cs, err := viewResult(s.Store, access.UsernameConflicts)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	resp := &accessv1.ListUsernameConflictsResponse{}
	for _, c := range cs {
		pc := &accessv1.UsernameConflict{Username: c.Username, Owner: userRes + c.Owner}
		for _, l := range c.Losers {
			pc.Losers = append(pc.Losers, userRes+l)
		}
		resp.Conflicts = append(resp.Conflicts, pc)
	}
	return connect.NewResponse(resp), nil
}

// AssignRole implements AccessService.AssignRole.
func (s *AccessService) AssignRole(ctx context.Context, req *connect.Request[accessv1.AssignRoleRequest]) (*connect.Response[accessv1.User], error) {
	return s.assign(ctx, req.Peer(), req.Msg.GetUser(), req.Msg.GetRole(), true)
}

// UnassignRole implements AccessService.UnassignRole.
func (s *AccessService) UnassignRole(ctx context.Context, req *connect.Request[accessv1.UnassignRoleRequest]) (*connect.Response[accessv1.User], error) {
	return s.assign(ctx, req.Peer(), req.Msg.GetUser(), req.Msg.GetRole(), false)
}

func (s *AccessService) assign(ctx context.Context, peer connect.Peer, user, role string, add bool) (*connect.Response[accessv1.User], error) {
	if err := s.require(ctx, access.UserAdmin); err != nil {
		return nil, err
	}
	id, err := accessID("user", user, userRes)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	roleID, err := accessID("role", role, roleRes)
	if err != nil {
		return nil, Error(s.Log, err)
	}
	err = s.change(ctx, peer, access.ActionRoleChanged, userRes+id, func(views replication.Tx) ([]replication.Draft, string, error) {
		var d replication.Draft
		var ok bool
		var err error
		verb := "assigned"
		if add {
			d, ok, err = access.AssignRole(views, id, roleID)
		} else {
			d, ok, err = access.UnassignRole(views, id, roleID)
			verb = "unassigned"
		}
		if err != nil || !ok {
			return nil, "", err
		}
		return []replication.Draft{d}, verb + " " + roleRes + roleID, nil
	})
	if err != nil {
		return nil, Error(s.Log, err)
	}
	return s.user(id)
}
